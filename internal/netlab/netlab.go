// Package netlab builds a small private network of hosts out of Linux
// network namespaces, for benchmarks and tests of what crosses a network:
// a hub namespace holding a bridge, and one namespace per host joined to it
// by a veth pair, host i at 10.77.0.(i+1)/24. Cut makes a host vanish from
// the network without a RST (its bridge port goes down: what it sends and
// what is sent to it is dropped), as a host whose power or link is lost.
//
// Every namespace is held by a sleeping process of this package's own
// (unshare -n); nothing is created in the caller's namespace, and Close
// kills the holders, which removes the namespaces with their links. It
// needs root, unshare and nsenter (util-linux) and ip (iproute2).
package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// ErrUnsupported: the machine cannot make network namespaces here (not
// root, not Linux, a tool missing, or unshare -n refused); the message
// says which.
var ErrUnsupported = errors.New("netlab: network namespaces unavailable")

// Lab is a hub and its hosts.
type Lab struct {
	hub   *exec.Cmd
	hosts []*exec.Cmd
}

// Check reports whether labs can be built here.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root", ErrUnsupported)
	}
	for _, tool := range []string{"unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found (util-linux, iproute2)", ErrUnsupported, tool)
		}
	}
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: unshare -n: %v: %s", ErrUnsupported, err, bytes.TrimSpace(out))
	}
	return nil
}

// New builds a lab of n hosts.
func New(n int) (*Lab, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	l := &Lab{}
	var err error
	if l.hub, err = holder(); err != nil {
		return nil, err
	}
	if err := l.inHub("ip", "link", "add", "br0", "type", "bridge"); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.inHub("ip", "link", "set", "br0", "up"); err != nil {
		l.Close()
		return nil, err
	}
	for i := 0; i < n; i++ {
		h, err := holder()
		if err != nil {
			l.Close()
			return nil, err
		}
		l.hosts = append(l.hosts, h)
		port := "p" + strconv.Itoa(i)
		steps := [][]string{
			{"hub", "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", strconv.Itoa(h.Process.Pid)},
			{"hub", "ip", "link", "set", port, "master", "br0"},
			{"hub", "ip", "link", "set", port, "up"},
			{"host", "ip", "addr", "add", l.IP(i) + "/24", "dev", "eth0"},
			{"host", "ip", "link", "set", "eth0", "up"},
			{"host", "ip", "link", "set", "lo", "up"},
		}
		for _, s := range steps {
			var err error
			if s[0] == "hub" {
				err = l.inHub(s[1:]...)
			} else {
				err = run(nsenter(h, s[1:]...))
			}
			if err != nil {
				l.Close()
				return nil, err
			}
		}
	}
	return l, nil
}

// holder starts a process that sleeps in a new network namespace.
func holder() (*exec.Cmd, error) {
	cmd := exec.Command("unshare", "-n", "sleep", "3600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netlab: unshare -n: %w", err)
	}
	// unshare execs sleep once the namespace exists; wait until it has.
	self, _ := os.Readlink("/proc/self/ns/net")
	for deadline := time.Now().Add(5 * time.Second); ; {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
		if err == nil && ns != self {
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
			if exe != "" && !bytes.HasSuffix([]byte(exe), []byte("unshare")) {
				return cmd, nil
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("netlab: the namespace holder did not start")
		}
		time.Sleep(time.Millisecond)
	}
}

func nsenter(h *exec.Cmd, argv ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(h.Process.Pid), "-n", "--"}, argv...)...)
}

func run(c *exec.Cmd) error {
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("netlab: %v: %v: %s", c.Args, err, bytes.TrimSpace(out))
	}
	return nil
}

func (l *Lab) inHub(argv ...string) error { return run(nsenter(l.hub, argv...)) }

// IP is host i's address.
func (l *Lab) IP(i int) string { return fmt.Sprintf("10.77.0.%d", i+1) }

// Command returns argv to run inside host i's namespace: prefix it to a
// program and its arguments.
func (l *Lab) Command(i int) []string {
	return []string{"nsenter", "-t", strconv.Itoa(l.hosts[i].Process.Pid), "-n", "--"}
}

// Cut takes host i off the network without a RST: its bridge port goes
// down, so nothing it sends arrives and nothing reaches it.
func (l *Lab) Cut(i int) error { return l.inHub("ip", "link", "set", "p"+strconv.Itoa(i), "down") }

// Restore puts host i back on the network.
func (l *Lab) Restore(i int) error { return l.inHub("ip", "link", "set", "p"+strconv.Itoa(i), "up") }

// Close removes the lab (idempotent).
func (l *Lab) Close() {
	for _, c := range append(l.hosts, l.hub) {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	l.hosts, l.hub = nil, nil
}
