package pubsub_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/pubsub"
)

// replLayer attaches a replicator and a PubSub on its replicated interest
// to a clustertest member: the arrangement of a node.
type replLayer struct {
	rep *crdt.Replicator
	ps  *pubsub.PubSub
}

func (l *replLayer) Prepare(*clustertest.Member, *cluster.Member) error { return nil }

func (l *replLayer) Start(m *clustertest.Member) error {
	rep, err := crdt.NewReplicator(m.Membership, crdt.Config{})
	if err != nil {
		return err
	}
	if err := rep.Start(context.Background()); err != nil {
		return err
	}
	in, err := pubsub.NewInterest(rep)
	if err != nil {
		return err
	}
	ps, err := pubsub.New(m.System, m.Membership, in, pubsub.Config{})
	if err != nil {
		return err
	}
	l.rep, l.ps = rep, ps
	return ps.Start(context.Background())
}

func (l *replLayer) Stop(ctx context.Context) error {
	if l.ps == nil {
		return nil
	}
	err := l.ps.Stop(ctx)
	if rerr := l.rep.Stop(ctx); err == nil {
		err = rerr
	}
	return err
}

func (l *replLayer) Abort() {
	if l.ps != nil {
		l.rep.Abort()
		_ = l.ps.Stop(context.Background())
	}
}

type replEnv struct {
	c      *clustertest.Cluster
	mu     sync.Mutex
	layers map[*clustertest.Member]*replLayer
	order  []*replLayer
}

func (e *replEnv) ps(i int) *pubsub.PubSub {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.order[i].ps
}

func (e *replEnv) id(i int) string { return e.c.Member(i).Membership.Self().ID }

func startReplicated(t *testing.T, n int) *replEnv {
	t.Helper()
	e := &replEnv{}
	e.c = clustertest.Start(t, n, clustertest.Options{Layer: func(int) clustertest.Layer {
		l := &replLayer{}
		e.mu.Lock()
		e.order = append(e.order, l)
		e.mu.Unlock()
		return l
	}})
	return e
}

// waitMembers waits until member i routes topic to exactly the members
// with the indexes in want.
func (e *replEnv) waitMembers(t *testing.T, i int, topic string, want ...int) {
	t.Helper()
	var ids []string
	for _, j := range want {
		ids = append(ids, e.id(j))
	}
	slices.Sort(ids)
	clustertest.Eventually(t, func() bool { return slices.Equal(e.ps(i).Members(topic), ids) }, 10*time.Second,
		fmt.Sprintf("member %d routes %q to members %v", i, topic, want))
}

// TestReplicatedInterestGroupsAndOrder: on the replicated interest, a
// publish reaches every plain subscriber on every member in the
// publisher's order, and one subscriber per group.
func TestReplicatedInterestGroupsAndOrder(t *testing.T) {
	e := startReplicated(t, 3)
	plain := make([]*inbox, 3)
	group := make([]*inbox, 3)
	for i := range 3 {
		plain[i], group[i] = &inbox{}, &inbox{}
		if _, err := e.ps(i).SubscribeFunc("orders", plain[i].add); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ps(i).SubscribeFunc("orders", group[i].add, pubsub.InGroup("billing")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		e.waitMembers(t, i, "orders", 0, 1, 2)
	}
	const n = 300
	for k := range n {
		if err := e.ps(1).Publish(context.Background(), "orders", wrapperspb.String(fmt.Sprint(k))); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]string, n)
	for k := range n {
		want[k] = fmt.Sprint(k)
	}
	clustertest.Eventually(t, func() bool {
		total := 0
		for i := range 3 {
			total += len(group[i].get())
		}
		for i := range 3 {
			if len(plain[i].get()) != n {
				return false
			}
		}
		return total == n
	}, 10*time.Second, "every plain subscriber has every message, the group each message once")
	for i := range 3 {
		if got := plain[i].get(); !slices.Equal(got, want) {
			t.Fatalf("member %d received out of order: %v", i, got[:min(20, len(got))])
		}
		// Each group subscriber sees its share in the publisher's order.
		g := group[i].get()
		if !slices.IsSortedFunc(g, func(a, b string) int { return atoi(a) - atoi(b) }) {
			t.Fatalf("member %d's group share is out of order: %v", i, g)
		}
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// TestReplicatedInterestFollowsDeathAndKill: a subscriber process's death
// withdraws its member's interest everywhere; a member killed without a
// leave drops out of every member's routing.
func TestReplicatedInterestFollowsDeathAndKill(t *testing.T) {
	e := startReplicated(t, 3)
	sys := e.c.Member(2).System
	pid, err := sys.Spawn(func(actor.Context) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ps(2).Subscribe("alerts", pid); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ps(1).SubscribeFunc("alerts", func(pubsub.Message) {}); err != nil {
		t.Fatal(err)
	}
	e.waitMembers(t, 0, "alerts", 1, 2)
	if err := sys.Kill(pid); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.waitMembers(t, i, "alerts", 1)
	}
	e.c.Kill(1)
	e.c.WaitMembers(2, 10*time.Second)
	e.waitMembers(t, 0, "alerts")
	err = e.ps(0).Publish(context.Background(), "alerts", wrapperspb.String("x"))
	if err == nil {
		t.Fatal("Publish with no subscriber left succeeded, want ErrNoSubscribers")
	}
}

// TestReplicatedInterestHealsAfterPartition: during a 3+2 partition the
// minority is downed by the resolver (the majority withdraws its
// interest); after the heal its members come back and every member routes
// the topic to all five again.
func TestReplicatedInterestHealsAfterPartition(t *testing.T) {
	e := startReplicated(t, 5)
	boxes := make([]*inbox, 5)
	for i := range 5 {
		boxes[i] = &inbox{}
		if _, err := e.ps(i).SubscribeFunc("ticks", boxes[i].add); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		e.waitMembers(t, i, "ticks", 0, 1, 2, 3, 4)
	}
	e.c.Split([]int{0, 1, 2}, []int{3, 4})
	e.waitMembers(t, 0, "ticks", 0, 1, 2)
	e.c.Network.HealAll()
	for i := range 5 {
		e.waitMembersFor(t, i, "ticks", 30*time.Second, 0, 1, 2, 3, 4)
	}
	// A publish from the old minority reaches everyone again.
	if err := e.ps(4).Publish(context.Background(), "ticks", wrapperspb.String("after")); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		for _, b := range boxes {
			if !slices.Contains(b.get(), "after") {
				return false
			}
		}
		return true
	}, 10*time.Second, "every member receives the publish after the heal")
}

// waitMembersFor waits until member i routes topic to the members with the
// indexes in want (compared by address: members downed by the resolver
// come back under new ids).
func (e *replEnv) waitMembersFor(t *testing.T, i int, topic string, timeout time.Duration, want ...int) {
	t.Helper()
	clustertest.Eventually(t, func() bool {
		up := map[string]string{}
		for _, m := range e.c.Member(i).Membership.View().Up() {
			up[m.ID] = m.ClusterAddress
		}
		self := e.c.Member(i).Membership.Self()
		up[self.ID] = self.ClusterAddress
		var got, exp []string
		for _, id := range e.ps(i).Members(topic) {
			got = append(got, up[id])
		}
		for _, j := range want {
			exp = append(exp, e.c.Member(j).ClusterAddress)
		}
		slices.Sort(got)
		slices.Sort(exp)
		return slices.Equal(got, exp)
	}, timeout, fmt.Sprintf("member %d routes %q to members %v", i, topic, want))
}
