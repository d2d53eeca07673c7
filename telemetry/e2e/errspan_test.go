package e2e_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodetest"
	"github.com/foundation-go/foundation/telemetry"
)

// refuser is a grain whose Receive fails.
type refuser struct{}

func (refuser) Receive(ctx *grain.Context, _ any) (any, error) {
	return nil, errors.New("refused " + ctx.Identity())
}

// failingServer answers every call with an error.
type failingServer struct{ actor.ServerBase }

func (failingServer) HandleCall(actor.Process, any) (any, error) {
	return nil, errors.New("no such order")
}

// TestFailingHandlerSpans: the span of the hop where a failure began — a
// grain's Receive, a Server's HandleCall that returned an error, on the
// member that ran it — carries the error, as the caller's span does.
func TestFailingHandlerSpans(t *testing.T) {
	kind := grain.Kind{Name: "refuser", Placement: grain.Role, Role: map[string]string{"role": "host"}}
	nodes := nodetest.Start(t, 2, func(i int) []foundation.Option {
		k := kind
		role := "caller"
		if i == 1 {
			k.New = func(string) grain.Grain { return refuser{} }
			role = "host"
		}
		return []foundation.Option{foundation.WithGrains(k), foundation.WithConfig(func(c *cluster.Config) {
			c.Labels = map[string]string{"role": role}
			c.Telemetry.Tracing = cluster.TelemetryFollow
		})}
	})
	host := nodes[1].Membership.Self().ID
	pid, err := nodes[1].System.Spawn(failingServer{})
	if err != nil {
		t.Fatal(err)
	}
	// A trace the caller sampled, as an HTTP front passes it on.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	ctx := actor.WithHeaders(context.Background(), actor.Headers{telemetry.HeaderTraceparent: "00-" + traceID + "-00f067aa0ba902b7-01"})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := grain.Get[*wrapperspb.StringValue](nodes[0].Grains, "refuser", "r1").Call(ctx, wrapperspb.String("x")); err == nil || !strings.Contains(err.Error(), "refused r1") {
		t.Fatalf("grain call: %v, want the grain's error", err)
	}
	if _, err := actor.Call[*wrapperspb.StringValue](ctx, nodes[0].System, pid, wrapperspb.String("x")); err == nil || !strings.Contains(err.Error(), "no such order") {
		t.Fatalf("call: %v, want the server's error", err)
	}
	want := map[string]string{"grain.receive refuser": "refused r1", "actor.receive e2e_test.failingServer": "no such order"}
	var tr *telemetry.Trace
	eventually(t, 10*time.Second, "both handlers' spans", func() bool {
		qctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		tr, err = nodes[0].Telemetry.ClusterTrace(qctx, traceID)
		if err != nil {
			return false
		}
		n := 0
		for _, s := range tr.Spans {
			if _, ok := want[s.Name]; ok {
				n++
			}
		}
		return n == len(want)
	})
	for _, s := range tr.Spans {
		msg, ok := want[s.Name]
		if !ok {
			continue
		}
		if s.Member != host {
			t.Errorf("%s on %s, want the host %s", s.Name, s.Member, host)
		}
		if !strings.Contains(s.Error, msg) {
			t.Errorf("%s: error %q, want %q\n%s", s.Name, s.Error, msg, tr)
		}
	}
}
