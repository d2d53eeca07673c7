package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/telemetry"
)

// jaegerBin finds the Jaeger binary that `make tools` builds into .bin
// (from the version pinned in telemetry/internal/tools/go.mod), or jaeger
// on PATH. Without it the Jaeger half of a test is skipped; with CI set it
// fails.
func jaegerBin(t *testing.T) string {
	t.Helper()
	if root, err := nodeproc.ModuleRoot(); err == nil {
		if p := filepath.Join(root, ".bin", "jaeger"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("jaeger"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("jaeger is missing (CI is set: .ci/run must build it with make tools)")
	}
	t.Log("jaeger is missing: run make tools to check the trace in a real Jaeger too")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// jaeger is a Jaeger (v2, all in one, in-memory storage) started by a test.
type jaeger struct {
	otlp  string // OTLP/HTTP base URL spans are exported to
	query string // base URL of the query HTTP API
}

// startJaeger starts bin with every listener on 127.0.0.1 and waits until
// its query API answers.
func startJaeger(t *testing.T, bin string) *jaeger {
	t.Helper()
	ports, err := nodeproc.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, ports[0], ports[1], ports[2])
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, bin, "--config", path)
	j := &jaeger{otlp: "http://127.0.0.1:" + strconv.Itoa(ports[2]), query: "http://127.0.0.1:" + strconv.Itoa(ports[0])}
	eventually(t, 30*time.Second, "Jaeger's query API", func() bool {
		code, _, err := tryGet(j.query + "/api/services")
		return err == nil && code == 200
	})
	return j
}

// jaegerTrace is the part of Jaeger's /api/traces/{id} answer the tests read.
type jaegerTrace struct {
	Spans []struct {
		TraceID       string `json:"traceID"`
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"processes"`
}

// trace gets trace id from Jaeger: nil while Jaeger does not have it.
func (j *jaeger) trace(t *testing.T, id string) *jaegerTrace {
	t.Helper()
	code, body, err := tryGet(j.query + "/api/traces/" + id)
	if err != nil || code == 404 {
		return nil
	}
	var r struct {
		Data   []jaegerTrace `json:"data"`
		Errors []any         `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 {
		t.Fatalf("Jaeger /api/traces/%s: %d %s (%v)", id, code, body, err)
	}
	if len(r.Data) != 1 {
		return nil
	}
	return &r.Data[0]
}

// chain returns the trace's spans as chainSpans, each with the member its
// process names (the foundation.member resource attribute).
func (jt *jaegerTrace) chain(t *testing.T, traceID string) []chainSpan {
	t.Helper()
	var out []chainSpan
	for _, s := range jt.Spans {
		if s.TraceID != traceID {
			t.Fatalf("Jaeger: span %s of trace %s in trace %s", s.SpanID, s.TraceID, traceID)
		}
		member := ""
		for _, tag := range jt.Processes[s.ProcessID].Tags {
			if tag.Key == telemetry.AttrMember {
				member, _ = tag.Value.(string)
			}
		}
		parent := ""
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				parent = r.SpanID
			}
		}
		out = append(out, chainSpan{s.OperationName, s.SpanID, parent, member})
	}
	return out
}
