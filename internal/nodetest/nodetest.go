// Package nodetest starts Foundation nodes in one test process: n members
// on 127.0.0.1 with free ports, a static seed list of all of them, a
// secret, the HTTP listener on a free port, each stopped when the test
// ends.
package nodetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/internal/nodeproc"
)

// Start starts n nodes with opts (per member: opts(i)) and waits until each
// sees n members (and, with grains, each grain host does).
func Start(t testing.TB, n int, opts func(i int) []foundation.Option) []*foundation.Node {
	t.Helper()
	ports, err := nodeproc.FreePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, p := range ports[n:] {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	var nodes []*foundation.Node
	for i := 0; i < n; i++ {
		all := []foundation.Option{
			foundation.WithEnv(func(string) (string, bool) { return "", false }),
			foundation.WithLogger(log),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Name = "nodetest"
				c.Provider = cluster.ProviderStatic
				c.Seeds = seeds
				c.Port, c.ClusterPort = ports[i], ports[n+i]
				c.Secret = "nodetest-secret-0123456789"
				c.Telemetry.Address = "127.0.0.1:0"
			}),
		}
		if opts != nil {
			all = append(all, opts(i)...)
		}
		node, err := foundation.Start(context.Background(), all...)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		nodes = append(nodes, node)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = node.Stop(ctx)
		})
	}
	clustertest.Eventually(t, func() bool {
		for _, node := range nodes {
			if len(node.Membership.View().Members) != n || (node.Grains != nil && node.Grains.ViewSize() != n) {
				return false
			}
		}
		return true
	}, 15*time.Second, fmt.Sprintf("%d members see each other", n))
	return nodes
}
