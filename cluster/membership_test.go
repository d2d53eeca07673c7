package cluster_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/provider"
)

func ids(ms []cluster.Member) map[string]cluster.Status {
	out := make(map[string]cluster.Status, len(ms))
	for _, m := range ms {
		out[m.ID] = m.Status
	}
	return out
}

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
			if kind == cluster.Left && ev.Member.ID == id && ev.Kind == cluster.MemberUnreachable {
				t.Fatalf("%s became unreachable; want a graceful leave", id)
			}
		case <-deadline:
			t.Fatalf("no %v event for %s within %v", kind, id, timeout)
		}
	}
}

func TestFormationOfThree(t *testing.T) {
	c := clustertest.Start(t, 3, clustertest.Options{Kinds: []string{"counter"}})
	for _, m := range c.Running() {
		ms := m.Membership.Members()
		if len(ms) != 3 {
			t.Fatalf("member %s sees %d", m.Address, len(ms))
		}
		for _, x := range ms {
			if x.Status != cluster.Up || len(x.Kinds) != 1 || x.Kinds[0] != "counter" {
				t.Fatalf("member view entry %+v", x)
			}
		}
		if !m.Membership.Ready() {
			t.Fatalf("%s not ready", m.Address)
		}
	}
}

func TestGracefulLeaveIsLeftNotUnreachable(t *testing.T) {
	c := clustertest.Start(t, 3, clustertest.Options{})
	ev, cancel := c.Member(0).Membership.Subscribe(64)
	defer cancel()
	leaving := c.Member(2).Membership.Self().ID
	t0 := time.Now()
	c.Stop(2)
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("graceful stop took %v, want <= 1s", d)
	}
	waitEvent(t, ev, cluster.Left, leaving, 2*time.Second)
	c.WaitMembers(2, 2*time.Second)
	// Nothing more about the member that left: no re-join from a heartbeat
	// in flight, no unreachable, no removal.
	quiet := time.After(300*time.Millisecond + 200*time.Millisecond + 2*100*time.Millisecond)
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

func TestFailedStartThenStop(t *testing.T) {
	busy, err := cluster.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	m, err := cluster.NewMembership(cluster.MembershipConfig{
		Cluster:           "x",
		Self:              cluster.Member{Address: busy.LocalAddress()}, // taken: Start fails
		HeartbeatInterval: 100 * time.Millisecond,
		SuspectAfter:      300 * time.Millisecond,
		RemoveAfter:       200 * time.Millisecond,
	}, fixed{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("Start on a taken address succeeded")
	}
	if err := m.Start(context.Background()); !errors.Is(err, cluster.ErrMembershipStopped) {
		t.Fatalf("second Start: %v", err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Abort()
}

type failingProvider struct{}

func (failingProvider) Start(context.Context, provider.Member, func([]provider.Member)) error {
	return errors.New("back-end down")
}

func (failingProvider) Stop(context.Context) error { return nil }

func TestProviderFailureAtStart(t *testing.T) {
	tr, err := cluster.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := cluster.NewMembership(cluster.MembershipConfig{
		Cluster:           "x",
		Self:              cluster.Member{Address: tr.LocalAddress()},
		HeartbeatInterval: 100 * time.Millisecond,
		SuspectAfter:      300 * time.Millisecond,
		RemoveAfter:       200 * time.Millisecond,
		Transport:         tr,
	}, failingProvider{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil || !contains(err.Error(), "back-end down") {
		t.Fatalf("Start: %v", err)
	}
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCrashDetectedAndRestartRejoinsUnderNewID(t *testing.T) {
	c := clustertest.Start(t, 3, clustertest.Options{})
	ev, cancel := c.Member(0).Membership.Subscribe(64)
	defer cancel()
	dead := c.Member(2).Membership.Self().ID
	t0 := time.Now()
	c.Kill(2)
	waitEvent(t, ev, cluster.MemberUnreachable, dead, 2*time.Second)
	waitEvent(t, ev, cluster.Removed, dead, 2*time.Second)
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("crash removed after %v, want <= 1s", d)
	}
	c.WaitMembers(2, 2*time.Second)
	// A new run at the same address joins under a new id.
	m, err := c.Restart(2)
	if err != nil {
		t.Fatal(err)
	}
	fresh := m.Membership.Self().ID
	if fresh == dead {
		t.Fatal("restarted member reused its id")
	}
	waitEvent(t, ev, cluster.Joined, fresh, 3*time.Second)
	c.WaitMembers(3, 3*time.Second)
}

func TestPartitionMarksUnreachableAndHealRestores(t *testing.T) {
	// Long RemoveAfter: the partitioned member stays unreachable rather than
	// being removed, so healing shows it reachable again.
	c := clustertest.Start(t, 3, clustertest.Options{RemoveAfter: time.Minute})
	a, b := c.Member(0), c.Member(2)
	ev, cancel := a.Membership.Subscribe(64)
	defer cancel()
	c.Network.Partition(a.Address, b.Address)
	bid := b.Membership.Self().ID
	waitEvent(t, ev, cluster.MemberUnreachable, bid, 2*time.Second)
	if st := ids(a.Membership.Members())[bid]; st != cluster.Unreachable {
		t.Fatalf("status %v", st)
	}
	c.Network.Heal(a.Address, b.Address)
	waitEvent(t, ev, cluster.MemberReachable, bid, 2*time.Second)
}

func TestPartitionLongerThanRemoveAfterRejoins(t *testing.T) {
	c := clustertest.Start(t, 2, clustertest.Options{})
	a, b := c.Member(0), c.Member(1)
	ev, cancel := a.Membership.Subscribe(64)
	defer cancel()
	c.Network.Partition(a.Address, b.Address)
	bid := b.Membership.Self().ID
	waitEvent(t, ev, cluster.Removed, bid, 2*time.Second)
	c.Network.HealAll()
	waitEvent(t, ev, cluster.Joined, bid, 2*time.Second)
}

func TestDelayAndDropBelowThresholdsKeepMembersUp(t *testing.T) {
	c := clustertest.Start(t, 2, clustertest.Options{})
	a, b := c.Member(0), c.Member(1)
	ev, cancel := a.Membership.Subscribe(64)
	defer cancel()
	// 50ms of delay and 5% loss: a member is suspected only after three
	// heartbeats in a row are lost (p ≈ 0.0001 per window), so over a second
	// nothing becomes unreachable.
	c.Network.Delay(a.Address, b.Address, 50*time.Millisecond)
	c.Network.Drop(a.Address, b.Address, 0.05)
	deadline := time.After(time.Second)
	for {
		select {
		case e := <-ev:
			if e.Kind == cluster.MemberUnreachable {
				t.Fatalf("unexpected %v", e)
			}
		case <-deadline:
			return
		}
	}
}

// TestDropAndDelayAboveThresholdsMakeUnreachable: the fault proxy's Drop
// and Delay really act on membership traffic. Dropping every packet makes
// the peer unreachable until healed; a delay longer than SuspectAfter makes
// it unreachable until the delayed heartbeats start arriving, then
// reachable again while the delay stays.
func TestDropAndDelayAboveThresholdsMakeUnreachable(t *testing.T) {
	c := clustertest.Start(t, 2, clustertest.Options{RemoveAfter: time.Minute})
	a, b := c.Member(0), c.Member(1)
	bid := b.Membership.Self().ID
	ev, cancel := a.Membership.Subscribe(64)
	defer cancel()

	c.Network.Drop(a.Address, b.Address, 1)
	waitEvent(t, ev, cluster.MemberUnreachable, bid, 3*time.Second)
	c.Network.Heal(a.Address, b.Address)
	waitEvent(t, ev, cluster.MemberReachable, bid, 3*time.Second)

	c.Network.Delay(a.Address, b.Address, 800*time.Millisecond) // SuspectAfter is 300ms
	waitEvent(t, ev, cluster.MemberUnreachable, bid, 3*time.Second)
	waitEvent(t, ev, cluster.MemberReachable, bid, 3*time.Second)
}

// rejectedLogs starts a lone member with the given name and secret pointed
// at c's members and returns how c's first member logged it.
func TestStrangersAreRejectedAndLogged(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	c := clustertest.Start(t, 2, clustertest.Options{Logger: zap.New(core)})
	target := c.Member(0)
	for _, tc := range []struct{ name, cluster, secret string }{
		{"wrong secret", "clustertest", "not-the-secret"},
		{"other cluster", "other", "clustertest-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := cluster.ListenUDP("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			stranger, err := cluster.NewMembership(cluster.MembershipConfig{
				Cluster:           tc.cluster,
				Secret:            []byte(tc.secret),
				Self:              cluster.Member{Address: tr.LocalAddress()},
				HeartbeatInterval: 50 * time.Millisecond,
				SuspectAfter:      200 * time.Millisecond,
				RemoveAfter:       200 * time.Millisecond,
				Transport:         tr,
			}, fixed{target.Address})
			if err != nil {
				t.Fatal(err)
			}
			if err := stranger.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer stranger.Stop(context.Background())
			clustertest.Eventually(t, func() bool {
				return logs.FilterMessage("membership: rejected a join attempt").FilterField(zap.String("from", tr.LocalAddress())).Len() > 0
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

func TestMembershipConfigErrors(t *testing.T) {
	_, err := cluster.NewMembership(cluster.MembershipConfig{}, nil)
	if !errors.Is(err, cluster.ErrMembershipConfig) {
		t.Fatalf("got %v", err)
	}
	for _, field := range []string{"Cluster", "Self.Address", "HeartbeatInterval", "SuspectAfter", "RemoveAfter", "provider"} {
		if !contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestReadinessWithHostNameSeedsAndLatch(t *testing.T) {
	// Two members whose seed list names them as localhost:port.
	trs := make([]cluster.Transport, 2)
	var seeds fixed
	for i := range trs {
		tr, err := cluster.ListenUDP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		trs[i] = tr
		_, port, _ := net.SplitHostPort(tr.LocalAddress())
		seeds = append(seeds, "localhost:"+port)
	}
	var ms []*cluster.Membership
	for i, tr := range trs {
		m, err := cluster.NewMembership(cluster.MembershipConfig{
			Cluster:           "ready",
			Self:              cluster.Member{Address: tr.LocalAddress()},
			HeartbeatInterval: 50 * time.Millisecond,
			SuspectAfter:      150 * time.Millisecond,
			RemoveAfter:       100 * time.Millisecond,
			Transport:         tr,
		}, seeds)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer m.Stop(context.Background())
		ms = append(ms, m)
		_ = i
	}
	clustertest.Eventually(t, func() bool { return ms[0].Ready() && ms[1].Ready() }, 3*time.Second, "both ready with host-name seeds")
	// The other member crashes: the survivor stays ready.
	ms[1].Abort()
	clustertest.Eventually(t, func() bool { return len(ms[0].Members()) == 1 }, 3*time.Second, "crash removed")
	if !ms[0].Ready() {
		t.Fatal("survivor no longer ready after a peer crashed")
	}
}
