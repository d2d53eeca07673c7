package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

// TestProcessesKillDetectRejoinLeave runs examples/node as three OS
// processes: they form a cluster; one is killed with kill -9 and every
// survivor removes it within a second; a new run at the same address joins
// under a new id; a graceful stop is seen as "left".
func TestProcessesKillDetectRejoinLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin, ports, cports := buildNode(t, 3)
	seeds := seedList(cports)
	env := []string{"FOUNDATION_LOG_LEVEL=warn", "FOUNDATION_NAME=proc-test", "FOUNDATION_SECRET=proc-test-secret-0123"}
	start := func(i int) *nodeproc.Proc {
		p, err := nodeproc.Start("node"+strconv.Itoa(i), bin,
			[]string{"-host", "127.0.0.1", "-port", strconv.Itoa(ports[i]), "-cluster-port", strconv.Itoa(cports[i]),
				"-provider", "static", "-seeds", strings.Join(seeds, ",")},
			env, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill(); _ = p.Wait(5 * time.Second) })
		return p
	}
	procs := []*nodeproc.Proc{start(0), start(1), start(2)}
	idOf := func(p *nodeproc.Proc) string {
		l, _, err := p.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return nodeproc.Field(l, "id")
	}
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members=3" }, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	victimID := idOf(procs[2])
	marks := []int{len(procs[0].Lines()), len(procs[1].Lines())}
	killed := time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	for i, p := range procs[:2] {
		if _, _, err := p.WaitLine(marks[i], func(l string) bool {
			return strings.HasPrefix(l, "event removed ") && nodeproc.Field(l, "id") == victimID
		}, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(killed); d > time.Second {
			t.Fatalf("%s removed the killed member after %v, want <= 1s", p.Name, d)
		}
	}
	_ = procs[2].Wait(5 * time.Second)

	// A new run at the same address joins under a new id.
	marks = []int{len(procs[0].Lines()), len(procs[1].Lines())}
	procs[2] = start(2)
	freshID := idOf(procs[2])
	if freshID == victimID {
		t.Fatal("restarted node reused its member id")
	}
	for i, p := range procs[:2] {
		if _, _, err := p.WaitLine(marks[i], func(l string) bool {
			return strings.HasPrefix(l, "event joined ") && nodeproc.Field(l, "id") == freshID
		}, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	// Graceful stop: peers see "left", and the process stops within a second.
	leaverID := idOf(procs[1])
	mark := len(procs[0].Lines())
	if err := procs[1].Terminate(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := procs[0].WaitLine(mark, func(l string) bool {
		if nodeproc.Field(l, "id") != leaverID {
			return false
		}
		if strings.HasPrefix(l, "event unreachable ") || strings.HasPrefix(l, "event removed ") {
			t.Fatalf("graceful stop seen as %q", l)
		}
		return strings.HasPrefix(l, "event left ")
	}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := procs[1].Wait(5 * time.Second); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	stopped, _, err := procs[1].WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "stopped in ") }, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The leave is bounded by leave_timeout (1s); the rest of Stop is the
	// actor system's. 2s leaves room for a loaded machine; a hang shows.
	if d, err := time.ParseDuration(strings.TrimPrefix(stopped, "stopped in ")); err != nil || d > 2*time.Second {
		t.Fatalf("graceful stop took %q", stopped)
	}
}

// testWriter echoes node output to stderr when NODE_TEST_VERBOSE is set.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if os.Getenv("NODE_TEST_VERBOSE") != "" {
		return os.Stderr.Write(p)
	}
	return len(p), nil
}

// buildNode builds examples/node into the test's temporary folder and picks
// n remoting ports and n cluster ports free for TCP and UDP on 127.0.0.1.
func buildNode(t *testing.T, n int) (bin string, ports, cports []int) {
	t.Helper()
	root, err := nodeproc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err = nodeproc.Build(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	all, err := nodeproc.FreePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	return bin, all[:n], all[n:]
}

// seedList is 127.0.0.1 with each port.
func seedList(ports []int) []string {
	var out []string
	for _, p := range ports {
		out = append(out, "127.0.0.1:"+strconv.Itoa(p))
	}
	return out
}

// TestFiveProcessesSeededWithTheFirstOnly: five examples/node processes,
// each given only the first one's address as its seed, all see five
// members within the formation bound (gossip makes membership transitive);
// the seed is killed with kill -9 and the other four still agree.
func TestFiveProcessesSeededWithTheFirstOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin, ports, cports := buildNode(t, 5)
	seed := "127.0.0.1:" + strconv.Itoa(cports[0])
	env := []string{"FOUNDATION_LOG_LEVEL=warn", "FOUNDATION_NAME=seed-test", "FOUNDATION_SECRET=seed-test-secret-0123", "FOUNDATION_JOIN_TIMEOUT=10s"}
	procs := make([]*nodeproc.Proc, 5)
	ids := make([]string, 5)
	var lastStart time.Time
	for i := range procs {
		p, err := nodeproc.Start("node"+strconv.Itoa(i), bin,
			[]string{"-host", "127.0.0.1", "-port", strconv.Itoa(ports[i]), "-cluster-port", strconv.Itoa(cports[i]),
				"-provider", "static", "-seeds", seed, "-grains=false"}, env, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill(); _ = p.Wait(5 * time.Second) })
		l, _, err := p.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		procs[i], ids[i] = p, nodeproc.Field(l, "id")
		lastStart = time.Now()
	}
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members=5" }, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	formed := time.Since(lastStart)
	t.Logf("every process sees 5 members %v after the last one started", formed.Round(time.Millisecond))
	if formed > 2*time.Second {
		t.Fatalf("formation took %v after the last start, want <= 2s", formed)
	}
	marks := make([]int, 5)
	for i, p := range procs {
		marks[i] = len(p.Lines())
	}
	if err := procs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	for i, p := range procs[1:] {
		if _, _, err := p.WaitLine(marks[i+1], func(l string) bool {
			return strings.HasPrefix(l, "event removed ") && nodeproc.Field(l, "id") == ids[0]
		}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.WaitLine(marks[i+1], func(l string) bool { return l == "view members=4" }, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// Still one cluster of four: a member of it that leaves is seen leave by
	// every other one (through gossip: none of them was its seed).
	leaver := procs[4]
	for i := range marks {
		marks[i] = len(procs[i].Lines())
	}
	if err := leaver.Terminate(); err != nil {
		t.Fatal(err)
	}
	for i, p := range procs[1:4] {
		if _, _, err := p.WaitLine(marks[i+1], func(l string) bool {
			return strings.HasPrefix(l, "event left ") && nodeproc.Field(l, "id") == ids[4]
		}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}
