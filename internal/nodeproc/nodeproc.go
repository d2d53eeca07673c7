// Package nodeproc runs examples/node binaries as separate OS processes and
// follows their output: the demo, the multi-process tests and the cluster
// benchmark use it.
package nodeproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles ./examples/node of the module rooted at moduleDir into dir
// and returns the binary's path.
func Build(moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "foundation-node")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/node")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("nodeproc: building examples/node: %v\n%s", err, out)
	}
	return bin, nil
}

// ModuleRoot finds the directory holding go.mod, from the working directory
// upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("nodeproc: go.mod not found")
		}
		dir = parent
	}
}

// FreePorts returns n ports free for both TCP and UDP on 127.0.0.1, each
// held while the next is chosen, so all n differ.
//
// They are drawn at random from below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999 by default): a port the kernel
// handed out for "127.0.0.1:0" can be handed out again, to any other
// process's outgoing connection, between this call and the caller's own
// listen, and with the suite's packages running in parallel that happened
// ("bind: address already in use"). Ports below the range are only ever
// taken by an explicit bind.
func FreePorts(n int) ([]int, error) {
	lo, hi := 10000, ephemeralLow()
	if hi-lo < 1000 {
		lo = 1024
	}
	var ports []int
	var hold []io.Closer
	defer func() {
		for _, c := range hold {
			c.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			return nil, fmt.Errorf("nodeproc: no %d free ports in [%d, %d)", n, lo, hi)
		}
		p := lo + rand.IntN(hi-lo)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			l.Close()
			continue
		}
		hold = append(hold, l, u)
		ports = append(ports, p)
	}
	return ports, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	v, err := strconv.Atoi(f[0])
	if err != nil || v <= 1024 {
		return 32768
	}
	return v
}

// Proc is one running node process.
type Proc struct {
	Name string
	cmd  *exec.Cmd

	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
	done  bool
	wait  chan struct{}
	err   error
}

// Start runs bin with args and env (added to the current environment). Each
// output line is kept and, when echo is non-nil, written to it prefixed with
// name.
func Start(name, bin string, args, env []string, echo io.Writer) (*Proc, error) {
	return StartIn(nil, name, bin, args, env, echo)
}

// StartIn is Start with bin run through prefix (a command and its
// arguments that exec the rest, such as netlab's nsenter into a host's
// network namespace).
func StartIn(prefix []string, name, bin string, args, env []string, echo io.Writer) (*Proc, error) {
	argv := append(append(append([]string(nil), prefix...), bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	p := &Proc{Name: name, cmd: cmd, wait: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var read sync.WaitGroup
	read.Add(1)
	go func() {
		defer read.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if echo != nil {
				fmt.Fprintf(echo, "[%s] %s\n", name, line)
			}
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		read.Wait()
		p.mu.Lock()
		p.done, p.err = true, err
		p.cond.Broadcast()
		p.mu.Unlock()
		close(p.wait)
	}()
	return p, nil
}

// WaitLine waits until an output line after the first `from` lines satisfies
// match, and returns it with its index.
func (p *Proc) WaitLine(from int, match func(string) bool, timeout time.Duration) (string, int, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from; ; {
		for ; i < len(p.lines); i++ {
			if match(p.lines[i]) {
				return p.lines[i], i, nil
			}
		}
		if p.done {
			last := ""
			if n := len(p.lines); n > 0 {
				last = p.lines[n-1]
			}
			return "", i, fmt.Errorf("nodeproc: %s exited (%v) before the expected line; its last line: %q", p.Name, p.err, last)
		}
		if time.Now().After(deadline) {
			return "", i, fmt.Errorf("nodeproc: %s: no expected line within %v", p.Name, timeout)
		}
		p.cond.Wait()
	}
}

// Lines returns the output so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Field returns the value of key=value in line, or "".
func Field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// Kill sends SIGKILL (kill -9).
func (p *Proc) Kill() error { return p.cmd.Process.Signal(syscall.SIGKILL) }

// Terminate sends SIGTERM (graceful stop).
func (p *Proc) Terminate() error { return p.cmd.Process.Signal(syscall.SIGTERM) }

// Wait waits for the process to exit, killing it after timeout.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.wait:
	case <-time.After(timeout):
		_ = p.Kill()
		<-p.wait
		return fmt.Errorf("nodeproc: %s did not exit within %v; killed", p.Name, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.wait:
		return true
	default:
		return false
	}
}
