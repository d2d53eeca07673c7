package main

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the demo's writers (the console
// serialises its own writes; the test reads after run returns).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// What `make demo` runs: three node processes form a cluster, the
// singleton's host is killed with SIGKILL, the singleton answers on a
// survivor, the survivors remove the dead member, the restarted member
// rejoins without taking the singleton back, and every node stops
// gracefully.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/node and runs three processes")
	}
	var out syncBuffer
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
	err := run("consul", &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), `PROVIDER="consul"`) {
		t.Fatalf("run(consul) = %v, want the PROVIDER error", err)
	}
}
