package router

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/foundation-go/foundation/actor"
)

// Router routes messages over a set of routees, on the caller's goroutine:
// Tell and Call pick a routee with the router's Strategy and send to it
// directly, as actor.System.Tell and actor.Call do. There is no router
// process in the message path, no lock and, for the strategies of this
// package, no allocation: a Tell is one atomic load of the routee Snapshot,
// the Strategy's pick (for RoundRobin one atomic add) and the send.
//
// A Router is safe for concurrent use; it holds no goroutine and needs no
// Stop (a Pool does). Build it with New.
type Router struct {
	sys      *actor.System
	src      Routees
	strategy Strategy
	clock    actor.Clock
	count    *counter // messages routed, for a Pool's resizer; nil otherwise
}

// Option configures New. Options are sealed: build them with the With…
// functions of this package.
type Option interface{ apply(*Router) error }

type optionFunc func(*Router) error

func (f optionFunc) apply(r *Router) error { return f(r) }

// WithClock sets the clock TailChop measures its intervals on. Default: the
// system's clock (actor.System.Clock).
func WithClock(c actor.Clock) Option {
	return optionFunc(func(r *Router) error {
		if c == nil {
			return fmt.Errorf("%w: WithClock: clock is nil", ErrInvalid)
		}
		r.clock = c
		return nil
	})
}

// counted is implemented by routee sources that want to know how many
// messages are routed to them (a Pool with a resizer).
type counted interface {
	routedCounter() *counter
}

// counter counts messages routed and wakes a resizer every `every`.
type counter struct {
	n     atomic.Uint64
	every uint64 // 0: never
	kick  chan struct{}
}

func (c *counter) add() {
	n := c.n.Add(1)
	if c.every > 0 && n%c.every == 0 {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// New returns a Router over the routees of src, choosing with strategy
// (nil: RoundRobin). src may be a Group, a Pool or any Routees. A nil sys or
// src is ErrInvalid; a strategy with bad arguments returns its error
// (ErrNoKeyFunc for ConsistentHash(nil)).
func New(sys *actor.System, src Routees, strategy Strategy, opts ...Option) (*Router, error) {
	if sys == nil {
		return nil, fmt.Errorf("%w: New: system is nil", ErrInvalid)
	}
	switch v := src.(type) {
	case nil:
		return nil, fmt.Errorf("%w: New: routee source is nil; want a Group, a Pool or a Routees", ErrInvalid)
	case *Group:
		if v == nil {
			return nil, fmt.Errorf("%w: New: routee source is a nil *Group", ErrInvalid)
		}
	case *Pool:
		if v == nil {
			return nil, fmt.Errorf("%w: New: routee source is a nil *Pool", ErrInvalid)
		}
	}
	strategy, err := resolveStrategy(sys, strategy)
	if err != nil {
		return nil, err
	}
	r := &Router{sys: sys, src: src, strategy: strategy}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(r); err != nil {
			return nil, err
		}
	}
	if r.clock == nil {
		r.clock = sys.Clock()
	}
	if c, ok := src.(counted); ok {
		r.count = c.routedCounter()
	}
	return r, nil
}

func resolveStrategy(sys *actor.System, s Strategy) (Strategy, error) {
	if s == nil {
		return RoundRobin(), nil
	}
	if b, ok := s.(binder); ok {
		s = b.bind(sys)
	}
	if v, ok := s.(validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Routees returns the router's current routees.
func (r *Router) Routees() Snapshot { return r.routees() }

// routees loads the current routees; a Group's or a Pool's without an
// interface call.
func (r *Router) routees() Snapshot {
	switch src := r.src.(type) {
	case *Group:
		return src.s.load()
	case *Pool:
		return src.members.load()
	}
	return r.src.Routees()
}

// pick chooses the routee of msg: the index into the snapshot it returns.
// RoundRobin, the common case, is picked without an interface call.
func (r *Router) pick(msg any) (Snapshot, int, error) {
	if r == nil {
		return Snapshot{}, 0, fmt.Errorf("%w: router is nil", ErrInvalid)
	}
	rs := r.routees()
	n := len(rs.PIDs)
	if n == 0 {
		return rs, 0, ErrNoRoutees
	}
	var i int
	if rr, ok := r.strategy.(*roundRobin); ok {
		i = roundRobinIndex(rr.next.Add(1)-1, n)
	} else {
		var err error
		if i, err = r.strategy.Pick(msg, rs); err != nil {
			return rs, 0, err
		}
		if uint(i) >= uint(n) {
			return rs, 0, fmt.Errorf("%w: %T picked %d of %d routees", ErrBadPick, r.strategy, i, n)
		}
	}
	if r.count != nil {
		r.count.add()
	}
	return rs, i, nil
}

// Tell sends msg to one routee chosen by the strategy, without waiting
// (actor.System.Tell). It returns ErrNoRoutees when there is none, the
// strategy's error (ErrNoKey), or actor.ErrStopped when the system is not
// running; otherwise nil (a routee that has died drops the message to dead
// letters, as Tell to a dead process does).
func (r *Router) Tell(msg any) error {
	rs, i, err := r.pick(msg)
	if err != nil {
		return err
	}
	if !r.sys.Running() {
		return actor.ErrStopped
	}
	r.sys.Tell(rs.PIDs[i], msg)
	return nil
}

// Broadcast sends msg to every routee (Akka's Broadcast), without waiting.
// It returns ErrNoRoutees when there is none.
func (r *Router) Broadcast(msg any) error {
	if r == nil {
		return fmt.Errorf("%w: router is nil", ErrInvalid)
	}
	rs := r.routees()
	if len(rs.PIDs) == 0 {
		return ErrNoRoutees
	}
	if !r.sys.Running() {
		return actor.ErrStopped
	}
	if r.count != nil {
		r.count.add()
	}
	for _, pid := range rs.PIDs {
		r.sys.Tell(pid, msg)
	}
	return nil
}

// Call sends msg to one routee chosen by r's strategy and waits for its
// reply of type R, exactly as actor.Call does (same errors: ErrTimeout,
// ErrCanceled, ErrNoProcess, ErrBadReply, the handler's error), plus
// ErrNoRoutees and the strategy's error. It is not retried on another
// routee: see TailChop for that.
func Call[R any](ctx context.Context, r *Router, msg any) (R, error) {
	rs, i, err := r.pick(msg)
	if err != nil {
		var zero R
		return zero, err
	}
	return actor.Call[R](ctx, r.sys, rs.PIDs[i], msg)
}

// ScatterGather sends msg to every routee at once and returns the first
// successful reply of type R (Akka's scatter-gather-first-completed); the
// other calls are abandoned (their replies are dropped). A routee that
// answers with an error does not end the call: it ends when one succeeds,
// when all have failed (ErrAllFailed, wrapping their errors), or when ctx
// ends (actor.ErrTimeout or actor.ErrCanceled). Bound it with a deadline:
// routees that never answer make it wait for ctx.
//
// Each routee is called on a goroutine of its own, started and waited for
// by ScatterGather: none is left running when it returns.
func ScatterGather[R any](ctx context.Context, r *Router, msg any) (R, error) {
	var zero R
	if r == nil {
		return zero, fmt.Errorf("%w: router is nil", ErrInvalid)
	}
	rs := r.routees()
	if len(rs.PIDs) == 0 {
		return zero, ErrNoRoutees
	}
	if r.count != nil {
		r.count.add()
	}
	return race[R](ctx, r, msg, rs.PIDs, 0, "scatter-gather")
}

// TailChop sends msg to one routee chosen by r's strategy and, every
// interval without a successful reply, to the next routee too (in the
// snapshot's order after the first), returning the first successful reply
// of type R (Akka's tail-chopping router). A routee that answers with an
// error does not wait out its interval: if no other attempt is in flight,
// the next routee is tried at once. It ends at the first success, when
// every routee has failed (ErrAllFailed), or when ctx ends (actor.ErrTimeout
// — Akka's "within" is ctx's deadline). interval must be > 0 (ErrInvalid);
// it runs on the router's clock (WithClock).
//
// As ScatterGather, it waits for the goroutines it starts before returning.
func TailChop[R any](ctx context.Context, r *Router, msg any, interval time.Duration) (R, error) {
	var zero R
	if interval <= 0 {
		return zero, fmt.Errorf("%w: TailChop: interval is %v; want > 0 (ScatterGather sends to all at once)", ErrInvalid, interval)
	}
	rs, first, err := r.pick(msg)
	if err != nil {
		return zero, err
	}
	n := len(rs.PIDs)
	order := make([]*actor.PID, n)
	for j := range order {
		k := first + j
		if k >= n {
			k -= n
		}
		order[j] = rs.PIDs[k]
	}
	return race[R](ctx, r, msg, order, interval, "tail-chopping")
}

// ctxErr is a context's end as actor.Call reports it.
func ctxErr(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: %w", actor.ErrTimeout, what, err)
	}
	return fmt.Errorf("%w: %s: %w", actor.ErrCanceled, what, err)
}
