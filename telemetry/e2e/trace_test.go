package e2e_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/telemetry"
)

// wantChain is the request's causal chain: each span's name prefix and
// the member (index) it runs on, each the parent of the next.
var wantChain = []struct {
	name   string
	member int
}{
	{"actor.call", 0},
	{"actor.receive", 0},
	{"grain.call middle", 0},
	{"grain.receive middle", 1},
	{"grain.call leaf", 1},
	{"grain.receive leaf", 2},
	{"service.call answer", 2},
	{"actor.receive *e2e_test.answer", 2},
}

// checkChain finds wantChain in spans (name, span id, parent id, member
// id) and fails the test when a link is missing.
func checkChain(t *testing.T, ids []string, spans []chainSpan) {
	t.Helper()
	var parent *chainSpan
	for _, w := range wantChain {
		var found *chainSpan
		for i := range spans {
			s := &spans[i]
			if !strings.HasPrefix(s.name, w.name) || s.member != ids[w.member] {
				continue
			}
			if parent == nil || s.parent == parent.id {
				found = s
				break
			}
		}
		if found == nil {
			var got []string
			for _, s := range spans {
				got = append(got, s.name+"@"+s.member+" id="+s.id+" parent="+s.parent)
			}
			t.Fatalf("no span %q on member %d (%s) child of %v; spans:\n%s", w.name, w.member, ids[w.member], parent, strings.Join(got, "\n"))
		}
		parent = found
	}
}

type chainSpan struct{ name, id, parent, member string }

// TestTraceThroughThreeMembers sends one request through three members
// (call -> grain -> grain -> service) and
// finds one trace, parent and child spans on all three members, the
// context value carried to the end: in a real Jaeger the members export
// to over OTLP (started here when make tools built it; CI requires it),
// and through Foundation's own cluster-wide query (Go API and HTTP).
func TestTraceThroughThreeMembers(t *testing.T) {
	var j *jaeger
	var env map[string]string
	if bin := jaegerBin(t); bin != "" {
		j = startJaeger(t, bin)
		env = map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": j.otlp, "OTEL_SERVICE_NAME": "foundation-e2e"}
	}
	tc := startThree(t, env, nil)
	got := tc.request(t, "req-42")
	if got[0] != "req-42" {
		t.Fatalf("the leaf saw request-id %q, want req-42", got[0])
	}
	if got[2] != tc.nodes[2].Membership.Self().ID {
		t.Fatalf("the leaf ran on %s, want member 2", got[2])
	}
	traceID := got[1]
	if len(traceID) != 32 {
		t.Fatalf("the leaf saw trace id %q", traceID)
	}
	ids := memberIDs(tc)
	var tr *telemetry.Trace
	eventually(t, 5*time.Second, "the trace on three members", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		tr, err = tc.nodes[0].Telemetry.ClusterTrace(ctx, traceID)
		return err == nil && len(tr.Members()) == 3 && len(tr.Spans) >= len(wantChain)
	})
	var spans []chainSpan
	for _, s := range tr.Spans {
		if s.TraceID != traceID {
			t.Fatalf("span of trace %s in trace %s", s.TraceID, traceID)
		}
		spans = append(spans, chainSpan{s.Name, s.SpanID, s.ParentID, s.Member})
	}
	checkChain(t, ids, spans)
	if roots := tr.Tree(); len(roots) != 1 {
		t.Fatalf("%d roots, want 1:\n%s", len(roots), tr)
	}
	t.Logf("causal tree:\n%s", tr)

	// Bad trace ids are refused, in Go and over HTTP.
	for _, bad := range []string{"", "xyz", strings.Repeat("0", 32), strings.ToUpper(traceID)} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := tc.nodes[0].Telemetry.ClusterTrace(ctx, bad)
		cancel()
		if !errors.Is(err, telemetry.ErrInvalidTraceID) {
			t.Fatalf("ClusterTrace(%q): %v, want ErrInvalidTraceID", bad, err)
		}
	}
	if code, _ := httpGet(t, "http://"+tc.nodes[1].Telemetry.Address()+"/debug/traces/not-a-trace"); code != 400 {
		t.Fatalf("GET /debug/traces/not-a-trace: %d, want 400", code)
	}

	// The same through HTTP, from another member.
	code, body := httpGet(t, "http://"+tc.nodes[2].Telemetry.Address()+"/debug/traces/"+traceID+"?format=text")
	if code != 200 || !strings.Contains(body, "grain.receive leaf") || !strings.Contains(body, "on 3 members") {
		t.Fatalf("GET /debug/traces: %d\n%s", code, body)
	}

	if j == nil {
		return
	}
	// The same trace in Jaeger: every span the members recorded, one root.
	var jt *jaegerTrace
	eventually(t, 20*time.Second, "the trace in Jaeger", func() bool {
		jt = j.trace(t, traceID)
		return jt != nil && len(jt.Spans) >= len(tr.Spans)
	})
	jspans := jt.chain(t, traceID)
	checkChain(t, ids, jspans)
	members, roots := map[string]bool{}, 0
	for _, s := range jspans {
		members[s.member] = true
		if s.parent == "" {
			roots++
		}
	}
	if len(members) != 3 || roots != 1 {
		t.Fatalf("Jaeger: spans on %d members with %d roots, want 3 and 1", len(members), roots)
	}
	t.Logf("Jaeger has the trace: %d spans on 3 members", len(jspans))
}
