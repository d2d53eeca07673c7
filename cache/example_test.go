package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/foundation-go/foundation/cache"
)

// A Local cache with GetOrCompute: the second call is a hit.
func Example() {
	ctx := context.Background()
	users, err := cache.New(nil, "users", cache.JSON[int, string](), cache.Profile("development"))
	if err != nil {
		panic(err)
	}
	defer users.Close(ctx)
	load := func(context.Context) (string, error) { fmt.Println("loading user 7"); return "Ada", nil }
	for range 2 {
		name, _ := users.GetOrCompute(ctx, 7, load, cache.WithTTL(time.Minute))
		fmt.Println(name)
	}
	s := users.Stats()
	fmt.Println("hits", s.Hits, "misses", s.Misses)
	// Output:
	// loading user 7
	// Ada
	// Ada
	// hits 1 misses 1
}

// Profiles choose the tier.
func ExampleProfile() {
	for _, p := range []string{"development", "production", "enterprise"} {
		cfg := cache.Profile(p)
		fmt.Println(p, cfg.Tier, "backups", cfg.Backups)
	}
	// Output:
	// development local backups 0
	// production multilevel backups 0
	// enterprise multilevel backups 1
}

// Incr counts in a cache of integers.
func ExampleCache_Incr() {
	ctx := context.Background()
	hits, _ := cache.New(nil, "hits", cache.JSON[string, int64](), cache.Config{})
	defer hits.Close(ctx)
	_, _ = hits.Incr(ctx, "/home", 1)
	n, _ := hits.Incr(ctx, "/home", 2)
	v, _, _ := hits.Get(ctx, "/home")
	fmt.Println(n, v)
	// Output: 3 3
}
