package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster/clustertest"
)

// TestGetOrComputeOncePerKey: 100 concurrent callers spread over 3
// members run the computation once.
func TestGetOrComputeOncePerKey(t *testing.T) {
	e := start(t, 3, cache.Config{Tier: cache.Multilevel})
	ctx := ctxT(t, 60*time.Second)
	for _, owner := range []int{0, 1, 2} {
		key := e.ownedBy(t, owner, "compute")
		var runs, entered atomic.Int32
		release := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				entered.Add(1)
				v, err := e.cache(i%3).GetOrCompute(ctx, key, func(context.Context) (string, error) {
					runs.Add(1)
					<-release
					return "computed", nil
				})
				if err == nil && v != "computed" {
					err = fmt.Errorf("got %q", v)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		// Let the callers pile up on the lease before the computation
		// ends: every one has called GetOrCompute while it runs.
		clustertest.Eventually(t, func() bool { return runs.Load() >= 1 && entered.Load() == 100 }, 20*time.Second,
			"a computation starts and every caller is in GetOrCompute")
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := runs.Load(); n != 1 {
			t.Fatalf("owner %d: the computation ran %d times, want 1", owner, n)
		}
	}
}

// TestGetOrComputeErrorsNotCached: a failure reaches the caller and the
// next call computes again, unless CacheErrors.
func TestGetOrComputeErrorsNotCached(t *testing.T) {
	e := start(t, 3, cache.Config{Tier: cache.Partitioned})
	ctx := ctxT(t, 30*time.Second)
	boom := errors.New("boom")
	key := e.ownedBy(t, 1, "err")
	var runs atomic.Int32
	fail := func(context.Context) (string, error) { runs.Add(1); return "", boom }
	if _, err := e.cache(0).GetOrCompute(ctx, key, fail); !errors.Is(err, boom) {
		t.Fatalf("first: %v, want boom", err)
	}
	if _, err := e.cache(2).GetOrCompute(ctx, key, fail); !errors.Is(err, boom) {
		t.Fatalf("second: %v, want boom", err)
	}
	if runs.Load() != 2 {
		t.Fatalf("computations %d, want 2 (errors are not cached)", runs.Load())
	}
	if _, err := e.cache(0).GetOrCompute(ctx, key, fail, cache.CacheErrors(time.Minute)); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := e.cache(2).GetOrCompute(ctx, key, fail); !errors.Is(err, cache.ErrCompute) {
		t.Fatalf("a cached failure: %v, want ErrCompute", err)
	}
	if runs.Load() != 3 {
		t.Fatalf("computations %d, want 3 (the cached failure answers)", runs.Load())
	}
}

// TestNearInvalidation: a write on member A is never served stale from
// another member's near cache once the write returned.
func TestNearInvalidation(t *testing.T) {
	e := start(t, 3, cache.Config{Tier: cache.Multilevel, NearTTL: time.Minute})
	ctx := ctxT(t, 60*time.Second)
	for owner := range 3 {
		key := e.ownedBy(t, owner, "near")
		for round := range 20 {
			want := fmt.Sprintf("v%d", round)
			if err := e.cache(round%3).Put(ctx, key, want, 0); err != nil {
				t.Fatal(err)
			}
			for j := range 3 {
				for range 2 { // the second read is from the near cache
					v, ok, err := e.cache(j).Get(ctx, key)
					if err != nil || !ok || v != want {
						t.Fatalf("owner %d round %d: member %d read %q, %v, %v; want %q", owner, round, j, v, ok, err, want)
					}
				}
			}
		}
		if err := e.cache(owner).Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			if v, ok, _ := e.cache(j).Get(ctx, key); ok {
				t.Fatalf("member %d reads %q after a delete", j, v)
			}
		}
	}
	if s := e.cache(1).Stats(); s.Hits == 0 {
		t.Fatalf("stats %+v: no hits", s)
	}
}

// TestKillOwnerTurnsKeysIntoMisses: kill -9 of an owner: its keys become
// misses (never errors), the next GetOrCompute recomputes, the other
// members' keys stay.
func TestKillOwnerTurnsKeysIntoMisses(t *testing.T) {
	e := start(t, 3, cache.Config{Tier: cache.Multilevel, NearTTL: 200 * time.Millisecond})
	ctx := ctxT(t, 60*time.Second)
	dead := e.ownedBy(t, 2, "dead")
	kept := e.ownedBy(t, 1, "kept")
	for _, k := range []string{dead, kept} {
		if err := e.cache(0).Put(ctx, k, "old", 0); err != nil {
			t.Fatal(err)
		}
	}
	e.c.Kill(2)
	// Right away and while the membership notices: misses or hits, never
	// errors.
	clustertest.Eventually(t, func() bool {
		_, ok, err := e.cache(0).Get(ctx, dead)
		if err != nil {
			t.Fatalf("Get of a dead owner's key: %v", err)
		}
		return !ok && len(e.cache(0).Members()) == 2 && len(e.cache(1).Members()) == 2
	}, 20*time.Second, "the dead owner's key is a miss on a 2-member topology")
	var runs atomic.Int32
	v, err := e.cache(1).GetOrCompute(ctx, dead, func(context.Context) (string, error) { runs.Add(1); return "new", nil })
	if err != nil || v != "new" || runs.Load() != 1 {
		t.Fatalf("GetOrCompute after the kill = %q, %v, %d runs", v, err, runs.Load())
	}
	if v, ok, err := e.cache(0).Get(ctx, kept); v != "old" || !ok || err != nil {
		t.Fatalf("a surviving owner's key: %q, %v, %v", v, ok, err)
	}
}

// TestBackupSurvivesKill: with a backup copy, an owner's kill -9 loses
// nothing.
func TestBackupSurvivesKill(t *testing.T) {
	e := start(t, 3, cache.Profile("enterprise"))
	ctx := ctxT(t, 60*time.Second)
	key := e.ownedBy(t, 2, "backup")
	if err := e.cache(0).Put(ctx, key, "safe", 0); err != nil {
		t.Fatal(err)
	}
	e.c.Kill(2)
	clustertest.Eventually(t, func() bool { return len(e.cache(0).Members()) == 2 }, 20*time.Second, "member 2 is gone")
	clustertest.Eventually(t, func() bool {
		v, ok, err := e.cache(0).Get(ctx, key)
		return err == nil && ok && v == "safe"
	}, 10*time.Second, "the backup answers")
}

// TestGracefulLeaveKeepsKeys: a member that leaves hands its keys over:
// hits after the move.
func TestGracefulLeaveKeepsKeys(t *testing.T) {
	e := start(t, 3, cache.Config{Tier: cache.Partitioned})
	ctx := ctxT(t, 60*time.Second)
	var keys []string
	for n := range 30 {
		k := e.ownedBy(t, 2, fmt.Sprintf("leave%d", n))
		keys = append(keys, k)
		if err := e.cache(0).Put(ctx, k, "v"+k, 0); err != nil {
			t.Fatal(err)
		}
	}
	e.c.Stop(2)
	clustertest.Eventually(t, func() bool { return len(e.cache(0).Members()) == 2 && len(e.cache(1).Members()) == 2 }, 20*time.Second, "member 2 left")
	for _, k := range keys {
		for j := range 2 {
			if v, ok, err := e.cache(j).Get(ctx, k); v != "v"+k || !ok || err != nil {
				t.Fatalf("member %d Get(%q) after the leave = %q, %v, %v", j, k, v, ok, err)
			}
		}
	}
}

// TestJoinWarmsFromOwners: a member that joins takes over the keys it now
// owns from their previous owners: hits, served by it.
func TestJoinWarmsFromOwners(t *testing.T) {
	e := start(t, 2, cache.Config{Tier: cache.Partitioned})
	ctx := ctxT(t, 60*time.Second)
	all := map[string]string{}
	for n := range 200 {
		all[fmt.Sprintf("join-%d", n)] = fmt.Sprint(n)
	}
	if err := e.cache(0).PutAll(ctx, all, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Add(); err != nil {
		t.Fatal(err)
	}
	e.c.WaitMembers(3, 20*time.Second)
	e.waitHosting(t, 3)
	moved := 0
	for k, want := range all {
		if e.cache(2).Owner(k) == e.id(2) {
			moved++
		}
		if v, ok, err := e.cache(2).Get(ctx, k); v != want || !ok || err != nil {
			t.Fatalf("Get(%q) on the new member = %q, %v, %v", k, v, ok, err)
		}
	}
	if moved == 0 || moved > 120 {
		t.Fatalf("the new member owns %d of 200 keys; want about a third", moved)
	}
}

// TestTTLEveryTier: entries expire on every tier.
func TestTTLEveryTier(t *testing.T) {
	local, err := cache.New[string, string](nil, "local", cache.Strings(), cache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close(context.Background())
	caches := []*cache.Cache[string, string]{local}
	for _, tier := range []cache.Tier{cache.Partitioned, cache.Replicated, cache.Multilevel} {
		e := start(t, 3, cache.Config{Tier: tier})
		caches = append(caches, e.cache(0), e.cache(1))
	}
	ctx := ctxT(t, 60*time.Second)
	for i, c := range caches {
		key := fmt.Sprintf("ttl-%d", i)
		if err := c.Put(ctx, key+"-long", "long", time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, ok, _ := c.Get(ctx, key+"-long"); !ok || v != "long" {
			t.Fatalf("%v: a fresh entry misses", c.Tier())
		}
		if err := c.Put(ctx, key, "short", 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if d, ok, _ := c.TTL(ctx, key+"-long"); !ok || d <= 59*time.Minute || d > time.Hour {
			t.Fatalf("%v: TTL = %v, %v", c.Tier(), d, ok)
		}
		clustertest.Eventually(t, func() bool { _, ok, _ := c.Get(ctx, key); return !ok }, 10*time.Second,
			fmt.Sprintf("%v: the entry expires", c.Tier()))
		if ok, err := c.Expire(ctx, key+"-long", 200*time.Millisecond); !ok || err != nil {
			t.Fatalf("%v: Expire: %v, %v", c.Tier(), ok, err)
		}
		clustertest.Eventually(t, func() bool { _, ok, _ := c.Get(ctx, key+"-long"); return !ok }, 10*time.Second,
			fmt.Sprintf("%v: Expire shortens the life", c.Tier()))
	}
}

// TestPartitionHealNoStaleNear: writes during a partition, then a heal,
// leave no near copy older than the owner's value.
func TestPartitionHealNoStaleNear(t *testing.T) {
	e := start(t, 3, cache.Config{Tier: cache.Multilevel, NearTTL: 2 * time.Second, WriteTimeout: 200 * time.Millisecond})
	ctx := ctxT(t, 90*time.Second)
	keys := []string{e.ownedBy(t, 0, "ph"), e.ownedBy(t, 1, "ph")}
	for _, k := range keys {
		if err := e.cache(0).Put(ctx, k, "before", 0); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			if v, _, _ := e.cache(j).Get(ctx, k); v != "before" {
				t.Fatalf("member %d: %q", j, v)
			}
		}
	}
	// Cut member 2 off; write while it cannot hear the invalidations.
	e.c.Isolate(2)
	for _, k := range keys {
		if err := e.cache(0).Put(ctx, k, "after", 0); err != nil {
			t.Fatal(err)
		}
	}
	e.c.Network.HealAll()
	e.waitHosting(t, 3)
	for _, k := range keys {
		clustertest.Eventually(t, func() bool {
			v, ok, err := e.cache(2).Get(ctx, k)
			return err == nil && ok && v == "after"
		}, 20*time.Second, "member 2 reads the value written during the partition")
	}
}
