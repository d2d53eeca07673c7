package foundation_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/work"
)

// TestNodeWork: kinds registered at Start run on the members of a role
// (Node.Work), and results cached cluster-wide in a Multilevel cache are
// not computed again by a run from another node.
func TestNodeWork(t *testing.T) {
	var calls atomic.Int32
	double := work.Kind[int, int]{Name: "double", Handler: func(_ context.Context, i int) (int, error) {
		calls.Add(1)
		return 2 * i, nil
	}}
	nodes := startNodes(t, 3, func(i int, c *cluster.Config) {
		if i > 0 {
			c.Labels = map[string]string{"tier": "ai"}
		}
	}, foundation.WithTasks(double), foundation.WithWorkConfig(func(c *work.Config) { c.Workers = 3 }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.Membership.Await(ctx, cluster.AtLeast(3)); err != nil {
			t.Fatal(err)
		}
		if k := n.Work.Kinds(); len(k) != 1 || k[0] != "double" || n.Work.Workers("double") != 3 {
			t.Fatalf("kinds %v, %d workers", k, n.Work.Workers("double"))
		}
	}
	caches := make([]*cache.Cache[string, int], 2)
	for i := range caches {
		var err error
		if caches[i], err = foundation.NewCache(nodes[i], "double", cache.JSON[string, int](), func(c *cache.Config) { c.Tier = cache.Multilevel }); err != nil {
			t.Fatal(err)
		}
		defer caches[i].Close(ctx)
	}
	clustertest.Eventually(t, func() bool { return len(caches[0].Members()) == 2 && len(caches[1].Members()) == 2 },
		20*time.Second, "both nodes host the cache")
	key := func(i int) string { return "double/" + strconv.Itoa(i) }
	tasks := []int{1, 2, 3, 4, 5, 6, 7, 8}
	role := work.Role(map[string]string{"tier": "ai"})
	res, err := work.Run(ctx, nodes[0].Work, double, tasks, role, work.CacheResults(caches[0], key))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Value != 2*tasks[i] || r.Cached || (r.Member != nodes[1].Membership.Self().ID && r.Member != nodes[2].Membership.Self().ID) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if calls.Load() != 8 {
		t.Fatalf("%d handler calls, want 8", calls.Load())
	}
	res, err = work.Run(ctx, nodes[1].Work, double, tasks, role, work.CacheResults(caches[1], key))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.Cached || r.Value != 2*tasks[i] {
			t.Fatalf("second run, result %d: %+v", i, r)
		}
	}
	if calls.Load() != 8 {
		t.Fatalf("%d handler calls after the cached run, want still 8", calls.Load())
	}
}
