package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/foundation-go/foundation/actor"
)

// Balancer chooses which instance of a service gets a message. Its choice
// is a pure function of its inputs (the routable instances, this member's
// id, the calls in flight per instance, a counter or a key), table-tested
// on its own.
type Balancer interface {
	pick(in pickInput) int
}

// pickInput is what a Balancer sees: the candidates (this member's
// first), the message, and the client's bookkeeping.
type pickInput struct {
	insts    []Instance
	self     string
	msg      any
	turn     uint64            // a counter that grows by one per pick
	inflight func(i int) int64 // calls in flight to candidate i
	random   func(n int) int
}

type roundRobin struct{}

// RoundRobin gives each message to the next instance in turn.
func RoundRobin() Balancer { return roundRobin{} }

func (roundRobin) pick(in pickInput) int { return int(in.turn % uint64(len(in.insts))) }

type random struct{}

// Random gives each message to an instance drawn uniformly.
func Random() Balancer { return random{} }

func (random) pick(in pickInput) int { return in.random(len(in.insts)) }

type leastInFlight struct{}

// LeastInFlight gives each call to the instance with the fewest calls of
// this client still waiting for a reply (ties: this member's first, then in
// turn).
func LeastInFlight() Balancer { return leastInFlight{} }

func (leastInFlight) pick(in pickInput) int {
	n := len(in.insts)
	best, bestV := -1, int64(0)
	for k := 0; k < n; k++ {
		i := int((in.turn + uint64(k)) % uint64(n))
		v := in.inflight(i)
		if best < 0 || v < bestV || (v == bestV && in.insts[i].local(in.self) && !in.insts[best].local(in.self)) {
			best, bestV = i, v
		}
	}
	return best
}

type preferLocal struct{ then Balancer }

// PreferLocal gives each message to an instance on this member when there
// is one (balanced among them by then), else to one elsewhere chosen by
// then. Nil then: RoundRobin.
func PreferLocal(then Balancer) Balancer {
	if then == nil {
		then = RoundRobin()
	}
	return preferLocal{then}
}

func (p preferLocal) pick(in pickInput) int {
	n := 0
	for n < len(in.insts) && in.insts[n].local(in.self) {
		n++ // instances are this member's first
	}
	if n > 0 {
		sub := in
		sub.insts = in.insts[:n]
		return p.then.pick(sub)
	}
	return p.then.pick(in)
}

type consistentHash struct{ key func(msg any) string }

// ConsistentHash gives messages with the same key to the same instance
// while the instances do not change (rendezvous hashing: an instance that
// comes or goes moves only its own share of the keys). key extracts the
// key from a message.
func ConsistentHash(key func(msg any) string) Balancer { return consistentHash{key} }

func (c consistentHash) pick(in pickInput) int {
	k := c.key(in.msg)
	best, bestW := 0, uint64(0)
	for i, inst := range in.insts {
		if w := mix(hashString(hashString(0xcbf29ce484222325, inst.ID()), k)); i == 0 || w > bestW {
			best, bestW = i, w
		}
	}
	return best
}

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	h ^= 0xff
	h *= 0x100000001b3
	return h
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Client sends to the instances of one service through a Balancer. It is
// safe for concurrent use; make one per service and keep it.
type Client struct {
	r        *Registry
	name     string
	b        Balancer
	turn     atomic.Uint64
	inflight sync.Map // instance id -> *atomic.Int64
}

// Name is the service the client calls.
func (c *Client) Name() string { return c.name }

// Client returns a client of service name balanced by b (nil: RoundRobin).
func (r *Registry) Client(name string, b Balancer) (*Client, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if b == nil {
		b = RoundRobin()
	}
	if ch, ok := b.(consistentHash); ok && ch.key == nil {
		return nil, fmt.Errorf("%w: ConsistentHash needs a key function", ErrInvalid)
	}
	return &Client{r: r, name: name, b: b}, nil
}

func (c *Client) counter(id string) *atomic.Int64 {
	if v, ok := c.inflight.Load(id); ok {
		return v.(*atomic.Int64)
	}
	v, _ := c.inflight.LoadOrStore(id, &atomic.Int64{})
	return v.(*atomic.Int64)
}

// choose picks an instance among insts minus those in skip.
func (c *Client) choose(msg any, skip map[string]bool) (Instance, bool) {
	all := c.r.snapshot(c.name).instances
	insts := all
	if len(skip) > 0 {
		insts = make([]Instance, 0, len(all))
		for _, i := range all {
			if !skip[i.ID()] {
				insts = append(insts, i)
			}
		}
	}
	if len(insts) == 0 {
		return Instance{}, false
	}
	i := c.b.pick(pickInput{
		insts: insts, self: c.r.self, msg: msg, turn: c.turn.Add(1) - 1,
		inflight: func(i int) int64 { return c.counter(insts[i].ID()).Load() },
		random:   func(n int) int { return rand.IntN(n) },
	})
	return insts[i], true
}

// Tell sends msg to one instance, at most once, without waiting, with the
// headers ctx carries (actor.WithHeaders). ErrUnknownService when the
// service has no routable instance; actor.ErrNotSerializable when the
// instance chosen is on another member and msg is not a protobuf message.
func (c *Client) Tell(ctx context.Context, msg any) error {
	inst, ok := c.choose(msg, nil)
	if !ok {
		return fmt.Errorf("%w: %q has no routable instance", ErrUnknownService, c.name)
	}
	return c.r.sys.Send(ctx, inst.PID, msg)
}

// Call sends msg to one instance and returns its reply (an R). When the
// chosen instance's process is gone (actor.ErrNoProcess: the call was not
// delivered) it tries another, until the instances run out or ctx ends;
// any other error — the handler's, a timeout, a crash while handling — is
// returned as is: the call is at most once.
func Call[R any](ctx context.Context, c *Client, msg any) (R, error) {
	var zero R
	var skip map[string]bool
	for {
		inst, ok := c.choose(msg, skip)
		if !ok {
			return zero, fmt.Errorf("%w: %q has no routable instance left", ErrUnknownService, c.name)
		}
		n := c.counter(inst.ID())
		n.Add(1)
		r, err := actor.Call[R](ctx, c.r.sys, inst.PID, msg)
		n.Add(-1)
		if err == nil || !errors.Is(err, actor.ErrNoProcess) || errors.Is(err, actor.ErrExited) {
			return r, err
		}
		if skip == nil {
			skip = map[string]bool{}
		}
		skip[inst.ID()] = true
		if ctx.Err() != nil {
			return zero, err
		}
	}
}
