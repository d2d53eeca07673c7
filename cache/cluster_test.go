package cache_test

import (
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cache"
)

func TestPartitionedBasics(t *testing.T) {
	e := start(t, 3, cache.Config{Tier: cache.Partitioned})
	ctx := ctxT(t, 30*time.Second)
	for i := range 3 {
		k := e.ownedBy(t, i, "basic")
		if err := e.cache((i+1)%3).Put(ctx, k, "v"+k, 0); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			v, ok, err := e.cache(j).Get(ctx, k)
			if err != nil || !ok || v != "v"+k {
				t.Fatalf("member %d Get(%q) = %q, %v, %v", j, k, v, ok, err)
			}
		}
	}
	c := e.cache(0)
	if ok, err := c.PutNew(ctx, "n", "1", 0); !ok || err != nil {
		t.Fatalf("PutNew on an absent key: %v, %v", ok, err)
	}
	if ok, _ := e.cache(1).PutNew(ctx, "n", "2", 0); ok {
		t.Fatal("PutNew on a present key stored")
	}
	if ok, _ := e.cache(2).Replace(ctx, "absent", "x", 0); ok {
		t.Fatal("Replace on an absent key stored")
	}
	if n, err := e.cache(1).Incr(ctx, "n", 41); n != 42 || err != nil {
		t.Fatalf("Incr = %d, %v; want 42", n, err)
	}
	if err := e.cache(1).Put(ctx, "s", "text", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cache(2).Incr(ctx, "s", 1); !errors.Is(err, cache.ErrNotInteger) {
		t.Fatalf("Incr on text: %v, want ErrNotInteger", err)
	}
	v, ok, err := e.cache(2).Take(ctx, "n")
	if v != "42" || !ok || err != nil {
		t.Fatalf("Take = %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := e.cache(0).Get(ctx, "n"); ok {
		t.Fatal("a taken key is still there")
	}
	all := map[string]string{}
	for i := range 50 {
		all["all-"+itoa(i)] = itoa(i)
	}
	if err := e.cache(0).PutAll(ctx, all, 0); err != nil {
		t.Fatal(err)
	}
	keys := []string{"nope"}
	for k := range all {
		keys = append(keys, k)
	}
	got, err := e.cache(2).GetAll(ctx, keys)
	if err != nil || len(got) != 50 || got["all-7"] != "7" {
		t.Fatalf("GetAll: %d values, %v", len(got), err)
	}
}
