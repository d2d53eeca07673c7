package crdt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster/clustertest"
)

// Bad input fails with a documented error and corrupts nothing.
func TestBadInput(t *testing.T) {
	c := startReplicators(t, 2, func(int) Config {
		return Config{BatchWindow: time.Millisecond, AntiEntropyInterval: 50 * time.Millisecond, MaxValueSize: 1024}
	})
	r0, r1 := c.rep(0), c.rep(1)
	ctx := bg(t)
	inc := func(g *GCounter, op Op) { g.Increment(op.Replica, 1) }

	// A key used with two types.
	if err := Update(ctx, r0, GCounterKey("k"), Local, inc); err != nil {
		t.Fatal(err)
	}
	err := Update(ctx, r0, PNCounterKey("k"), Local, func(p *PNCounter, op Op) { p.Increment(op.Replica, 5) })
	if !errors.Is(err, ErrKeyType) {
		t.Fatalf("PNCounter on a GCounter key: %v, want ErrKeyType", err)
	}
	if _, err := Get(ctx, r0, ORSetKey("k", StringCodec()), Local); !errors.Is(err, ErrKeyType) {
		t.Fatalf("Get as an ORSet: %v, want ErrKeyType", err)
	}
	// The other member holds the key raw until it reads it: the wrong
	// type fails there too, the right one works.
	clustertest.Eventually(t, func() bool { return len(r1.Keys("k")) == 1 }, 5*time.Second, "k reaches member 1")
	if _, err := Get(ctx, r1, PNCounterKey("k"), Local); !errors.Is(err, ErrKeyType) {
		t.Fatalf("member 1: Get as a PNCounter: %v, want ErrKeyType", err)
	}
	if v, err := Get(ctx, r1, GCounterKey("k"), Local); err != nil || v.Value() != 1 {
		t.Fatalf("member 1: %v, %v", v, err)
	}

	// Two members using one id with different types: each keeps its own,
	// the other's replicas are refused and counted.
	if err := Update(ctx, r0, GCounterKey("clash"), Local, inc); err != nil {
		t.Fatal(err)
	}
	if err := Update(ctx, r1, ORSetKey("clash", StringCodec()), Local, func(s *ORSet[string], op Op) { s.Add(op.Replica, "x") }); err != nil && !errors.Is(err, ErrKeyType) {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { return r0.Stats().Rejected+r1.Stats().Rejected > 0 }, 5*time.Second, "a clashing replica is refused")
	if v, err := Get(ctx, r0, GCounterKey("clash"), Local); err != nil || v.Value() != 1 {
		t.Fatalf("member 0's counter: %v, %v", v, err)
	}

	// An oversize value.
	reg := LWWRegisterKey("reg", StringCodec())
	set := func(s string) error {
		return Update(ctx, r0, reg, Local, func(x *LWWRegister[string], op Op) { x.Set(op.Replica, s, op.Clock, op.Now) })
	}
	if err := set("small"); err != nil {
		t.Fatal(err)
	}
	if err := set(strings.Repeat("x", 2000)); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("a 2000-byte value with MaxValueSize 1024: %v, want ErrValueTooLarge", err)
	}
	if v, _ := Get(ctx, r0, reg, Local); func() string { s, _ := v.Get(); return s }() != "small" {
		t.Fatalf("the refused write changed the value")
	}
	set2 := ORSetKey("growing", StringCodec())
	var tooLarge error
	for i := 0; i < 200 && tooLarge == nil; i++ {
		tooLarge = Update(ctx, r0, set2, Local, func(s *ORSet[string], op Op) { s.Add(op.Replica, fmt.Sprintf("element-%04d", i)) })
	}
	if !errors.Is(tooLarge, ErrValueTooLarge) {
		t.Fatalf("a growing set: %v, want ErrValueTooLarge", tooLarge)
	}
	if v, _ := Get(ctx, r0, set2, Local); func() int { b, _ := v.MarshalBinary(); return len(b) }() > 1024 {
		t.Fatal("the set grew past MaxValueSize")
	}

	// Unknown consistency levels and invalid keys.
	for _, cl := range []Consistency{To(0), To(-1), MajorityPlus(-1), {level: 9}} {
		if err := Update(ctx, r0, GCounterKey("k"), cl, inc); !errors.Is(err, ErrConsistency) {
			t.Fatalf("%v: %v, want ErrConsistency", cl, err)
		}
		if _, err := Get(ctx, r0, GCounterKey("k"), cl); !errors.Is(err, ErrConsistency) {
			t.Fatalf("Get %v: %v, want ErrConsistency", cl, err)
		}
	}
	for _, k := range []Key[*GCounter]{GCounterKey(""), GCounterKey("a*"), GCounterKey(strings.Repeat("x", MaxKeyLen+1)), {}} {
		if err := Update(ctx, r0, k, Local, inc); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("key %q: %v, want ErrInvalidKey", k.id, err)
		}
	}
	if _, err := r0.Subscribe("a*b"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Subscribe(a*b): %v", err)
	}
	if _, err := NewReplicator(c.Member(0).Membership, Config{MaxValueSize: -1, Expire: map[string]time.Duration{"x": 0}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
	// The counter is intact after all this.
	if v, err := Get(ctx, r0, GCounterKey("k"), All); err != nil || v.Value() != 1 {
		t.Fatalf("k: %v, %v", v, err)
	}
}

// Delete tombstones a key everywhere; it cannot be re-created.
func TestDeleteIsForever(t *testing.T) {
	c := startReplicators(t, 3, nil)
	k := ORSetKey("doomed", StringCodec())
	ctx := bg(t)
	if err := Update(ctx, c.rep(0), k, All, func(s *ORSet[string], op Op) { s.Add(op.Replica, "a") }); err != nil {
		t.Fatal(err)
	}
	if err := Delete(ctx, c.rep(1), k, Majority); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		for _, r := range c.running() {
			if _, err := Get(ctx, r, k, Local); !errors.Is(err, ErrDeleted) {
				return false
			}
		}
		return true
	}, 5*time.Second, "every member sees the tombstone")
	if err := Update(ctx, c.rep(2), k, Local, func(s *ORSet[string], op Op) { s.Add(op.Replica, "b") }); !errors.Is(err, ErrDeleted) {
		t.Fatalf("re-creating a deleted key: %v, want ErrDeleted", err)
	}
	if _, err := Get(ctx, c.rep(0), ORSetKey("never", StringCodec()), Majority); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent key: %v, want ErrNotFound", err)
	}
}

// Subscriptions get batched notifications for a key or a prefix; shared
// maps and values read like local ones and notify on change.
func TestSubscribeAndShared(t *testing.T) {
	c := startReplicators(t, 2, nil)
	ctx := bg(t)
	sub, err := c.rep(1).Subscribe("cart/*")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := range 20 {
		k := PNCounterKey(fmt.Sprintf("cart/%d", i%3))
		if err := Update(ctx, c.rep(0), k, Local, func(p *PNCounter, op Op) { p.Increment(op.Replica, 1) }); err != nil {
			t.Fatal(err)
		}
	}
	_ = Update(ctx, c.rep(0), GCounterKey("other"), Local, func(g *GCounter, op Op) { g.Increment(op.Replica, 1) })
	seen := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for len(seen) < 3 {
		select {
		case ch := <-sub.C():
			for _, k := range ch.Keys {
				if !strings.HasPrefix(k, "cart/") {
					t.Fatalf("notified of %q", k)
				}
				seen[k] = true
			}
		case <-deadline:
			t.Fatalf("notified of %v only", seen)
		}
	}

	m0 := NewSharedMap(c.rep(0), "prices", StringCodec(), Int64Codec(), Local)
	m1 := NewSharedMap(c.rep(1), "prices", StringCodec(), Int64Codec(), Local)
	w, stop, err := m1.Watch()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := m0.Put(ctx, "apple", 3); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w:
	case <-time.After(5 * time.Second):
		t.Fatal("no change notification")
	}
	clustertest.Eventually(t, func() bool { v, ok := m1.Get("apple"); return ok && v == 3 }, 5*time.Second, "the price reaches member 1")
	if err := m1.Delete(ctx, "apple"); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { return m0.Len() == 0 }, 5*time.Second, "the delete reaches member 0")

	v0 := NewSharedValue(c.rep(0), "leader", StringCodec(), Majority)
	v1 := NewSharedValue(c.rep(1), "leader", StringCodec(), Majority)
	if err := v1.Set(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	if v, ok := v0.Get(); !ok || v != "node-1" {
		t.Fatalf("after a majority write of 2: %q %v", v, ok)
	}
}

// Keys matching an expiry pattern vanish everywhere after inactivity; an
// access anywhere keeps them.
func TestExpireAfterInactivity(t *testing.T) {
	c := startReplicators(t, 2, func(int) Config {
		return Config{BatchWindow: time.Millisecond, AntiEntropyInterval: 20 * time.Millisecond, PruningInterval: 20 * time.Millisecond,
			Expire: map[string]time.Duration{"cache/*": 300 * time.Millisecond}}
	})
	ctx := bg(t)
	k := GCounterKey("cache/x")
	keep := GCounterKey("kept")
	for _, key := range []Key[*GCounter]{k, keep} {
		if err := Update(ctx, c.rep(0), key, Local, func(g *GCounter, op Op) { g.Increment(op.Replica, 1) }); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool { return len(c.rep(1).Keys("*")) == 2 }, 5*time.Second, "both keys replicate")
	clustertest.Eventually(t, func() bool {
		return len(c.rep(0).Keys("cache/*")) == 0 && len(c.rep(1).Keys("cache/*")) == 0
	}, 5*time.Second, "the cache key expires on both members")
	if len(c.rep(0).Keys("kept")) != 1 || len(c.rep(1).Keys("kept")) != 1 {
		t.Fatal("a key without expiry vanished")
	}
	// It can be created again.
	if err := Update(ctx, c.rep(1), k, Local, func(g *GCounter, op Op) { g.Increment(op.Replica, 1) }); err != nil {
		t.Fatal(err)
	}
	_ = context.Background
}
