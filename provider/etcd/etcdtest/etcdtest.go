package etcdtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

// BinEnv names the environment variable that overrides the etcd binary's
// path. Without it the binary is DefaultBin, or "etcd" on $PATH.
const BinEnv = "FOUNDATION_ETCD_BIN"

// DefaultBin is where Debian's etcd-server package installs etcd.
const DefaultBin = "/usr/bin/etcd"

// Errors returned by this package. Compare them with errors.Is.
var (
	// ErrNotInstalled: no etcd binary was found; Start skips the test.
	ErrNotInstalled = errors.New("etcdtest: etcd binary not found (apt-get install etcd-server, or set " + BinEnv + ")")
)

const (
	// readyTimeout bounds the wait for a started etcd to report healthy.
	readyTimeout = 15 * time.Second
	// pollInterval is the pause between two health checks.
	pollInterval = 10 * time.Millisecond
	// stopTimeout bounds the wait for etcd to exit after SIGTERM, before
	// it is killed. etcd 3.6 waits for its clients' open streams (watches,
	// lease keep-alives) to end for up to its request timeout, 5s plus two
	// election timeouts (6s here; measured), before it closes them; 3.4
	// closes them at once.
	stopTimeout = 10 * time.Second
	// startTries: StartServer picks free ports this many times, since a
	// port found free may be taken before etcd binds it.
	startTries = 3
)

// Server is one etcd process. Its methods are safe for concurrent use.
type Server struct {
	bin        string
	dir        string // holds data/ and etcd.log
	clientPort int
	peerPort   int

	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// process is one run of etcd.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been waited for
}

// Start starts an etcd server in a directory of t's and stops it when t
// ends. It skips t when the etcd binary is missing (fails it when the CI
// environment variable is set: CI installs etcd) and fails t when etcd does
// not start.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer(t.TempDir())
	if errors.Is(err, ErrNotInstalled) {
		SkipUnlessCI(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("etcdtest: %v", err)
		}
	})
	return s
}

// StartServer starts an etcd server whose data directory and log are in
// dir, which must exist, and returns once it reports healthy. The caller
// must Stop it. It returns an error wrapping ErrNotInstalled when the etcd
// binary is missing.
func StartServer(dir string) (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range startTries {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		s := &Server{bin: bin, dir: dir, clientPort: ports[0], peerPort: ports[1]}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
		if err := os.RemoveAll(s.dataDir()); err != nil {
			return nil, err
		}
	}
	return nil, lastErr
}

// Endpoints returns the server's client URL, for clientv3.Config.Endpoints.
func (s *Server) Endpoints() []string {
	return []string{"http://" + s.Addr()}
}

// Addr returns the host:port the server serves clients on.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))
}

// LogFile returns the path of the server's log, which every run appends
// to.
func (s *Server) LogFile() string {
	return filepath.Join(s.dir, "etcd.log")
}

// Stop sends etcd SIGTERM and waits for it to exit; after ten seconds it
// kills it. Stopping a stopped Server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	s.proc = nil
	if p == nil {
		return nil
	}
	return p.stop()
}

// RestartOption configures Restart. Build options with the functions of this
// package.
type RestartOption interface{ apply(*restartOptions) }

type restartOptions struct {
	wipe bool
}

type optionFunc func(*restartOptions)

func (f optionFunc) apply(o *restartOptions) { f(o) }

// WipeData makes Restart delete the data directory before it starts etcd
// again: every key, lease and revision is lost, as when an etcd is
// restored from nothing.
func WipeData() RestartOption {
	return optionFunc(func(o *restartOptions) { o.wipe = true })
}

// Restart stops the server if it runs and starts it again on the same
// ports and data directory (emptied with WipeData), returning once it
// reports healthy.
func (s *Server) Restart(opts ...RestartOption) error {
	var o restartOptions
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.proc; p != nil {
		s.proc = nil
		if err := p.stop(); err != nil {
			return err
		}
	}
	if o.wipe {
		if err := os.RemoveAll(s.dataDir()); err != nil {
			return fmt.Errorf("etcdtest: wiping the data: %w", err)
		}
	}
	return s.start()
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// start starts etcd and waits until it is healthy; s.mu is held or s is
// not shared yet.
func (s *Server) start() error {
	log, err := os.OpenFile(s.LogFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("etcdtest: %w", err)
	}
	defer log.Close() // the child has its own descriptor
	logStart, _ := log.Seek(0, io.SeekEnd)
	client := "http://" + s.Addr()
	peer := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.peerPort))
	cmd := exec.Command(s.bin,
		"--name", "etcdtest",
		"--data-dir", s.dataDir(),
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "etcdtest="+peer,
		"--initial-cluster-state", "new",
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--logger", "zap",
		"--log-outputs", "stderr",
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("etcdtest: starting %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := s.waitHealthy(p); err != nil {
		_ = p.stop()
		return fmt.Errorf("etcdtest: etcd on %s: %v; its log:\n%s", s.Addr(), err, s.logSince(logStart))
	}
	s.proc = p
	return nil
}

// waitHealthy polls etcd's /health until it reports healthy, p exits, or
// readyTimeout passes.
func (s *Server) waitHealthy(p *process) error {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if healthy(s.Addr()) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it was healthy (%v)", p.cmd.ProcessState)
		case <-deadline.C:
			return fmt.Errorf("not healthy within %v", readyTimeout)
		case <-tick.C:
		}
	}
}

// healthy reports whether etcd's /health at addr says it is healthy (it has
// a leader). It speaks HTTP/1.0 on one connection, which leaves no
// goroutine behind.
func healthy(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := fmt.Fprintf(conn, "GET /health HTTP/1.0\r\nHost: %s\r\n\r\n", addr); err != nil {
		return false
	}
	b, _ := io.ReadAll(io.LimitReader(conn, 64<<10))
	return bytes.Contains(b, []byte(`"health":"true"`))
}

// logSince returns the log written from offset on, at most its last 4 KiB.
func (s *Server) logSince(offset int64) string {
	b, err := os.ReadFile(s.LogFile())
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	b = b[offset:]
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// stop sends SIGTERM, waits stopTimeout, then kills.
func (p *process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("etcdtest: etcd (pid %d) did not exit within %v of SIGTERM; killed it", p.cmd.Process.Pid, stopTimeout)
}

// binary finds the etcd binary: $FOUNDATION_ETCD_BIN, DefaultBin, or etcd
// on $PATH.
func binary() (string, error) {
	if bin := os.Getenv(BinEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNotInstalled, BinEnv, bin, err)
		}
		return bin, nil
	}
	if _, err := os.Stat(DefaultBin); err == nil {
		return DefaultBin, nil
	}
	if bin, err := exec.LookPath("etcd"); err == nil {
		return bin, nil
	}
	return "", fmt.Errorf("%w: not at %s nor on $PATH", ErrNotInstalled, DefaultBin)
}

// freePorts returns n distinct ports of 127.0.0.1, free a moment ago,
// from below the kernel's ephemeral range (see nodeproc.FreePorts).
func freePorts(n int) ([]int, error) {
	ports, err := nodeproc.FreePorts(n)
	if err != nil {
		return nil, fmt.Errorf("etcdtest: finding a free port: %w", err)
	}
	return ports, nil
}

// SkipUnlessCI skips t because of err (an ErrNotInstalled), or fails it
// when the CI environment variable is set.
func SkipUnlessCI(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%v (CI is set: .ci/run installs etcd-server)", err)
	}
	t.Skip(err.Error())
}
