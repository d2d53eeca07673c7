package foundation_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/provharness"
)

// TestEveryProviderFormsAndSeesALeave: for each discovery back-end in its
// harness, three members chosen by configuration alone form a cluster, one
// leaves, and the others see it leave.
func TestEveryProviderFormsAndSeesALeave(t *testing.T) {
	for _, name := range provharness.Names {
		t.Run(name, func(t *testing.T) {
			if name == "etcd" {
				// The etcd client's gRPC logs through grpclog, which the
				// next member's proto.actor remote.Start rewrites: members
				// in one process race (one member per process does not).
				// examples/node runs etcd members as processes instead.
				t.Skip("etcd members run as separate processes: examples/node TestProvidersByEnvironment")
			}
			all, err := nodeproc.FreePorts(6)
			if err != nil {
				t.Fatal(err)
			}
			ports, cports := all[:3], all[3:] // remoting, cluster: discovery finds cluster ports
			b, err := provharness.Start(name, cports)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			nodes := make([]*foundation.Node, 3)
			for i := range nodes {
				opts := append([]foundation.Option{
					foundation.WithEnv(func(string) (string, bool) { return "", false }),
					foundation.WithLogger(zap.NewNop()),
					foundation.WithConfig(func(c *cluster.Config) {
						c.Name = "providers"
						c.Secret = "providers-secret-0123456789"
						c.Host = "127.0.0.1"
						c.Port = ports[i]
						c.ClusterPort = cports[i]
						b.Configure(i, c)
					}),
				}, b.Options(i)...)
				n, err := foundation.Start(context.Background(), opts...)
				if err != nil {
					t.Fatalf("member %d: %v", i, err)
				}
				nodes[i] = n
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_ = n.Stop(ctx)
				}()
			}
			clustertest.Eventually(t, func() bool {
				for _, n := range nodes {
					if len(n.Membership.Members()) != 3 {
						return false
					}
				}
				return true
			}, 15*time.Second, name+": three members see each other")
			events, cancel := nodes[0].Membership.Subscribe(64)
			defer cancel()
			leaving := nodes[2].Membership.Self().ID
			ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
			defer stop()
			start := time.Now()
			if err := nodes[2].Stop(ctx); err != nil {
				t.Fatalf("stop: %v", err)
			}
			// The leave itself is bounded by leave_timeout (1s); the
			// whole Stop also stops the actor system. A hang shows here;
			// the speed is examples/node's and the bench's to measure.
			if d := time.Since(start); d > 4500*time.Millisecond {
				t.Errorf("%s: Stop took %v, want at most 4.5s", name, d)
			}
			sawLeft := false
			for !sawLeft {
				select {
				case ev := <-events:
					if ev.Member.ID == leaving {
						if ev.Kind != cluster.Left {
							t.Fatalf("%s: member 0 saw %v for the leaving member, want left", name, ev.Kind)
						}
						sawLeft = true
					}
				case <-ctx.Done():
					t.Fatalf("%s: member 0 never saw member 2 leave", name)
				}
			}
			clustertest.Eventually(t, func() bool {
				return len(nodes[0].Membership.Members()) == 2 && len(nodes[1].Membership.Members()) == 2
			}, 5*time.Second, name+": two members remain in both views "+strconv.Itoa(len(nodes[1].Membership.Members())))
		})
	}
}
