package cache_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cache"
)

// TestReplicatedReadsLocallyAndWarmsJoiners: every member reads a
// Replicated cache's writes locally; a member that joins receives the
// entries from their owners while writes go on.
func TestReplicatedReadsLocallyAndWarmsJoiners(t *testing.T) {
	e := start(t, 2, cache.Config{Tier: cache.Replicated})
	ctx := ctxT(t, 60*time.Second)
	for n := range 100 {
		if err := e.cache(n%2).Put(ctx, fmt.Sprint("r", n), "v", 0); err != nil {
			t.Fatal(err)
		}
	}
	before := e.cache(1).Stats().Near
	for n := range 100 {
		if v, ok, err := e.cache(1).Get(ctx, fmt.Sprint("r", n)); v != "v" || !ok || err != nil {
			t.Fatalf("Get = %q, %v, %v", v, ok, err)
		}
	}
	if got := e.cache(1).Stats().Near - before; got != 100 {
		t.Fatalf("%d of 100 reads were local, want all", got)
	}
	if _, err := e.c.Add(); err != nil {
		t.Fatal(err)
	}
	e.c.WaitMembers(3, 20*time.Second)
	e.waitHosting(t, 3)
	// A write during the join is not blocked.
	if err := e.cache(0).Put(ctx, "during", "join", 0); err != nil {
		t.Fatal(err)
	}
	for n := range 100 {
		if v, ok, err := e.cache(2).Get(ctx, fmt.Sprint("r", n)); v != "v" || !ok || err != nil {
			t.Fatalf("the new member: Get = %q, %v, %v", v, ok, err)
		}
	}
}

// TestWarmFillsTheNearCache: Warm reads named hot keys near.
func TestWarmFillsTheNearCache(t *testing.T) {
	e := start(t, 2, cache.Config{Tier: cache.Multilevel, NearTTL: time.Minute})
	ctx := ctxT(t, 30*time.Second)
	hot := []string{e.ownedBy(t, 0, "hot"), e.ownedBy(t, 0, "hot2")}
	for _, k := range hot {
		if err := e.cache(0).Put(ctx, k, "h", 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.cache(1).Warm(ctx, hot...); err != nil {
		t.Fatal(err)
	}
	before := e.cache(1).Stats().Near
	for _, k := range hot {
		if v, ok, _ := e.cache(1).Get(ctx, k); v != "h" || !ok {
			t.Fatalf("Get(%q) = %q, %v", k, v, ok)
		}
	}
	if got := e.cache(1).Stats().Near - before; got != 2 {
		t.Fatalf("%d of 2 warmed reads were near", got)
	}
}
