// Command multi-cluster starts three clusters — web, processing and ai, two
// nodes each, both gateways — in one process on 127.0.0.1, federated as
// federation.yaml says, and calls across the tiers: web's frontend calls
// processing's jobs service, which calls ai's inference service; a header
// travels along. Then it kills one of ai's gateways and calls again.
//
//	go run ./examples/multi-cluster
package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/federation"
	"github.com/foundation-go/foundation/federation/fedtest"
	"github.com/foundation-go/foundation/internal/nodeproc"
)

//go:embed federation.yaml
var federationYAML string

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "multi-cluster:", err)
		os.Exit(1)
	}
}

// tier is one cluster: its nodes and their federations.
type tier struct {
	nodes   []*foundation.Node
	feds    []*federation.Federation
	stopped map[int]bool
}

func (t *tier) stop(i int) {
	if t.stopped[i] {
		return
	}
	t.stopped[i] = true
	if i < len(t.feds) {
		_ = t.feds[i].Stop(context.Background())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = t.nodes[i].Stop(ctx)
}

func run(ctx context.Context, out io.Writer) error {
	file, err := federation.ParseYAML(strings.NewReader(federationYAML))
	if err != nil {
		return err
	}
	topo := file.TopologyOf()
	// Two gateways per cluster, on free ports.
	for _, name := range topo.Clusters {
		ports, err := nodeproc.FreePorts(2)
		if err != nil {
			return err
		}
		c := file.Clusters[name]
		for _, p := range ports {
			c.Gateways = append(c.Gateways, fmt.Sprintf("127.0.0.1:%d", p))
		}
		file.Clusters[name] = c
	}
	ca, err := fedtest.NewCA("multi-cluster demo CA")
	if err != nil {
		return err
	}
	tiers := map[string]*tier{}
	defer func() {
		for _, t := range tiers {
			for i := range t.nodes {
				t.stop(i)
			}
		}
	}()
	for _, name := range topo.Clusters {
		t, err := startTier(ctx, file, name, ca)
		if t != nil {
			tiers[name] = t
		}
		if err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		fmt.Fprintf(out, "cluster %-10s up: 2 nodes, gateways %v, exports %v\n", name, file.Clusters[name].Gateways, file.Clusters[name].Exports)
	}

	// The services: ai/inference, processing/jobs (calls ai), web/frontend
	// (calls processing).
	register := func(cluster, svc string, h func(p actor.Process, in string) (string, error)) error {
		for _, n := range tiers[cluster].nodes {
			pid, err := n.System.Spawn(handler{f: h})
			if err != nil {
				return err
			}
			if _, err := n.Services.Register(ctx, svc, pid); err != nil {
				return err
			}
		}
		return nil
	}
	if err := register("ai", "inference", func(p actor.Process, in string) (string, error) {
		return fmt.Sprintf("ai: %d tokens in %q (request-id %s)", len(strings.Fields(in)), in, p.Header("request-id")), nil
	}); err != nil {
		return err
	}
	if err := register("processing", "jobs", func(p actor.Process, in string) (string, error) {
		// Carry the caller's headers on to ai.
		cctx := actor.WithHeaders(context.Background(), actor.Headers{"request-id": p.Header("request-id")})
		cctx, cancel := context.WithTimeout(cctx, 5*time.Second)
		defer cancel()
		r, err := federation.CallInCluster[*wrapperspb.StringValue](cctx, fedOf(tiers, "processing", p), "ai", "inference", wrapperspb.String(in))
		if err != nil {
			return "", err
		}
		return "processing: job done <- " + r.GetValue(), nil
	}); err != nil {
		return err
	}

	web := tiers["web"].feds[0]
	reqCtx := actor.WithHeaders(ctx, actor.Headers{"request-id": "req-1"})
	call := func(cluster, svc, msg string) (string, error) {
		cctx, cancel := context.WithTimeout(reqCtx, 5*time.Second)
		defer cancel()
		r, err := federation.CallInCluster[*wrapperspb.StringValue](cctx, web, cluster, svc, wrapperspb.String(msg))
		return r.GetValue(), err
	}
	// retry calls until one answers or the bound passes. A call that meets
	// a link as it goes down fails with "link lost, outcome unknown" (at
	// most once: federation does not resend what may have been delivered);
	// these calls are idempotent, so the caller retries, and the retry
	// takes a live route.
	retry := func(bound time.Duration, cluster, svc, msg string) (string, error) {
		deadline := time.Now().Add(bound)
		for {
			r, err := call(cluster, svc, msg)
			if err == nil || time.Now().After(deadline) {
				return r, err
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Wait until the links are up and the services are seen.
	if _, err := retry(30*time.Second, "processing", "jobs", "warm up"); err != nil {
		return fmt.Errorf("processing/jobs never answered: %w", err)
	}
	got, err := retry(10*time.Second, "processing", "jobs", "summarise the quarterly report")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "web -> processing/jobs -> ai/inference: %s\n", got)

	// The global call finds inference in whichever cluster exports it,
	// once web has heard ai's announcement (the warm-up only waited for
	// processing's).
	var g *wrapperspb.StringValue
	for deadline := time.Now().Add(10 * time.Second); ; {
		cctx, cancel := context.WithTimeout(reqCtx, 5*time.Second)
		g, err = federation.Call[*wrapperspb.StringValue](cctx, web, "inference", wrapperspb.String("global call"))
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(out, "web global call inference: %s\n", g.GetValue())

	if _, err := call("ai", "jobs", "x"); err != nil {
		fmt.Fprintf(out, "web -> ai/jobs (not exported there): %v\n", err)
	}

	// One of ai's gateways dies: calls keep flowing through the other.
	tiers["ai"].stop(0)
	fmt.Fprintln(out, "ai gateway 0 stopped")
	// Each call gets the fallback bound and slack for a loaded machine.
	ok := 0
	for i := 0; i < 20; i++ {
		if _, err := retry(10*time.Second, "processing", "jobs", "after the loss"); err != nil {
			fmt.Fprintf(out, "call %d after the loss: %v\n", i, err)
			continue
		}
		ok++
	}
	fmt.Fprintf(out, "after ai's gateway loss: %d of 20 calls answered\n", ok)
	for _, s := range web.Clusters() {
		fmt.Fprintf(out, "web sees %-10s reachable=%v exports=%v\n", s.Name, s.Reachable, s.Exports)
	}
	return nil
}

// fedOf is the federation of the node that runs process p.
func fedOf(tiers map[string]*tier, cluster string, p actor.Process) *federation.Federation {
	t := tiers[cluster]
	for i, n := range t.nodes {
		if n.System.Address() == p.Self().Address {
			return t.feds[i]
		}
	}
	return t.feds[0]
}

func startTier(ctx context.Context, file federation.File, name string, ca *fedtest.CA) (*tier, error) {
	ports, err := nodeproc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", p))
	}
	cc, err := file.ClusterConfig(name)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := ca.MutualTLS(name)
	if err != nil {
		return nil, err
	}
	t := &tier{stopped: map[int]bool{}}
	for i, port := range ports {
		n, err := foundation.Start(ctx,
			foundation.WithEnv(func(string) (string, bool) { return "", false }),
			foundation.WithLogger(zap.NewNop()),
			foundation.WithConfig(func(c *cluster.Config) {
				*c = cc
				c.Secret = "cluster-secret-of-" + name
				c.Host, c.Port, c.ClusterPort = "127.0.0.1", 0, port
				c.Seeds = seeds
				c.Labels = map[string]string{federation.LabelGateway: "true"}
			}))
		if err != nil {
			return t, err
		}
		cfg, err := file.Config(name, true)
		if err != nil {
			return t, err
		}
		cfg.Listen, cfg.TLS = file.Clusters[name].Gateways[i], tlsCfg
		t.nodes = append(t.nodes, n)
		f, err := federation.New(n.System, n.Membership, n.Services, cfg)
		if err != nil {
			return t, err
		}
		t.feds = append(t.feds, f)
		if err := f.Start(ctx); err != nil {
			return t, err
		}
	}
	return t, nil
}

// handler serves a service: a string in, a string out.
type handler struct {
	actor.ServerBase
	f func(p actor.Process, in string) (string, error)
}

func (h handler) HandleCall(p actor.Process, req any) (any, error) {
	s, err := h.f(p, req.(*wrapperspb.StringValue).GetValue())
	if err != nil {
		return nil, err
	}
	return wrapperspb.String(s), nil
}
