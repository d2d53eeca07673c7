package clustertest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/provider"
	"google.golang.org/grpc"
)

// Options configures a test cluster. Zero values are the defaults.
type Options struct {
	// Name is the cluster name. Default "clustertest".
	Name string
	// Secret is the shared secret. Default "clustertest-secret".
	Secret string
	// ProbeInterval, ProbeTimeout, GossipInterval, SuspicionMultiplier:
	// SWIM timing. Defaults: the development profile's (100ms, 60ms, 50ms,
	// 3).
	ProbeInterval, ProbeTimeout, GossipInterval time.Duration
	SuspicionMultiplier                         int
	// SplitBrain configures the resolver. Default: keep-majority, with the
	// development profile's stable-after (250ms) when StableAfter is zero.
	SplitBrain cluster.ResolverConfig
	// Logger: default zaptest at info level.
	Logger *zap.Logger
	// Kinds hosted by every member.
	Kinds []string
	// Layer, when set, makes a Layer for each new member (its index in
	// the order of starts): something built on the member, such as grains.
	Layer func(index int) Layer
	// Seeds chooses the join candidates of member index among the cluster
	// addresses of the members started before it (in order). Nil: all of
	// them. SeedFirst gives each member only the first.
	Seeds func(index int, earlier []string) []string
	// MembershipOnly starts members without an actor System (System is
	// nil), for clusters of many members.
	MembershipOnly bool
	// Protocol gives member index's protocol version (nil or 0:
	// cluster.ProtocolVersion), to test mixed-version clusters.
	Protocol func(index int) int
}

// SeedFirst is an Options.Seeds that gives every member only the first
// member's address.
func SeedFirst(_ int, earlier []string) []string {
	if len(earlier) == 0 {
		return nil
	}
	return earlier[:1]
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
	if o.ProbeInterval == 0 {
		o.ProbeInterval = 100 * time.Millisecond
	}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = 60 * time.Millisecond
	}
	if o.GossipInterval == 0 {
		o.GossipInterval = 50 * time.Millisecond
	}
	if o.SuspicionMultiplier == 0 {
		o.SuspicionMultiplier = 3
	}
	if o.SplitBrain.StableAfter == 0 {
		o.SplitBrain.StableAfter = 250 * time.Millisecond
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

	mu      sync.Mutex
	members []*Member
	addrs   []string // cluster addresses in the order of starts
	started int
}

// Member is one member: its actor System and its Membership.
type Member struct {
	System     *actor.System
	Membership *cluster.Membership
	// Address is the member's remoting address (its cluster address when
	// it has no System); the Network knows it by both.
	Address string
	// ClusterAddress is its cluster port's address.
	ClusterAddress string
	// Index is the member's place in the order of starts (0 first).
	Index int
	// Layer is Options.Layer's layer for this member, or nil.
	Layer   Layer
	stopped atomic.Bool
}

// Start starts n members, each given the addresses of the members started
// before it as join candidates (see Options.Seeds), and waits until every
// member sees all n. Everything is stopped when the test ends.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, opts: opts.withDefaults(t), Network: NewNetwork()}
	t.Cleanup(c.stopAll)
	for i := 0; i < n; i++ {
		if _, err := c.Add(); err != nil {
			t.Fatalf("clustertest: starting member %d: %v", i, err)
		}
	}
	c.WaitMembers(n, 10*time.Second+time.Duration(n)*200*time.Millisecond)
	return c
}

// Add starts one more member and returns it (it joins on its own).
func (c *Cluster) Add() (*Member, error) {
	return c.add("127.0.0.1:0", "127.0.0.1:0")
}

func (c *Cluster) add(remoting, clusterAddr string) (*Member, error) {
	o := c.opts
	var key atomic.Value
	key.Store("")
	self := func() string { return key.Load().(string) }
	c.mu.Lock()
	m := &Member{Index: c.started}
	c.started++
	c.mu.Unlock()
	if !o.MembershipOnly {
		sys, err := actor.NewSystem(actor.WithRemote(remoting), actor.WithLogger(o.Logger),
			actor.WithRemoteDialOptions(grpc.WithContextDialer(c.Network.Dialer(self))))
		if err != nil {
			return nil, err
		}
		if err := sys.Start(context.Background()); err != nil {
			return nil, err
		}
		m.System, m.Address = sys, sys.Address()
	}
	stopSys := func() {
		if m.System != nil {
			_ = m.System.Stop(context.Background())
		}
	}
	me := cluster.Member{Address: m.Address, Kinds: slices.Clone(o.Kinds), Labels: map[string]string{}}
	if o.Protocol != nil {
		me.Protocol = o.Protocol(m.Index)
	}
	if o.Layer != nil {
		m.Layer = o.Layer(m.Index)
		if err := m.Layer.Prepare(m, &me); err != nil {
			stopSys()
			return nil, err
		}
	}
	ln, tr, err := listenClusterPort(clusterAddr)
	if err != nil {
		stopSys()
		return nil, err
	}
	m.ClusterAddress = ln.Addr().String()
	if m.Address == "" {
		m.Address = m.ClusterAddress
		me.Address = m.Address
	}
	key.Store(m.Address)
	c.Network.Alias(m.ClusterAddress, m.Address)
	c.mu.Lock()
	earlier := slices.Clone(c.addrs)
	c.addrs = append(c.addrs, m.ClusterAddress)
	c.mu.Unlock()
	if o.Seeds != nil {
		earlier = o.Seeds(m.Index, earlier)
	}
	ms, err := cluster.NewMembership(cluster.MembershipConfig{
		Cluster:             o.Name,
		Secret:              []byte(o.Secret),
		Self:                me,
		ProbeInterval:       o.ProbeInterval,
		ProbeTimeout:        o.ProbeTimeout,
		GossipInterval:      o.GossipInterval,
		SuspicionMultiplier: o.SuspicionMultiplier,
		SplitBrain:          o.SplitBrain,
		Logger:              o.Logger,
		Transport:           c.Network.Wrap(tr),
		Listener:            ln,
		Dial:                c.Network.Dialer(self),
	}, seeds(earlier))
	if err != nil {
		_ = ln.Close()
		_ = tr.Close()
		stopSys()
		return nil, err
	}
	if err := ms.Start(context.Background()); err != nil {
		stopSys()
		return nil, err
	}
	m.Membership = ms
	if m.Layer != nil {
		if err := m.Layer.Start(m); err != nil {
			m.Layer.Abort()
			_ = ms.Stop(context.Background())
			stopSys()
			return nil, err
		}
	}
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
	return m, nil
}

// listenClusterPort opens a TCP listener and a UDP socket on one port.
func listenClusterPort(addr string) (net.Listener, cluster.Transport, error) {
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		tr, err := cluster.ListenUDP(ln.Addr().String())
		if err == nil {
			return ln, tr, nil
		}
		_ = ln.Close()
		if _, p, _ := net.SplitHostPort(addr); p != "0" || attempt > 20 {
			return nil, nil, err
		}
	}
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
	lctx, lcancel := context.WithTimeout(ctx, time.Second)
	defer lcancel()
	if err := m.Membership.Stop(lctx); err != nil {
		c.t.Errorf("clustertest: stopping member %d: %v", i, err)
	}
	if m.System != nil {
		// The system's own budget: stopping actors and remoting is slow
		// under -race on a loaded machine, and says nothing about the leave.
		sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer scancel()
		if err := m.System.Stop(sctx); err != nil {
			c.t.Errorf("clustertest: stopping member %d's system: %v", i, err)
		}
	}
}

// Kill stops member i as a crash would: no leave is announced, its ports
// close (peers' connections are refused).
func (c *Cluster) Kill(i int) {
	m := c.Member(i)
	if !m.stopped.CompareAndSwap(false, true) {
		return
	}
	if m.Layer != nil {
		m.Layer.Abort()
	}
	m.Membership.Abort()
	if m.System != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.System.Stop(ctx)
	}
}

// Isolate cuts every member started so far from member i: it vanishes
// without a RST, as a host whose network is gone. Heal with
// Network.HealAll.
func (c *Cluster) Isolate(i int) {
	m := c.Member(i)
	for _, o := range c.Members() {
		if o != m {
			c.Network.Partition(m.Address, o.Address)
		}
	}
}

// Split cuts the members with the indexes in a from those in b.
func (c *Cluster) Split(a, b []int) {
	for _, i := range a {
		for _, j := range b {
			c.Network.Partition(c.Member(i).Address, c.Member(j).Address)
		}
	}
}

// Restart starts a new run of killed or stopped member i at the same
// addresses; it joins under a new member id. It returns the new member.
func (c *Cluster) Restart(i int) (*Member, error) {
	old := c.Member(i)
	if !old.stopped.Load() {
		c.Kill(i)
	}
	remoting := "127.0.0.1:0"
	if old.System != nil {
		remoting = old.Address
	}
	return c.add(remoting, old.ClusterAddress)
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

// stopAll stops every member gracefully, eight at a time.
func (c *Cluster) stopAll() {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range c.Members() {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.Stop(i)
		}()
	}
	wg.Wait()
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

// FreePort returns a port free for TCP and UDP on 127.0.0.1 at the time of
// the call, from below the kernel's ephemeral range (a port the kernel hands
// out for "127.0.0.1:0" can go to another test's outgoing connection before
// the caller listens on it).
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := nodeproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// seeds is a fixed provider: the given addresses.
type seeds []string

func (s seeds) Start(_ context.Context, _ provider.Member, update func([]provider.Member)) error {
	out := make([]provider.Member, len(s))
	for i, a := range s {
		out[i] = provider.Member{Address: a}
	}
	update(out)
	return nil
}

func (seeds) Stop(context.Context) error { return nil }
