package clustertest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/provider"
)

// Options configures a test cluster. Zero values are the defaults.
type Options struct {
	// Name is the cluster name. Default "clustertest".
	Name string
	// Secret is the shared secret. Default "clustertest-secret".
	Secret string
	// HeartbeatInterval, SuspectAfter, RemoveAfter: membership timing.
	// Defaults: the development profile's (100ms, 300ms, 200ms).
	HeartbeatInterval, SuspectAfter, RemoveAfter time.Duration
	// Logger: default zaptest at info level.
	Logger *zap.Logger
	// Kinds hosted by every member.
	Kinds []string
	// Layer, when set, makes a Layer for each new member (its index in
	// the order of starts): something built on the member, such as grains.
	Layer func(index int) Layer
}

// Layer is something built on a member that starts and stops with it.
// Prepare runs after the member's System started and before its Membership
// exists, and may add labels (and kinds) to the member; Start runs once the
// membership has started; Stop runs first when the member stops gracefully,
// Abort when it is killed.
type Layer interface {
	Prepare(m *Member, self *cluster.Member) error
	Start(m *Member) error
	Stop(ctx context.Context) error
	Abort()
}

func (o Options) withDefaults(t testing.TB) Options {
	if o.Name == "" {
		o.Name = "clustertest"
	}
	if o.Secret == "" {
		o.Secret = "clustertest-secret"
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = 100 * time.Millisecond
	}
	if o.SuspectAfter == 0 {
		o.SuspectAfter = 300 * time.Millisecond
	}
	if o.RemoveAfter == 0 {
		o.RemoveAfter = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	return o
}

// Cluster is N members in one test process, on 127.0.0.1 with free ports,
// connected through a fault-injecting Network.
type Cluster struct {
	t       testing.TB
	opts    Options
	Network *Network
	seeds   *seedList

	mu      sync.Mutex
	members []*Member
	started int
}

// Member is one member: its actor System and its Membership.
type Member struct {
	System     *actor.System
	Membership *cluster.Membership
	Address    string
	// Index is the member's place in the order of starts (0 first).
	Index int
	// Layer is Options.Layer's layer for this member, or nil.
	Layer   Layer
	stopped atomic.Bool
}

// Start starts n members that know each other's addresses (a static seed
// list) and waits until every member sees all n. Everything is stopped when
// the test ends.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, opts: opts.withDefaults(t), Network: NewNetwork(), seeds: &seedList{}}
	t.Cleanup(c.stopAll)
	for i := 0; i < n; i++ {
		if _, err := c.Add(); err != nil {
			t.Fatalf("clustertest: starting member %d: %v", i, err)
		}
	}
	c.WaitMembers(n, 10*time.Second)
	return c
}

// Add starts one more member and returns it (it joins on its own).
func (c *Cluster) Add() (*Member, error) {
	return c.add("127.0.0.1:0")
}

func (c *Cluster) add(addr string) (*Member, error) {
	o := c.opts
	sys, err := actor.NewSystem(actor.WithRemote(addr), actor.WithLogger(o.Logger))
	if err != nil {
		return nil, err
	}
	if err := sys.Start(context.Background()); err != nil {
		return nil, err
	}
	address := sys.Address()
	c.mu.Lock()
	m := &Member{System: sys, Address: address, Index: c.started}
	c.started++
	c.mu.Unlock()
	self := cluster.Member{Address: address, Kinds: slices.Clone(o.Kinds), Labels: map[string]string{}}
	if o.Layer != nil {
		m.Layer = o.Layer(m.Index)
		if err := m.Layer.Prepare(m, &self); err != nil {
			_ = sys.Stop(context.Background())
			return nil, err
		}
	}
	tr, err := cluster.ListenUDP(address)
	if err != nil {
		_ = sys.Stop(context.Background())
		return nil, err
	}
	ms, err := cluster.NewMembership(cluster.MembershipConfig{
		Cluster:           o.Name,
		Secret:            []byte(o.Secret),
		Self:              self,
		HeartbeatInterval: o.HeartbeatInterval,
		SuspectAfter:      o.SuspectAfter,
		RemoveAfter:       o.RemoveAfter,
		Logger:            o.Logger,
		Transport:         c.Network.Wrap(tr),
	}, c.seeds.provider())
	if err != nil {
		_ = tr.Close()
		_ = sys.Stop(context.Background())
		return nil, err
	}
	c.seeds.add(address)
	if err := ms.Start(context.Background()); err != nil {
		_ = sys.Stop(context.Background())
		return nil, err
	}
	m.Membership = ms
	if m.Layer != nil {
		if err := m.Layer.Start(m); err != nil {
			m.Layer.Abort()
			_ = ms.Stop(context.Background())
			_ = sys.Stop(context.Background())
			return nil, err
		}
	}
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
	return m, nil
}

// Members returns every member started so far, stopped ones included.
func (c *Cluster) Members() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Member(nil), c.members...)
}

// Member returns the i-th member started.
func (c *Cluster) Member(i int) *Member { return c.Members()[i] }

// Running returns the members not stopped or killed.
func (c *Cluster) Running() []*Member {
	var out []*Member
	for _, m := range c.Members() {
		if !m.stopped.Load() {
			out = append(out, m)
		}
	}
	return out
}

// Stop stops member i gracefully (its peers see it leave).
func (c *Cluster) Stop(i int) {
	m := c.Member(i)
	if !m.stopped.CompareAndSwap(false, true) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if m.Layer != nil {
		if err := m.Layer.Stop(ctx); err != nil {
			c.t.Errorf("clustertest: stopping member %d's layer: %v", i, err)
		}
	}
	if err := m.Membership.Stop(ctx); err != nil {
		c.t.Errorf("clustertest: stopping member %d: %v", i, err)
	}
	if err := m.System.Stop(ctx); err != nil {
		c.t.Errorf("clustertest: stopping member %d's system: %v", i, err)
	}
}

// Kill stops member i as a crash would: no leave is announced.
func (c *Cluster) Kill(i int) {
	m := c.Member(i)
	if !m.stopped.CompareAndSwap(false, true) {
		return
	}
	if m.Layer != nil {
		m.Layer.Abort()
	}
	m.Membership.Abort()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.System.Stop(ctx)
}

// Restart starts a new run of killed or stopped member i at the same
// address; it joins under a new member id. It returns the new member.
func (c *Cluster) Restart(i int) (*Member, error) {
	old := c.Member(i)
	if !old.stopped.Load() {
		c.Kill(i)
	}
	return c.add(old.Address)
}

// WaitMembers waits until every running member sees exactly n members.
func (c *Cluster) WaitMembers(n int, timeout time.Duration) {
	c.t.Helper()
	Eventually(c.t, func() bool {
		for _, m := range c.Running() {
			if len(m.Membership.Members()) != n {
				return false
			}
		}
		return true
	}, timeout, fmt.Sprintf("every member sees %d members", n))
}

func (c *Cluster) stopAll() {
	for i := range c.Members() {
		c.Stop(i)
	}
	c.Network.wait()
}

// Eventually polls cond every millisecond until it holds, failing t after
// timeout with what it was waiting for.
func Eventually(t testing.TB, cond func() bool, timeout time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("clustertest: timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// seedList is a static provider shared by the test cluster's members: every
// member's address is a seed of all the others.
type seedList struct {
	mu      sync.Mutex
	addrs   []string
	watches []func([]provider.Member)
}

func (s *seedList) add(addr string) {
	s.mu.Lock()
	s.addrs = append(s.addrs, addr)
	ms := s.snapshotLocked()
	ws := slices.Clone(s.watches)
	s.mu.Unlock()
	for _, w := range ws {
		w(ms)
	}
}

func (s *seedList) snapshotLocked() []provider.Member {
	out := make([]provider.Member, len(s.addrs))
	for i, a := range s.addrs {
		out[i] = provider.Member{Address: a}
	}
	return out
}

func (s *seedList) provider() provider.Provider { return &seedProvider{s: s} }

type seedProvider struct {
	s     *seedList
	mu    sync.Mutex
	watch func([]provider.Member)
}

func (p *seedProvider) Start(_ context.Context, _ provider.Member, update func([]provider.Member)) error {
	p.mu.Lock()
	p.watch = update
	p.mu.Unlock()
	p.s.mu.Lock()
	p.s.watches = append(p.s.watches, p.update)
	ms := p.s.snapshotLocked()
	p.s.mu.Unlock()
	p.update(ms)
	return nil
}

func (p *seedProvider) update(ms []provider.Member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watch != nil {
		p.watch(ms)
	}
}

func (p *seedProvider) Stop(context.Context) error {
	p.mu.Lock()
	p.watch = nil
	p.mu.Unlock()
	return nil
}
