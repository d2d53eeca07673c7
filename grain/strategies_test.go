package grain_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/grain/graintest"
)

func get(t *testing.T, h *grain.Host, kind, id string) int64 {
	t.Helper()
	r, err := grain.Get[*wrapperspb.Int64Value](h, kind, id).Call(ctxT(t, 5*time.Second), wrapperspb.String("get"))
	if err != nil {
		t.Fatalf("get %s/%s from %s: %v", kind, id, h.Self(), err)
	}
	return r.Value
}

func TestSingletonLivesOnTheOldestAndMovesWhenItLeaves(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 3, func(int) []grain.Kind {
		k := counterKind(reg, "single", grain.Singleton)
		k.New = func(string) grain.Grain { return &counter{reg: reg, deactivateDelay: 20 * time.Millisecond} }
		return []grain.Kind{k}
	})
	oldest := c.Host(0).Self()
	for _, h := range c.Hosts() {
		for _, id := range []string{"a", "b"} {
			if m := add(t, h, "single", id); m != oldest {
				t.Fatalf("singleton %s on %s, want the oldest %s", id, m, oldest)
			}
		}
	}
	if w := reg.where("single/a"); len(w) != 1 || w[oldest] != 1 {
		t.Fatalf("activations of single/a: %v", w)
	}
	c.Stop(0) // graceful: deactivated before the member leaves
	next := c.Host(1).Self()
	for _, i := range []int{1, 2} {
		if m := add(t, c.Host(i), "single", "a"); m != next {
			t.Fatalf("after the oldest left: singleton on %s, want %s", m, next)
		}
	}
	if d := reg.duplicates(); len(d) > 0 {
		t.Fatal(d)
	}
	// The old activation ended before the new one began.
	assertOrder(t, reg, "single/a", oldest, next)
}

// assertOrder checks that key's activation on from was deactivated before it
// was activated on to.
func assertOrder(t *testing.T, reg *registry, key, from, to string) {
	t.Helper()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	deact := slices.Index(reg.events, "deactivate "+key+" on "+from)
	act := slices.Index(reg.events, "activate "+key+" on "+to)
	if deact < 0 || act < 0 || deact > act {
		t.Fatalf("%s: deactivation on %s at %d, activation on %s at %d; events %v", key, from, deact, to, act, reg.events)
	}
}

func TestReplicatedCallGoesToOneAndBroadcastToAll(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 3, func(i int) []grain.Kind {
		k := counterKind(reg, "repl", grain.Replicated)
		if i == 2 {
			k.New = nil // member 2 calls but does not host
		}
		return []grain.Kind{k}
	})
	h0, h1, h2 := c.Host(0), c.Host(1), c.Host(2)
	if m := add(t, h0, "repl", "cfg"); m != h0.Self() {
		t.Fatalf("call from a hosting member went to %s", m)
	}
	if m := add(t, h1, "repl", "cfg"); m != h1.Self() {
		t.Fatalf("call from a hosting member went to %s", m)
	}
	if m := add(t, h2, "repl", "cfg"); m != h0.Self() && m != h1.Self() {
		t.Fatalf("call from a non-hosting member went to %s", m)
	}
	if err := grain.Get[*wrapperspb.StringValue](h2, "repl", "cfg").Broadcast(context.Background(), wrapperspb.Int64(10)); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return get(t, h0, "repl", "cfg") >= 11 && get(t, h1, "repl", "cfg") >= 11 }, 5*time.Second, "broadcast reaches both replicas")
	if w := reg.where("repl/cfg"); len(w) != 2 {
		t.Fatalf("replicas: %v, want one on each hosting member", w)
	}
}

func TestLocalRunsOnTheCaller(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 3, func(i int) []grain.Kind {
		k := counterKind(reg, "local", grain.Local)
		if i == 2 {
			k.New = nil
		}
		return []grain.Kind{k}
	})
	for _, i := range []int{0, 1} {
		h := c.Host(i)
		if m := add(t, h, "local", "x"); m != h.Self() {
			t.Fatalf("local grain of %s ran on %s", h.Self(), m)
		}
	}
	if w := reg.where("local/x"); len(w) != 2 {
		t.Fatalf("local activations %v, want one per caller", w)
	}
	_, err := grain.Get[*wrapperspb.StringValue](c.Host(2), "local", "x").Call(ctxT(t, time.Second), wrapperspb.Int64(1))
	if !errors.Is(err, grain.ErrNoMemberForKind) {
		t.Fatalf("Local kind on a member that does not host it: %v", err)
	}
}

func TestPreferLocalActivatesOnTheFirstCallerAndStaysUnique(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 3, func(int) []grain.Kind { return []grain.Kind{counterKind(reg, "pl", grain.PreferLocal)} })
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("p%d", i)
		first := c.Host(i % 3)
		if m := add(t, first, "pl", id); m != first.Self() {
			t.Fatalf("%s: first caller %s, activated on %s", id, first.Self(), m)
		}
		for _, h := range c.Hosts() {
			if m := add(t, h, "pl", id); m != first.Self() {
				t.Fatalf("%s: call from %s reached %s, want %s", id, h.Self(), m, first.Self())
			}
		}
		if got := get(t, c.Host((i+1)%3), "pl", id); got != 4 {
			t.Fatalf("%s count %d, want 4", id, got)
		}
	}
	if d := reg.duplicates(); len(d) > 0 {
		t.Fatal(d)
	}
}

func TestLeastLoadedPicksTheEmptiestMember(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 3, func(i int) []grain.Kind {
		ks := []grain.Kind{counterKind(reg, "ll", grain.LeastLoaded)}
		if i < 2 { // members 0 and 1 also host "busy", which loads them
			ks = append(ks, counterKind(reg, "busy", grain.Local))
		} else {
			ks = append(ks, grain.Kind{Name: "busy", Placement: grain.Local})
		}
		return ks
	})
	for i := 0; i < 5; i++ {
		add(t, c.Host(0), "busy", fmt.Sprintf("b%d", i))
		add(t, c.Host(1), "busy", fmt.Sprintf("b%d", i))
	}
	empty := c.Host(2).Self()
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("l%d", i)
		if m := add(t, c.Host(i%2), "ll", id); m != empty {
			t.Fatalf("%s placed on %s, want the least loaded %s (loads %d, %d, %d)", id, m, empty,
				c.Host(0).Activations(), c.Host(1).Activations(), c.Host(2).Activations())
		}
	}
	// Now member 2 has 4; the next ones balance across.
	seen := map[string]bool{}
	for i := 4; i < 16; i++ {
		seen[add(t, c.Host(2), "ll", fmt.Sprintf("l%d", i))] = true
	}
	if len(seen) < 2 {
		t.Fatalf("12 more identities all on %v", seen)
	}
	if d := reg.duplicates("ll"); len(d) > 0 {
		t.Fatal(d)
	}
}

func TestRolePlacesOnMatchingMembers(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 3, func(int) []grain.Kind {
		k := counterKind(reg, "worker", grain.Role)
		k.Role = map[string]string{"role": "worker"}
		nobody := counterKind(reg, "gpu", grain.Role)
		nobody.Role = map[string]string{"gpu": "yes"}
		return []grain.Kind{k, nobody}
	}, func(o *graintest.Options) {
		o.Labels = func(i int) map[string]string {
			if i == 1 {
				return map[string]string{"role": "worker"}
			}
			return map[string]string{"role": "web"}
		}
	})
	want := c.Host(1).Self()
	for i := 0; i < 10; i++ {
		if m := add(t, c.Host(i%3), "worker", fmt.Sprintf("w%d", i)); m != want {
			t.Fatalf("role grain on %s, want the only worker %s", m, want)
		}
	}
	_, err := grain.Get[*wrapperspb.StringValue](c.Host(0), "gpu", "x").Call(ctxT(t, time.Second), wrapperspb.Int64(1))
	if !errors.Is(err, grain.ErrNoMemberForKind) {
		t.Fatalf("role nobody has: %v", err)
	}
}

func TestPassivationAfterIdleTimeout(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 2, func(int) []grain.Kind {
		k := counterKind(reg, "idle", grain.Partitioned)
		k.IdleTimeout = 100 * time.Millisecond
		keep := counterKind(reg, "keep", grain.Partitioned) // default 60s
		return []grain.Kind{k, keep}
	})
	h := c.Host(0)
	add(t, h, "idle", "i")
	add(t, h, "idle", "i")
	add(t, h, "keep", "k")
	if got := get(t, h, "idle", "i"); got != 2 {
		t.Fatalf("count %d", got)
	}
	eventually(t, func() bool { return len(reg.where("idle/i")) == 0 }, 5*time.Second, "idle activation passivated")
	if len(reg.where("keep/k")) != 1 {
		t.Fatal("an activation with the default timeout passivated")
	}
	// A new call activates it again, with fresh state.
	if got := get(t, h, "idle", "i"); got != 0 {
		t.Fatalf("count after passivation %d, want a new activation", got)
	}
}

func TestJoinMovesOnlyWhatItWinsAndDeactivatesFirst(t *testing.T) {
	reg := newRegistry()
	kinds := func(int) []grain.Kind {
		k := counterKind(reg, "mv", grain.Partitioned)
		k.New = func(string) grain.Grain { return &counter{reg: reg, deactivateDelay: 10 * time.Millisecond} }
		return []grain.Kind{k}
	}
	c := startCluster(t, 3, kinds)
	const n = 80
	before := map[string]string{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("m%d", i)
		before[id] = add(t, c.Host(0), "mv", id)
	}
	if _, err := c.Add(); err != nil {
		t.Fatal(err)
	}
	c.WaitViews(t, 4, 10*time.Second)
	newID := c.Host(3).Self()
	moved := 0
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("m%d", i)
		now := add(t, c.Host(i%4), "mv", id)
		switch {
		case now == before[id]:
		case now == newID:
			moved++
			assertOrder(t, reg, "mv/"+id, before[id], newID)
		default:
			t.Fatalf("%s moved from %s to %s, which did not join", id, before[id], now)
		}
	}
	if moved == 0 || moved > n/2 {
		t.Fatalf("%d of %d identities moved to the new member; want about a quarter", moved, n)
	}
	eventually(t, func() bool { return len(reg.duplicates()) == 0 && reg.liveCount() == n }, 5*time.Second, "one activation per identity")
}
