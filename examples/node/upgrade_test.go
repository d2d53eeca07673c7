package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

// TestRollingUpgrade replaces three members of version 1.0.0 (protocol 1),
// one at a time and the oldest last, by members of version 1.1.0 speaking
// protocol 2 on the same ports, the way a Kubernetes rolling update does
// (SIGTERM, a graceful leave, the new pod, ready, the next). A fourth
// member that hosts no grains calls ten counter grains every 20ms
// throughout, each call with a deadline of one second — the retry window
// within which a call retries across topology changes: no call fails.
func TestRollingUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin, ports, cports := buildNode(t, 4)
	seeds := strings.Join(seedList(cports), ",")
	env := []string{"FOUNDATION_PROFILE=development", "FOUNDATION_LOG_LEVEL=warn",
		"FOUNDATION_NAME=upgrade-test", "FOUNDATION_SECRET=upgrade-test-secret-0123"}
	start := func(i int, version string, protocol int, extra ...string) *nodeproc.Proc {
		t.Helper()
		args := append([]string{"-host", "127.0.0.1", "-port", strconv.Itoa(ports[i]), "-cluster-port", strconv.Itoa(cports[i]),
			"-provider", "static", "-seeds", seeds, "-app-version", version, "-protocol-version", strconv.Itoa(protocol)}, extra...)
		p, err := nodeproc.Start("node"+strconv.Itoa(i)+"-"+version, bin, args, env, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill(); _ = p.Wait(5 * time.Second) })
		if _, _, err := p.WaitLine(0, func(l string) bool {
			return strings.HasPrefix(l, "started ") && nodeproc.Field(l, "version") == version && nodeproc.Field(l, "protocol") == strconv.Itoa(protocol)
		}, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		return p
	}
	waitView := func(p *nodeproc.Proc, from, n int) {
		t.Helper()
		want := "view members=" + strconv.Itoa(n)
		if _, _, err := p.WaitLine(from, func(l string) bool { return l == want }, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	procs := make([]*nodeproc.Proc, 3)
	for i := range procs {
		procs[i] = start(i, "1.0.0", 1)
	}
	driver := start(3, "1.0.0", 1, "-grain-host=false", "-drive", "counter", "-drive-ids", "10", "-drive-interval", "20ms")
	waitView(driver, 0, 4)
	// waitCalls waits for n successful calls printed after line from
	// (WaitLine's match runs under the process's lock: count as lines
	// come).
	waitCalls := func(from, n int) {
		t.Helper()
		ok := 0
		if _, _, err := driver.WaitLine(from, func(l string) bool {
			if isCall(l) && nodeproc.Field(l, "ok") == "true" {
				ok++
			}
			return ok >= n
		}, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitCalls(0, 20)                   // calls flow before the upgrade
	for _, i := range []int{2, 1, 0} { // the oldest last: the singleton moves once
		mark := len(driver.Lines())
		if err := procs[i].Terminate(); err != nil {
			t.Fatal(err)
		}
		if err := procs[i].Wait(10 * time.Second); err != nil {
			t.Fatalf("node %d did not stop on SIGTERM: %v", i, err)
		}
		procs[i] = start(i, "1.1.0", 2)
		waitView(procs[i], 0, 4)
		waitCalls(mark, 20) // and keep flowing with the replacement in
	}
	calls := 0
	for _, l := range driver.Lines() {
		if !isCall(l) {
			continue
		}
		calls++
		if nodeproc.Field(l, "ok") != "true" {
			t.Errorf("a call failed during the upgrade: %s", l)
		}
	}
	t.Logf("%d calls across the rolling upgrade, every one answered", calls)
}
