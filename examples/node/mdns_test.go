package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

const netnsMarker = "FOUNDATION_NODE_TEST_NETNS"

// TestMDNSFormationInNamespace forms a three-process cluster with zero-config
// mDNS discovery. Multicast must never reach a real interface, so the test
// re-runs itself inside a new network namespace (unshare -n) whose loopback
// carries multicast; it needs root and skips otherwise.
func TestMDNSFormationInNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	if os.Getenv(netnsMarker) == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root to create a network namespace (unshare -n)")
		}
		for _, tool := range []string{"unshare", "ip"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("needs %s (Debian: util-linux, iproute2)", tool)
			}
		}
		script := `set -e; ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo; exec "$0" -test.run=^TestMDNSFormationInNamespace$ -test.v`
		cmd := exec.Command("unshare", "-n", "sh", "-c", script, os.Args[0])
		cmd.Env = append(os.Environ(), netnsMarker+"=1")
		out, err := cmd.CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			t.Log("netns| " + l)
		}
		if err != nil {
			t.Fatalf("in the namespace: %v", err)
		}
		return
	}
	// Inside the namespace: only lo exists.
	bin, ports, cports := buildNode(t, 3)
	env := []string{"FOUNDATION_LOG_LEVEL=warn", "FOUNDATION_NAME=mdns-test", "FOUNDATION_SECRET=mdns-test-secret-0123"}
	var procs []*nodeproc.Proc
	t0 := time.Now()
	for i, port := range ports {
		p, err := nodeproc.Start("node"+strconv.Itoa(i), bin,
			[]string{"-host", "127.0.0.1", "-port", strconv.Itoa(port), "-cluster-port", strconv.Itoa(cports[i]),
				"-provider", "mdns", "-mdns-interfaces", "lo"}, env, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill(); _ = p.Wait(5 * time.Second) })
		procs = append(procs, p)
	}
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members=3" }, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("3 processes formed a cluster over mDNS in %v", time.Since(t0).Round(time.Millisecond))
	for _, p := range procs {
		_ = p.Terminate()
	}
	for _, p := range procs {
		if err := p.Wait(5 * time.Second); err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
	}
}
