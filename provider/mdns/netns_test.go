package mdns

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// netnsEnv marks a test process started by inNetns inside a network
// namespace; its value is the name of the test to run there.
const netnsEnv = "FOUNDATION_MDNS_NETNS_TEST"

// netnsParentEnv carries the parent's network namespace (the link
// /proc/self/ns/net) to the child, which refuses to run in the same one.
const netnsParentEnv = "FOUNDATION_MDNS_NETNS_PARENT"

// inNetns runs body in a network namespace of its own, so that no
// multicast from a test ever reaches a real interface. The test binary runs
// itself again under `unshare -n` with -test.run naming only this test and
// netnsEnv set; there the test brings up lo with multicast and a multicast
// route and runs body. The child's output is relayed to this test's log,
// and its failure fails this test.
//
// It skips, saying why, when not root, not on Linux, or when unshare
// (util-linux) or ip (iproute2) is missing or unshare -n does not work.
func inNetns(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		setupNetns(t)
		body(t)
		return
	}
	if os.Getenv(netnsEnv) != "" {
		t.Skipf("%s=%s: this process runs only that test", netnsEnv, os.Getenv(netnsEnv))
	}
	if runtime.GOOS != "linux" {
		t.Skip("mDNS tests need a Linux network namespace (unshare -n); skipped so that no multicast reaches a real interface")
	}
	if os.Geteuid() != 0 {
		t.Skip("mDNS tests need root to make a network namespace (unshare -n); skipped so that no multicast reaches a real interface")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("mDNS tests need unshare (Debian package util-linux) to make a network namespace; not found")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("mDNS tests need ip (Debian package iproute2) to set up lo in their network namespace; not found")
	}
	if out, err := exec.Command(unshare, "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("mDNS tests need a network namespace, but unshare -n fails here: %v: %s", err, bytes.TrimSpace(out))
	}

	ns, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Skipf("mDNS tests need /proc/self/ns/net to tell namespaces apart: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "-n", os.Args[0],
		"-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1", "-test.timeout=100s")
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name(), netnsParentEnv+"="+ns)
	out, err := cmd.CombinedOutput()
	for line := range strings.SplitSeq(strings.TrimRight(string(out), "\n"), "\n") {
		t.Log("netns| " + line)
	}
	switch {
	case err != nil:
		t.Fatalf("%s failed in its network namespace: %v", t.Name(), err)
	case bytes.Contains(out, []byte("--- SKIP: "+t.Name())):
		t.Skipf("%s skipped in its network namespace", t.Name())
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Fatalf("%s did not report PASS from its network namespace", t.Name())
	}
}

// setupNetns checks that this process is in a network namespace other than
// its parent's, with no interface up, then brings lo up with multicast and a
// route for 224.0.0.0/4.
func setupNetns(t *testing.T) {
	t.Helper()
	ns, err := os.Readlink("/proc/self/ns/net")
	if parent := os.Getenv(netnsParentEnv); err != nil || parent == "" || ns == parent {
		t.Fatalf("refusing to send multicast: not in a network namespace of its own (this one %q, the parent's %q, %v)", ns, parent, err)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifaces {
		if ifi.Name != "lo" && ifi.Flags&net.FlagUp != 0 {
			t.Fatalf("refusing to send multicast: interface %s is up in this namespace", ifi.Name)
		}
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "set", "lo", "multicast", "on"},
		{"route", "add", "224.0.0.0/4", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}
