package main

import (
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/foundation-go/foundation/internal/syncbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// What `make demo` runs: three node processes form a cluster, the
// singleton's host is killed with SIGKILL, the singleton answers on a
// survivor, the survivors remove the dead member, the restarted member
// rejoins without taking the singleton back, and every node stops
// gracefully.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/node and runs three processes")
	}
	var out syncbuf.Buffer
	if err := run("static", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`== cluster formed: every node sees 3 members`),
		regexp.MustCompile(`== calls while the cluster runs: node2 \d+ counter calls ok, \d+ failed; node3 \d+ singleton calls ok`),
		regexp.MustCompile(`== kill -9 node1 \(member [^)]+\), the singleton's host`),
		regexp.MustCompile(`== singleton failover: node3's first call answered on node[23] `),
		regexp.MustCompile(`== node2 removed node1 `),
		regexp.MustCompile(`== node3 removed node1 `),
		regexp.MustCompile(`== the singleton is still on node[23] `),
		regexp.MustCompile(`== done in `),
	} {
		if !want.MatchString(got) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "panic") {
		t.Errorf("a node panicked:\n%s", got)
	}
}

// A provider the demo does not run is refused before anything starts.
func TestDemoRefusesUnknownProvider(t *testing.T) {
	err := run("consul", &syncbuf.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `PROVIDER="consul"`) {
		t.Fatalf("run(consul) = %v, want the PROVIDER error", err)
	}
}
