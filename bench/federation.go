package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/federation"
	"github.com/foundation-go/foundation/federation/fedtest"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/service"
)

func init() {
	register("federation", "cross-cluster service call against an intra-cluster one, spoke to spoke through a hub, global-call fallback when a cluster is killed (clusters of 2-3 nodes on 127.0.0.1, development profile timings)", runFederation)
}

// fedEcho answers a call with its cluster's name and the request.
type fedEcho struct {
	actor.ServerBase
	cluster string
}

func (e fedEcho) HandleCall(_ actor.Process, req any) (any, error) {
	return wrapperspb.String(e.cluster + ":" + req.(*wrapperspb.StringValue).GetValue()), nil
}

// benchFed is a federation of foundation nodes: per cluster, nodes 0 and
// 1 are gateways, the others workers.
type benchFed struct {
	// net carries the links, so that a cluster's gateways can be cut off.
	net   *clustertest.Network
	gw    map[string][]string
	nodes map[string][]*foundation.Node
	feds  map[string][]*federation.Federation
	stops map[string]func()
}

func (b *benchFed) stop(name string) {
	for _, f := range b.feds[name] {
		_ = f.Stop(context.Background())
	}
	if s := b.stops[name]; s != nil {
		s()
	}
	delete(b.stops, name)
}

func (b *benchFed) stopAll() {
	for name := range b.stops {
		b.stop(name)
	}
}

func startBenchFed(topo federation.Topology, members int, priority map[string]int) (*benchFed, error) {
	ca, err := fedtest.NewCA("bench federation CA")
	if err != nil {
		return nil, err
	}
	gw := map[string][]string{}
	for _, c := range topo.Clusters {
		ports, err := nodeproc.FreePorts(2)
		if err != nil {
			return nil, err
		}
		gw[c] = staticSeeds(ports)
	}
	b := &benchFed{net: clustertest.NewNetwork(), gw: gw, nodes: map[string][]*foundation.Node{}, feds: map[string][]*federation.Federation{}, stops: map[string]func(){}}
	for _, name := range topo.Clusters {
		ports, err := nodeproc.FreePorts(members)
		if err != nil {
			b.stopAll()
			return nil, err
		}
		seeds := staticSeeds(ports)
		nodes, _, stop, err := startNodes(ports, nodeSetup{
			configure: func(i int, c *cluster.Config) {
				c.Name = name
				c.Secret = "bench-secret-" + name + "-0123456789"
				c.Provider = "static"
				c.Seeds = seeds
				if i < 2 {
					c.Labels = map[string]string{federation.LabelGateway: "true"}
				}
			},
			ready: seesMembers(members),
		})
		if err != nil {
			b.stopAll()
			return nil, fmt.Errorf("cluster %s: %w", name, err)
		}
		b.nodes[name], b.stops[name] = nodes, stop
		tlsCfg, err := ca.MutualTLS(name)
		if err != nil {
			b.stopAll()
			return nil, err
		}
		remotes := map[string]federation.Remote{}
		for _, n := range topo.Neighbours(name) {
			l := federation.NewLink(name, n)
			remotes[n] = federation.Remote{Gateways: gw[n], Secret: "link-" + l.A + "-" + l.B, Priority: priority[n]}
		}
		for i, n := range nodes {
			cfg := federation.Config{Cluster: name, Topology: topo, Gateway: i < 2, Remotes: remotes, Exports: []string{"echo"}}
			if i < 2 {
				addr := gw[name][i]
				cfg.Listen, cfg.TLS = addr, tlsCfg
				cfg.Dial = b.net.Dialer(func() string { return addr })
			}
			f, err := federation.New(n.System, n.Membership, n.Services, cfg)
			if err == nil {
				err = f.Start(context.Background())
			}
			if err != nil {
				b.stopAll()
				return nil, fmt.Errorf("cluster %s node %d: %w", name, i, err)
			}
			b.feds[name] = append(b.feds[name], f)
		}
	}
	return b, nil
}

// serve registers an echo instance of svc on each of nodes idx of cluster
// name, and waits until every node of the cluster sees them.
func (b *benchFed) serve(name, svc string, idx ...int) error {
	for _, i := range idx {
		n := b.nodes[name][i]
		pid, err := n.System.Spawn(fedEcho{cluster: name})
		if err != nil {
			return err
		}
		if _, err := n.Services.Register(context.Background(), svc, pid); err != nil {
			return err
		}
	}
	return waitFor(10*time.Second, func() bool {
		for _, n := range b.nodes[name] {
			if is, err := n.Services.Discover(svc); err != nil || len(is) != len(idx) {
				return false
			}
		}
		return true
	})
}

func callable(f *federation.Federation, cluster string) error {
	return waitFor(15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := federation.CallInCluster[*wrapperspb.StringValue](ctx, f, cluster, "echo", wrapperspb.String("warm"))
		return err == nil
	})
}

// interleave measures each side in alternating rounds of n calls (the
// first round warms up) and returns the latencies per side.
func interleave(n int, sides ...func() (time.Duration, error)) ([][]time.Duration, error) {
	lats := make([][]time.Duration, len(sides))
	deadline := time.Now().Add(60 * time.Second)
	for round := range 5 {
		for k := range sides {
			k = (k + round) % len(sides)
			for range n {
				d, err := sides[k]()
				if err != nil {
					return nil, err
				}
				if round > 0 {
					lats[k] = append(lats[k], d)
				}
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("interleave: over 60s")
			}
		}
	}
	return lats, nil
}

func timed(f func(ctx context.Context) error) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t0 := time.Now()
		err := f(ctx)
		return time.Since(t0), err
	}
}

func runFederation(out *report) error {
	if err := meshFigures(out); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	return hubSpokeFigures(out)
}

// meshFigures: web, processing and ai of three nodes each in a mesh.
//   - intra: web node 0 calls a service instance on web node 1 (service
//     client: one hop between members over proto.actor remoting);
//   - cross: web node 0 (a gateway) calls processing's service: one link
//     hop, served on the processing gateway that receives it;
//   - cross from a worker: web node 2 (not a gateway) calls processing's
//     service: to its gateway, over the link, served there;
//   - fallback: the global call from web's worker goes to processing
//     (priority 0); processing's gateways are cut off from the others'
//     (the links fall silent: DownAfter x HeartbeatInterval = 300ms to
//     notice), then, healed, killed (its links close as a crashed
//     process's do); each time until a global call (1 s deadline each,
//     back to back) returns from ai.
func meshFigures(out *report) error {
	topo := federation.Topology{Kind: federation.Mesh, Clusters: []string{"web", "processing", "ai"}}
	b, err := startBenchFed(topo, 3, map[string]int{"processing": 0, "ai": 1})
	if err != nil {
		return err
	}
	defer b.stopAll()
	if err := b.serve("web", "local-echo", 1); err != nil {
		return err
	}
	if err := b.serve("processing", "echo", 0, 1, 2); err != nil {
		return err
	}
	if err := b.serve("ai", "echo", 0, 1, 2); err != nil {
		return err
	}
	gwf, wf := b.feds["web"][0], b.feds["web"][2]
	for _, f := range []*federation.Federation{gwf, wf} {
		if err := callable(f, "processing"); err != nil {
			return fmt.Errorf("processing never answered: %w", err)
		}
		if err := callable(f, "ai"); err != nil {
			return fmt.Errorf("ai never answered: %w", err)
		}
	}
	c, err := b.nodes["web"][0].Services.Client("local-echo", service.PreferLocal(service.RoundRobin()))
	if err != nil {
		return err
	}
	req := wrapperspb.String("ping")
	intra := timed(func(ctx context.Context) error {
		_, err := service.Call[*wrapperspb.StringValue](ctx, c, req)
		return err
	})
	cross := func(f *federation.Federation) func() (time.Duration, error) {
		return timed(func(ctx context.Context) error {
			_, err := federation.CallInCluster[*wrapperspb.StringValue](ctx, f, "processing", "echo", req)
			return err
		})
	}
	lats, err := interleave(2000, intra, cross(gwf), cross(wf))
	if err != nil {
		return err
	}
	in, cr, cw := pct(lats[0], 50), pct(lats[1], 50), pct(lats[2], 50)
	out.figure("intra_cluster_service_call_p50_us", us(in), "us")
	out.figure("cross_cluster_call_p50_us", us(cr), "us")
	out.figure("cross_cluster_call_p50_ratio", float64(cr)/float64(in), "x")
	out.figure("cross_cluster_call_from_worker_p50_us", us(cw), "us")
	out.figure("cross_cluster_call_from_worker_p50_ratio", float64(cw)/float64(in), "x")

	global := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r, err := federation.Call[*wrapperspb.StringValue](ctx, wf, "echo", req)
		return r.GetValue(), err
	}
	if got, err := global(); err != nil || !strings.HasPrefix(got, "processing:") {
		return fmt.Errorf("the global call before the kill: %q, %v; want processing's answer", got, err)
	}
	// A partition first: processing's gateways cut from the others' (no
	// RST: the links fall silent), until the global call returns from ai.
	fallback := func(cause func()) (time.Duration, error) {
		t0 := time.Now()
		cause()
		for time.Since(t0) < 10*time.Second {
			if got, err := global(); err == nil && strings.HasPrefix(got, "ai:") {
				return time.Since(t0), nil
			}
		}
		return 0, fmt.Errorf("the global call did not fall back within 10s")
	}
	cut, err := fallback(func() {
		for o, addrs := range b.gw {
			if o == "processing" {
				continue
			}
			for _, a := range b.gw["processing"] {
				for _, x := range addrs {
					b.net.Partition(a, x)
				}
			}
		}
	})
	if err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	out.figure("cluster_partition_fallback_ms", float64(cut.Microseconds())/1000, "ms")
	b.net.HealAll()
	if err := waitFor(15*time.Second, func() bool {
		got, err := global()
		return err == nil && strings.HasPrefix(got, "processing:")
	}); err != nil {
		return fmt.Errorf("processing never came back after the partition healed: %w", err)
	}
	// Then the kill: processing's links close as a crashed process's do.
	fell, err := fallback(func() {
		for _, f := range b.feds["processing"] {
			_ = f.Stop(context.Background())
		}
	})
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	out.figure("cluster_fallback_ms", float64(fell.Microseconds())/1000, "ms")
	b.stop("processing")
	return nil
}

// hubSpokeFigures: hub, a and b of two nodes each (both gateways); a's
// node 0 calls b's service through the hub.
func hubSpokeFigures(out *report) error {
	topo := federation.Topology{Kind: federation.HubSpoke, Clusters: []string{"hub", "a", "b"}, Hub: "hub"}
	b, err := startBenchFed(topo, 2, nil)
	if err != nil {
		return err
	}
	defer b.stopAll()
	if err := b.serve("b", "echo", 0, 1); err != nil {
		return err
	}
	f := b.feds["a"][0]
	if err := callable(f, "b"); err != nil {
		return fmt.Errorf("b never answered a: %w", err)
	}
	req := wrapperspb.String("ping")
	lats, err := interleave(2000, timed(func(ctx context.Context) error {
		r, err := federation.CallInCluster[*wrapperspb.StringValue](ctx, f, "b", "echo", req)
		if err == nil && r.GetValue() != "b:ping" {
			err = fmt.Errorf("reply %q", r.GetValue())
		}
		return err
	}))
	if err != nil {
		return err
	}
	out.figure("hub_spoke_call_p50_us", us(pct(lats[0], 50)), "us")
	return nil
}
