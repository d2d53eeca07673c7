package crdt

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/internal/protos"
)

func TestReplicatorDeltasReachEveryMember(t *testing.T) {
	c := startReplicators(t, 3, nil)
	k := GCounterKey("hits")
	for i, r := range c.running() {
		if err := Update(bg(t), r, k, Local, func(g *GCounter, op Op) { g.Increment(op.Replica, uint64(i+1)) }); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool {
		for _, r := range c.running() {
			if v, ok := localValue(t, r, k); !ok || v.Value() != 6 {
				return false
			}
		}
		return true
	}, 5*time.Second, "every member counts 6")
}

func TestReplicatorMajorityWriteAndRead(t *testing.T) {
	c := startReplicators(t, 3, nil)
	k := ORSetKey("s", StringCodec())
	r0, r1 := c.rep(0), c.rep(1)
	if err := Update(bg(t), r0, k, Majority, func(s *ORSet[string], op Op) { s.Add(op.Replica, "x") }); err != nil {
		t.Fatal(err)
	}
	v, err := Get(bg(t), r1, k, Majority)
	if err != nil || !v.Contains("x") {
		t.Fatalf("Get after a majority write: %v, contains x: %v", err, err == nil && v.Contains("x"))
	}
	if err := Update(bg(t), r0, k, All, func(s *ORSet[string], op Op) { s.Add(op.Replica, "y") }); err != nil {
		t.Fatal(err)
	}
	if err := Update(bg(t), r0, k, To(4), func(s *ORSet[string], op Op) { s.Add(op.Replica, "z") }); !errors.Is(err, ErrWriteIncomplete) {
		t.Fatalf("To(4) of 3 members: %v, want ErrWriteIncomplete", err)
	}
}

// A member's replicator learns of the other members from membership events
// that it handles on its own goroutine, so right after joining (with the
// membership already serving and showing every member Up) its view may
// still hold only itself. A write with All must nevertheless reach every
// member of the current view before it returns: counted against the stale
// view it needed no acknowledgement, its delta went to no peer, and a
// member that then left took its contribution with it (the counter of
// TestPruningRemovedMembers came out 10 short).
func TestReplicatorWriteAllUsesCurrentView(t *testing.T) {
	c := startReplicators(t, 3, nil)
	c.waitServing(10 * time.Second)
	clustertest.Eventually(t, func() bool {
		for _, r := range c.running() {
			r.mu.Lock()
			n := len(r.view.members)
			r.mu.Unlock()
			if n != 3 {
				return false
			}
		}
		return true
	}, 10*time.Second, "every replicator's view holds the 3 members")
	k := GCounterKey("visits")
	for round := range 3 {
		// The view of member 2's replicator as right after it joined.
		r := c.rep(2)
		r.mu.Lock()
		self := r.st.self
		r.view = viewInfo{members: []string{self}, inView: map[string]bool{self: true}}
		r.mu.Unlock()
		if err := Update(bg(t), r, k, All, func(g *GCounter, op Op) { g.Increment(op.Replica, 10) }); err != nil {
			t.Fatal(err)
		}
		want := uint64(10 * (round + 1))
		for i, p := range c.running() {
			var v uint64
			peek(p, k, func(g *GCounter) { v = g.Value() })
			if v != want {
				t.Fatalf("round %d: member %d counts %d right after an All write returned, want %d", round, i, v, want)
			}
		}
	}
}

// A member in the view when a write starts that is removed while the
// write waits for it (a member that has just joined can learn of a dead
// member shortly before removing it) will never acknowledge: the write is
// counted among the members that remain instead of waiting for ctx to end.
func TestReplicatorWriteAllForgetsRemovedPeer(t *testing.T) {
	c := startReplicators(t, 3, nil)
	c.waitServing(10 * time.Second)
	k := GCounterKey("visits")
	r := c.rep(2)
	// The write starts with a view that also holds a member that is gone.
	r.refreshView()
	r.mu.Lock()
	ghost := "ghost-member"
	r.view.members = append(slices.Clone(r.view.members), ghost)
	r.view.up = append(slices.Clone(r.view.up), ghost)
	r.view.inView = maps.Clone(r.view.inView)
	r.view.inView[ghost] = true
	n, up := r.peersLocked()
	w := &protos.CRDTEntry{Key: k.id}
	r.mu.Unlock()
	if n != 4 || len(up) != 3 {
		t.Fatalf("view of %d members, %d up peers; want 4 and 3", n, len(up))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := r.replicate(ctx, k.id, w, All); err != nil {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
}
