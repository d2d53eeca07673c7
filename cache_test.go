package foundation_test

import (
	"context"
	"testing"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
)

// TestNodeCaches: a node opens caches in its profile's tier (Local in
// development) or a chosen one, and a Multilevel cache is shared by the
// nodes; a node's graceful stop hands its keys over.
func TestNodeCaches(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.Membership.Await(ctx, cluster.AtLeast(2)); err != nil {
			t.Fatal(err)
		}
	}
	local, err := foundation.NewCache(nodes[0], "dev", cache.Strings())
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close(ctx)
	if local.Tier() != cache.Local {
		t.Fatalf("development profile: tier %v, want local", local.Tier())
	}
	shared := make([]*cache.Cache[string, string], 2)
	for i, n := range nodes {
		if shared[i], err = foundation.NewCache(n, "shared", cache.Strings(), func(c *cache.Config) { c.Tier = cache.Multilevel }); err != nil {
			t.Fatal(err)
		}
	}
	defer shared[0].Close(ctx)
	clustertest.Eventually(t, func() bool { return len(shared[0].Members()) == 2 && len(shared[1].Members()) == 2 },
		20*time.Second, "both nodes host the cache")
	var owned []string
	for i := 0; len(owned) < 5; i++ {
		k := "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if shared[0].Owner(k) == nodes[1].Membership.Self().ID {
			owned = append(owned, k)
			if err := shared[0].Put(ctx, k, "v", 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v, ok, err := shared[1].Get(ctx, owned[0]); v != "v" || !ok || err != nil {
		t.Fatalf("the other node reads %q, %v, %v", v, ok, err)
	}
	if err := nodes[1].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range owned {
		if v, ok, err := shared[0].Get(ctx, k); v != "v" || !ok || err != nil {
			t.Fatalf("after node 1 stopped, %q reads %q, %v, %v", k, v, ok, err)
		}
	}
}
