package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/provider"
)

// waitEvent reads events until one of kind about id arrives.
func waitEvent(t *testing.T, ch <-chan cluster.MemberEvent, kind cluster.EventKind, id string, timeout time.Duration) cluster.MemberEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed waiting for %v %s", kind, id)
			}
			if ev.Kind == kind && ev.Member.ID == id {
				return ev
			}
			if kind == cluster.Left && ev.Member.ID == id && (ev.Kind == cluster.MemberUnreachable || ev.Kind == cluster.Removed) {
				t.Fatalf("%s: %v; want a graceful leave", id, ev)
			}
		case <-deadline:
			t.Fatalf("no %v event for %s within %v", kind, id, timeout)
		}
	}
}

// ids returns the sorted member ids of a view.
func ids(ms []cluster.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	slices.Sort(out)
	return out
}

// agree waits until every running member's view has the same n members,
// all Up, and every member serves.
func agree(t *testing.T, c *clustertest.Cluster, n int, timeout time.Duration) {
	t.Helper()
	clustertest.Eventually(t, func() bool {
		var first []string
		for _, m := range c.Running() {
			v := m.Membership.View()
			if v.Self != cluster.Serving || len(v.Up()) != n || len(v.Members) != n {
				return false
			}
			got := ids(v.Members)
			if first == nil {
				first = got
			} else if !slices.Equal(first, got) {
				return false
			}
		}
		return true
	}, timeout, fmt.Sprintf("every member agrees on the same %d members", n))
}

func TestFormationFromOneSeedAndTheSeedKilled(t *testing.T) {
	t0 := time.Now()
	c := clustertest.Start(t, 5, clustertest.Options{Seeds: clustertest.SeedFirst})
	agree(t, c, 5, 2*time.Second)
	t.Logf("5 members, each seeded with the first only, agree after %v", time.Since(t0))
	for _, m := range c.Running() {
		if !m.Membership.Ready() {
			t.Fatalf("%s not ready", m.Address)
		}
	}
	c.Kill(0)
	agree(t, c, 4, 5*time.Second)
}

func TestGracefulLeaveIsLeftNotUnreachable(t *testing.T) {
	c := clustertest.Start(t, 3, clustertest.Options{})
	ev, cancel := c.Member(0).Membership.Subscribe(64)
	defer cancel()
	leaving := c.Member(2).Membership.Self().ID
	t0 := time.Now()
	c.Stop(2)
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("graceful stop took %v, want <= 3s (the leave is bounded by 1s; a hang shows here)", d)
	}
	waitEvent(t, ev, cluster.Left, leaving, 2*time.Second)
	agree(t, c, 2, 2*time.Second)
	// Nothing more about the member that left.
	quiet := time.After(time.Second)
	for {
		select {
		case e := <-ev:
			if e.Member.ID == leaving {
				t.Fatalf("after the leave: %v", e)
			}
		case <-quiet:
			return
		}
	}
}

func TestKilledMemberIsRemovedAndARestartRejoinsUnderANewID(t *testing.T) {
	c := clustertest.Start(t, 3, clustertest.Options{})
	ev, cancel := c.Member(0).Membership.Subscribe(64)
	defer cancel()
	dead := c.Member(2).Membership.Self().ID
	t0 := time.Now()
	c.Kill(2)
	e := waitEvent(t, ev, cluster.Removed, dead, 3*time.Second)
	t.Logf("removed after %v: %s", time.Since(t0), e.Reason)
	// Removed on the refusal of its port, not after SWIM's timeouts (the
	// time it takes is the bench's to measure: kill detection in
	// BENCHMARKS.md; here Kill itself stops an actor system first).
	if !strings.Contains(e.Reason, "refuses connections") {
		t.Fatalf("removed for %q, want the refusal of its cluster port", e.Reason)
	}
	agree(t, c, 2, 2*time.Second)
	m, err := c.Restart(2)
	if err != nil {
		t.Fatal(err)
	}
	fresh := m.Membership.Self().ID
	if fresh == dead {
		t.Fatal("restarted member reused its id")
	}
	waitEvent(t, ev, cluster.Joined, fresh, 3*time.Second)
	agree(t, c, 3, 3*time.Second)
}

// An isolated member (no traffic in or out, no RST) fences itself at once,
// downs itself after stable-after, and the others remove it; after the
// heal the cluster re-forms.
func TestIsolatedMemberFencesDownsAndRejoins(t *testing.T) {
	c := clustertest.Start(t, 3, clustertest.Options{})
	lone := c.Member(2)
	ev, cancel := lone.Membership.Subscribe(64)
	defer cancel()
	self := lone.Membership.Self()
	t0 := time.Now()
	c.Isolate(2)
	fenced := waitEvent(t, ev, cluster.SelfChanged, self.ID, 3*time.Second)
	if fenced.Self != cluster.Fenced && fenced.Self != cluster.Downed {
		t.Fatalf("isolated member: %v", fenced)
	}
	fencedAfter := time.Since(t0)
	clustertest.Eventually(t, func() bool { return lone.Membership.Status() == cluster.Downed }, 3*time.Second, "the isolated member downs itself")
	var removedAfter time.Duration
	clustertest.Eventually(t, func() bool {
		for _, m := range c.Running()[:2] {
			if len(m.Membership.Members()) != 2 {
				return false
			}
		}
		removedAfter = time.Since(t0)
		return true
	}, 5*time.Second, "the others remove it")
	t.Logf("isolated member fenced after %v; removed by the others after %v", fencedAfter, removedAfter)
	if fencedAfter >= removedAfter {
		t.Fatalf("the isolated member fenced itself after %v, not before the others removed it (%v)", fencedAfter, removedAfter)
	}
	if lone.Membership.Ready() {
		t.Fatal("a downed member is ready")
	}
	c.Network.HealAll()
	agree(t, c, 3, 10*time.Second)
}

// A 3+2 partition of all traffic under keep-majority: the 2 side downs
// itself, the 3 side removes it, and the heal re-forms the cluster of 5.
func TestPartitionThreeTwoKeepMajority(t *testing.T) {
	c := clustertest.Start(t, 5, clustertest.Options{})
	c.Split([]int{0, 1, 2}, []int{3, 4})
	clustertest.Eventually(t, func() bool {
		for i, m := range c.Running() {
			v := m.Membership.View()
			if i < 3 && (v.Self != cluster.Serving || len(v.Members) != 3) {
				return false
			}
			if i >= 3 && v.Self != cluster.Downed {
				return false
			}
		}
		return true
	}, 10*time.Second, "the minority downs itself and the majority removes it")
	c.Network.HealAll()
	agree(t, c, 5, 15*time.Second)
}

func TestDelayAndDropBelowThresholdsKeepMembersUp(t *testing.T) {
	c := clustertest.Start(t, 3, clustertest.Options{})
	a, b := c.Member(0), c.Member(1)
	ev, cancel := a.Membership.Subscribe(64)
	defer cancel()
	// 10ms of delay and 10% loss between two members: SWIM's indirect
	// probes and suspicion ride it out.
	c.Network.Delay(a.Address, b.Address, 10*time.Millisecond)
	c.Network.Drop(a.Address, b.Address, 0.1)
	deadline := time.After(2 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Kind == cluster.MemberUnreachable || e.Kind == cluster.Removed || e.Kind == cluster.SelfChanged {
				t.Fatalf("unexpected %v", e)
			}
		case <-deadline:
			return
		}
	}
}

// A link cut between two members only (the third reaches both) downs
// nobody: SWIM's indirect probes go through the third.
func TestAsymmetricCutDownsNobody(t *testing.T) {
	c := clustertest.Start(t, 3, clustertest.Options{})
	ev, cancel := c.Member(0).Membership.Subscribe(64)
	defer cancel()
	c.Network.Partition(c.Member(0).Address, c.Member(1).Address)
	deadline := time.After(2 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Kind == cluster.Removed || (e.Kind == cluster.SelfChanged && e.Self == cluster.Downed) {
				t.Fatalf("unexpected %v", e)
			}
		case <-deadline:
			return
		}
	}
}

func TestStrangersAreRejectedAndLogged(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	c := clustertest.Start(t, 2, clustertest.Options{Logger: zap.New(core)})
	target := c.Member(0)
	for _, tc := range []struct{ name, cluster, secret string }{
		{"wrong secret", "clustertest", "not-the-secret"},
		{"other cluster", "other", "clustertest-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.FilterMessageSnippet("rejected").Len()
			stranger, err := cluster.NewMembership(membershipConfig(tc.cluster, tc.secret), fixed{target.ClusterAddress})
			if err != nil {
				t.Fatal(err)
			}
			if err := stranger.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer stranger.Stop(context.Background())
			clustertest.Eventually(t, func() bool {
				return logs.FilterMessageSnippet("rejected").Len() > before
			}, 3*time.Second, "the attempt is logged")
			for _, m := range c.Running() {
				for _, x := range m.Membership.Members() {
					if x.ID == stranger.Self().ID {
						t.Fatalf("stranger admitted by %s", m.Address)
					}
				}
			}
			if len(stranger.Members()) != 1 {
				t.Fatalf("stranger admitted the cluster's members: %v", stranger.Members())
			}
		})
	}
}

func membershipConfig(name, secret string) cluster.MembershipConfig {
	return cluster.MembershipConfig{
		Cluster:             name,
		Secret:              []byte(secret),
		Bind:                "127.0.0.1:0",
		ProbeInterval:       100 * time.Millisecond,
		ProbeTimeout:        60 * time.Millisecond,
		GossipInterval:      50 * time.Millisecond,
		SuspicionMultiplier: 3,
		SplitBrain:          cluster.ResolverConfig{StableAfter: 250 * time.Millisecond},
		JoinTimeout:         500 * time.Millisecond,
	}
}

type fixed []string

func (f fixed) Start(_ context.Context, _ provider.Member, update func([]provider.Member)) error {
	var ms []provider.Member
	for _, a := range f {
		ms = append(ms, provider.Member{Address: a})
	}
	update(ms)
	return nil
}

func (fixed) Stop(context.Context) error { return nil }

type failingProvider struct{}

func (failingProvider) Start(context.Context, provider.Member, func([]provider.Member)) error {
	return errors.New("back-end down")
}

func (failingProvider) Stop(context.Context) error { return nil }

func TestFailedStartThenStop(t *testing.T) {
	busy, err := cluster.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := membershipConfig("x", "")
	cfg.Bind = busy.LocalAddress() // the UDP port is taken: Start fails
	m, err := cluster.NewMembership(cfg, fixed{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	if err := m.Start(context.Background()); !errors.Is(err, cluster.ErrMembershipStopped) {
		t.Fatalf("second Start: %v", err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Abort()
}

func TestProviderFailureAtStart(t *testing.T) {
	m, err := cluster.NewMembership(membershipConfig("x", ""), failingProvider{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "back-end down") {
		t.Fatalf("Start: %v", err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestMembershipConfigErrors(t *testing.T) {
	_, err := cluster.NewMembership(cluster.MembershipConfig{ProbeInterval: time.Second, ProbeTimeout: 2 * time.Second}, nil)
	if !errors.Is(err, cluster.ErrMembershipConfig) {
		t.Fatalf("got %v", err)
	}
	for _, field := range []string{"Cluster", "Bind", "ProbeTimeout", "GossipInterval", "SuspicionMultiplier", "SplitBrain.StableAfter", "provider"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	// Metadata that does not fit SWIM's 512 bytes is refused up front.
	cfg := membershipConfig("x", "")
	cfg.Self.Labels = map[string]string{"big": strings.Repeat("x", 600)}
	if _, err := cluster.NewMembership(cfg, fixed{}); !errors.Is(err, cluster.ErrMembershipConfig) || !strings.Contains(err.Error(), "512") {
		t.Fatalf("oversized metadata: %v", err)
	}
}

// A member whose seeds are a dead address and a live member joins the live
// one: one dead seed does not stall readiness. Host-name seeds work.
func TestReadinessWithADeadSeedAndHostNames(t *testing.T) {
	first, err := cluster.NewMembership(membershipConfig("ready", ""), fixed{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer first.Stop(context.Background())
	_, port, _ := net.SplitHostPort(first.Self().ClusterAddress)
	dead := fmt.Sprintf("127.0.0.1:%d", clustertest.FreePort(t))
	cfg := membershipConfig("ready", "")
	cfg.JoinTimeout = time.Minute // never forms alone: it must join
	second, err := cluster.NewMembership(cfg, fixed{dead, "localhost:" + port})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer second.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := second.Await(ctx, cluster.AtLeast(2)); err != nil {
		t.Fatal(err)
	}
	if !second.Ready() || !first.Ready() {
		t.Fatal("not ready")
	}
}

// A member none of whose candidates answer, and which does not have the
// lowest address, forms a cluster alone only after JoinTimeout.
func TestFormsAloneAfterJoinTimeout(t *testing.T) {
	cfg := membershipConfig("alone", "")
	cfg.JoinTimeout = 400 * time.Millisecond
	low := "127.0.0.1:1" // lower than any port we bind; nothing listens
	m, err := cluster.NewMembership(cfg, fixed{low})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	if m.Status() != cluster.Joining {
		t.Fatalf("status %v right after start", m.Status())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := m.Await(ctx, func(v cluster.View) bool { return v.Self == cluster.Serving }); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < cfg.JoinTimeout {
		t.Fatalf("formed alone after %v, before JoinTimeout %v", d, cfg.JoinTimeout)
	}
}

func TestAwaitHostingKind(t *testing.T) {
	c := clustertest.Start(t, 1, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Member(0).Membership.Await(ctx, cluster.HostingKind("counter", 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no member hosts counter: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- c.Member(0).Membership.Await(ctx, cluster.HostingKind("counter", 1))
	}()
	// A member hosting the kind joins member 0.
	m, err := cluster.NewMembership(func() cluster.MembershipConfig {
		cfg := membershipConfig("clustertest", "clustertest-secret")
		cfg.Self.Kinds = []string{"counter"}
		return cfg
	}(), fixed{c.Member(0).ClusterAddress})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// memLease is an in-process lease: the first owner holds it.
type memLease struct {
	mu     sync.Mutex
	holder string
	asked  []string
}

func (l *memLease) Acquire(_ context.Context, owner string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, owner)
	if l.holder == "" {
		l.holder = owner
	}
	return l.holder == owner, nil
}

// lease-majority: when a member is cut off, the majority side takes the
// lease at once and removes it; the cut-off member asks only after
// AcquireDelay, is refused, and downs itself. The delay must cover how much
// later the majority sees the split than the cut-off member, which misses
// every probe at once: up to a probe round and a probe timeout, more under
// load (300ms, three probe intervals here, let the cut-off member win once
// in about 100 runs under the race detector).
func TestLeaseMajority(t *testing.T) {
	l := &memLease{}
	c := clustertest.Start(t, 3, clustertest.Options{SplitBrain: cluster.ResolverConfig{
		Strategy: cluster.LeaseMajority, Lease: l, AcquireDelay: time.Second}})
	lone := c.Member(2)
	c.Isolate(2)
	clustertest.Eventually(t, func() bool {
		return lone.Membership.Status() == cluster.Downed &&
			len(c.Member(0).Membership.Members()) == 2 && len(c.Member(1).Membership.Members()) == 2
	}, 10*time.Second, "the majority holds the lease and removes the cut-off member, which downs itself")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder == lone.Membership.Self().ID {
		t.Fatalf("the cut-off member took the lease; asked: %v", l.asked)
	}
}
