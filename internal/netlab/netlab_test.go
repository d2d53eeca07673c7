package netlab

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a helper run inside a host's namespace:
// "dial:<addr>" dials addr once and prints ok, refused or timeout.
const helperEnv = "NETLAB_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); strings.HasPrefix(h, "dial:") {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(h, "dial:"), 500*time.Millisecond)
		switch {
		case err == nil:
			c.Close()
			fmt.Println("ok")
		case errors.Is(err, syscall.ECONNREFUSED):
			fmt.Println("refused")
		default:
			fmt.Println("timeout")
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// dial dials addr from host i and says how it went.
func dial(t *testing.T, l *Lab, i int, addr string) string {
	argv := append(l.Command(i), os.Args[0])
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), helperEnv+"=dial:"+addr)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// Host 0 reaches host 1 (a closed port is refused: the host answers); a
// cut host 1 is unreachable without a RST (the dial times out); restored,
// it answers again.
func TestCutAndRestore(t *testing.T) {
	l, err := New(2)
	if errors.Is(err, ErrUnsupported) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (.ci/run runs as root with util-linux and iproute2)", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.IP(1) + ":9"
	if got := dial(t, l, 0, addr); got != "refused" {
		t.Fatalf("before the cut: %s, want refused", got)
	}
	if err := l.Cut(1); err != nil {
		t.Fatal(err)
	}
	if got := dial(t, l, 0, addr); got != "timeout" {
		t.Fatalf("after the cut: %s, want timeout (no RST)", got)
	}
	if err := l.Restore(1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for dial(t, l, 0, addr) != "refused" {
		if time.Now().After(deadline) {
			t.Fatal("host 1 unreachable after the restore")
		}
	}
}
