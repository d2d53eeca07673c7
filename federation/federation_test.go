package federation

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster/clustertest"
)

var mesh = Topology{Kind: Mesh, Clusters: []string{"web", "processing", "ai"}}

// Mesh: a call crosses clusters with its headers and trace context; the
// documented errors; killing one gateway of the target and of the caller's
// cluster keeps calls flowing through the others.
func TestMeshCallAndGatewayLoss(t *testing.T) {
	f := startFed(t, mesh, fedOptions{})
	f.serve("ai", "echo")
	f.serve("ai", "hidden")
	f.waitReachable("web", "ai")
	w := f.worker("web")

	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(ctxT(t, 20*time.Second),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	ctx = actor.WithHeaders(ctx, actor.Headers{"request-id": "r-42"})
	var got string
	clustertest.Eventually(t, func() bool {
		var err error
		got, err = call(ctx, w, "ai", "hello")
		return err == nil
	}, 15*time.Second, "a call from web reaches ai")
	parts := strings.Split(got, "|")
	if parts[0] != "ai:hello" || parts[1] != "r-42" || !strings.Contains(parts[2], tid.String()) {
		t.Fatalf("reply %q: want ai:hello, the request-id header and the trace id %s", got, tid)
	}

	// Documented errors.
	if _, err := call(ctx, w, "nowhere", "x"); !errors.Is(err, ErrUnknownCluster) {
		t.Fatalf("unknown cluster: %v", err)
	}
	if _, err := CallInCluster[*wrapperspb.StringValue](ctx, w, "ai", "hidden", wrapperspb.String("x")); !errors.Is(err, ErrNotExported) {
		t.Fatalf("unexported service: %v", err)
	}
	if _, err := callRetry(t, ctx, w, "ai", "fail"); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "echo refuses") {
		t.Fatalf("handler error: %v", err)
	}
	if err := w.SendToCluster(ctx, "ai", "echo", wrapperspb.String("cast")); err != nil {
		t.Fatalf("SendToCluster: %v", err)
	}

	// Kill one gateway on each side: calls flow through the others.
	f.clusters["ai"].Kill(0)
	f.clusters["web"].Kill(1)
	clustertest.Eventually(t, func() bool { _, err := call(ctx, w, "ai", "after"); return err == nil }, 10*time.Second, "a call after the gateways' loss")
	for i := range 20 {
		if _, err := callRetry(t, ctx, w, "ai", "after"); err != nil {
			t.Fatalf("call %d after one gateway per cluster died: %v", i, err)
		}
	}
}

// Hub-spoke: spoke a reaches spoke b only through the hub.
func TestHubSpokeThroughHub(t *testing.T) {
	topo := Topology{Kind: HubSpoke, Clusters: []string{"hub", "a", "b"}, Hub: "hub"}
	f := startFed(t, topo, fedOptions{})
	f.serve("b", "echo")
	f.waitReachable("a", "b")
	if got := (*f.fed("a", 0).routes.Load())["b"]; got != "hub" {
		t.Fatalf("a's next hop to b is %q, want hub", got)
	}
	ctx := ctxT(t, 20*time.Second)
	clustertest.Eventually(t, func() bool { _, err := call(ctx, f.worker("a"), "b", "x"); return err == nil }, 15*time.Second, "a spoke-to-spoke call")
	got, err := callRetry(t, ctx, f.worker("a"), "b", "via-hub")
	if err != nil || !strings.HasPrefix(got, "b:via-hub") {
		t.Fatalf("spoke to spoke: %q, %v", got, err)
	}
	// The hub's loss cuts the spokes apart.
	f.kill("hub")
	clustertest.Eventually(t, func() bool {
		_, err := call(ctx, f.worker("a"), "b", "x")
		return errors.Is(err, ErrUnreachable)
	}, 10*time.Second, "b unreachable without the hub")
}

// Hierarchical: leaf -> mid -> root and back down.
func TestHierarchicalUpAndDown(t *testing.T) {
	topo := Topology{Kind: Hierarchical, Clusters: []string{"root", "mid", "leaf"},
		Parent: map[string]string{"mid": "root", "leaf": "mid"}}
	f := startFed(t, topo, fedOptions{members: 2 + 1})
	f.serve("root", "echo")
	f.serve("leaf", "echo")
	f.waitReachable("leaf", "root")
	f.waitReachable("root", "leaf")
	ctx := ctxT(t, 20*time.Second)
	for _, p := range [][2]string{{"leaf", "root"}, {"root", "leaf"}} {
		clustertest.Eventually(t, func() bool {
			got, err := call(ctx, f.worker(p[0]), p[1], "x")
			return err == nil && strings.HasPrefix(got, p[1]+":x")
		}, 15*time.Second, p[0]+" calls "+p[1])
	}
	if got := (*f.fed("leaf", 1).routes.Load())["root"]; got != "mid" {
		t.Fatalf("leaf's next hop to root is %q, want mid", got)
	}
}

// A global call prefers the local cluster, else the cluster with the
// lowest priority; when that cluster dies, or is cut off, it falls back.
func TestGlobalCallFallsBack(t *testing.T) {
	for _, how := range []string{"kill", "partition"} {
		t.Run(how, func(t *testing.T) {
			f := startFed(t, mesh, fedOptions{priority: map[string]int{"processing": 0, "ai": 1}, downAfter: 3})
			f.serve("processing", "echo")
			f.serve("ai", "echo")
			f.waitReachable("web", "processing")
			f.waitReachable("web", "ai")
			w := f.worker("web")
			ctx := ctxT(t, 30*time.Second)
			global := func() (string, error) {
				r, err := Call[*wrapperspb.StringValue](ctx, w, "echo", wrapperspb.String("g"))
				return r.GetValue(), err
			}
			clustertest.Eventually(t, func() bool {
				got, err := global()
				return err == nil && strings.HasPrefix(got, "processing:")
			}, 15*time.Second, "the global call goes to processing (priority 0)")
			start := time.Now()
			if how == "kill" {
				f.kill("processing")
			} else {
				f.cut("processing")
			}
			clustertest.Eventually(t, func() bool {
				got, err := global()
				return err == nil && strings.HasPrefix(got, "ai:")
			}, 10*time.Second, "the global call falls back to ai")
			t.Logf("%s: fell back in %v", how, time.Since(start))
			if how == "partition" {
				f.Net.HealAll()
			}
			// Local first: a local instance wins over every other cluster.
			f.serve("web", "echo")
			got, err := global()
			if err != nil || !strings.HasPrefix(got, "web:") {
				t.Fatalf("with a local instance: %q, %v", got, err)
			}
		})
	}
}
