package kubeapi

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

// BinEnv names the environment variable that overrides the directory
// holding the kube-apiserver and etcd binaries. Without it the directory
// is DefaultBinDir under the root of the module (where `make kubeapi`
// builds them).
const BinEnv = "FOUNDATION_KUBEAPI_BIN"

// DefaultBinDir is where tools/kubeapi/build.sh puts the binaries,
// relative to the module's root.
const DefaultBinDir = ".bin/kubeapi"

// Errors returned by this package. Compare them with errors.Is.
var (
	// ErrNotBuilt: the kube-apiserver or etcd binary is missing; Start
	// and Shared skip the test (fail it when CI is set).
	ErrNotBuilt = errors.New("kubeapi: the test Kubernetes API server (internal/kubeapi) is not built: run `make kubeapi` " +
		"(tools/kubeapi/build.sh builds kube-apiserver and etcd into " + DefaultBinDir + "; about 7 minutes on a new machine, seconds after), or set " + BinEnv)
	// ErrNoDir: StartServer's directory is not an existing directory.
	ErrNoDir = errors.New("kubeapi: the server's directory must be an existing directory")
	// ErrRefused is the error of a dial refused by a Dialer.
	ErrRefused = errors.New("kubeapi: connection refused by the test's Dialer")
	// ErrEtcdStopped: StartAPIServer was called while etcd is stopped
	// (after Stop); Restart starts both.
	ErrEtcdStopped = errors.New("kubeapi: etcd is stopped (Restart starts it and the API server)")
)

const (
	// etcdReadyTimeout bounds the wait for etcd to report healthy.
	etcdReadyTimeout = 20 * time.Second
	// apiReadyTimeout bounds the wait for the API server's /readyz: about
	// 3s on an idle machine, much more on a loaded one.
	apiReadyTimeout = 90 * time.Second
	// pollInterval is the pause between two readiness checks.
	pollInterval = 20 * time.Millisecond
	// stopTimeout bounds the wait for a process to exit after SIGTERM,
	// before it is killed.
	stopTimeout = 15 * time.Second
	// startTries: StartServer picks free ports this many times, since a
	// port found free may be taken before a process binds it.
	startTries = 3
)

// Options configures a Server. The zero value is a server as a production
// control plane runs it.
type Options struct {
	// NoWatchCache turns the API server's watch cache off
	// (--watch-cache=false): every watch is served by etcd, so a watch from
	// a resource version that etcd has compacted away fails with "too old
	// resource version" (410), as a production watch does when it falls
	// behind the watch cache.
	NoWatchCache bool
}

// Server is one kube-apiserver and its etcd. Its methods are safe for
// concurrent use.
type Server struct {
	bin  string // directory of the binaries
	dir  string // certificates, tokens, kubeconfig, logs, etcd's data
	opts Options

	etcdPort, peerPort, apiPort int
	token                       string // of the system:masters user
	ca                          []byte // PEM; the API server's serving certificate is its own CA

	mu   sync.Mutex // guards etcd and api
	etcd *process   // nil while stopped
	api  *process   // nil while stopped
}

// process is one run of a binary.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been waited for
}

// Start starts a Server in a directory of t's and stops it when t ends. It
// skips t when the binaries are not built (fails it when the CI
// environment variable is set: .ci/run builds them) and fails t when the
// server does not start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := StartServer(t.TempDir(), opts)
	if errors.Is(err, ErrNotBuilt) {
		SkipUnlessCI(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("kubeapi: %v", err)
		}
	})
	return s
}

// SkipUnlessCI skips t because of err (an ErrNotBuilt), or fails it when
// the CI environment variable is set.
func SkipUnlessCI(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%v (CI is set: .ci/run builds the harness with `make kubeapi`)", err)
		return
	}
	t.Skip(err.Error())
}

// StartServer starts etcd and the API server with their files in dir,
// which must exist, and returns once the API server is ready. The caller
// must Stop it. The error wraps ErrNotBuilt when a binary is missing, and
// ErrNoDir when dir is not a directory.
func StartServer(dir string, opts Options) (*Server, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: %q", ErrNoDir, dir)
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, opts: opts}
	if err := s.writeCredentials(); err != nil {
		return nil, err
	}
	var lastErr error
	for range startTries {
		ports, err := freePorts(3)
		if err != nil {
			return nil, err
		}
		s.etcdPort, s.peerPort, s.apiPort = ports[0], ports[1], ports[2]
		if err := s.writeKubeconfig(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		lastErr = s.startLocked()
		s.mu.Unlock()
		if lastErr == nil {
			return s, nil
		}
		if err := os.RemoveAll(s.etcdDataDir()); err != nil {
			return nil, err
		}
	}
	return nil, lastErr
}

// BinDir returns the directory holding the kube-apiserver and etcd
// binaries: $FOUNDATION_KUBEAPI_BIN, else DefaultBinDir under the module's
// root. The error wraps ErrNotBuilt when either binary is missing.
func BinDir() (string, error) {
	dir := os.Getenv(BinEnv)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", fmt.Errorf("%w (%v)", ErrNotBuilt, err)
		}
		dir = filepath.Join(root, DefaultBinDir)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%w: no executable %s", ErrNotBuilt, filepath.Join(dir, name))
		}
	}
	return dir, nil
}

// moduleRoot finds the directory of the main module's go.mod, from the
// working directory (a test's package directory) upwards.
func moduleRoot() (string, error) {
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
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Host returns the API server's URL, https://127.0.0.1:port.
func (s *Server) Host() string {
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.apiPort))
}

// CA returns the PEM certificate that verifies the API server.
func (s *Server) CA() []byte { return append([]byte(nil), s.ca...) }

// Config returns a new client configuration for the API server,
// authenticated as a member of system:masters (allowed everything). Its
// rate limits are high enough that tests are never throttled.
func (s *Server) Config() *rest.Config {
	return &rest.Config{
		Host:            s.Host(),
		BearerToken:     s.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.CA()},
		QPS:             1000,
		Burst:           1000,
		Timeout:         30 * time.Second,
	}
}

// Kubeconfig returns the path of a kubeconfig file for Config's user: give
// it to a process in k8s.EnvKubeconfig, or to kubectl with --kubeconfig.
func (s *Server) Kubeconfig() string { return filepath.Join(s.dir, "kubeconfig") }

// WriteKubeconfig writes a kubeconfig file at path for the API server,
// authenticated with token (a service account's, for instance).
func (s *Server) WriteKubeconfig(path, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubeapi"] = &clientcmdapi.Cluster{Server: s.Host(), CertificateAuthorityData: s.CA()}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["kubeapi"] = &clientcmdapi.Context{Cluster: "kubeapi", AuthInfo: "user"}
	cfg.CurrentContext = "kubeapi"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("kubeapi: writing %s: %w", path, err)
	}
	return nil
}

func (s *Server) writeKubeconfig() error { return s.WriteKubeconfig(s.Kubeconfig(), s.token) }

// EtcdEndpoints returns the client URL of the API server's etcd, for
// clientv3.Config.Endpoints (to compact it, for instance).
func (s *Server) EtcdEndpoints() []string { return []string{"http://" + s.etcdAddr()} }

// LogFile returns the path of the API server's log (etcd's is beside it,
// etcd.log); every run appends to it.
func (s *Server) LogFile() string { return filepath.Join(s.dir, "kube-apiserver.log") }

// Stop stops the API server, then etcd: SIGTERM, and SIGKILL for one that
// has not exited 15 seconds later. Stopping a stopped Server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.stopAPILocked(), s.stopEtcdLocked())
}

// StopAPIServer stops the API server (SIGTERM), leaving etcd running:
// clients then have their connections refused, as during a control
// plane's restart. StartAPIServer starts it again.
func (s *Server) StopAPIServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopAPILocked()
}

// StartAPIServer starts the API server again on the same port, with the
// same certificate and credentials, after StopAPIServer, and returns once
// it is ready. It does nothing when the API server runs.
func (s *Server) StartAPIServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.etcd == nil {
		return fmt.Errorf("%w: StartAPIServer", ErrEtcdStopped)
	}
	if s.api != nil {
		return nil
	}
	return s.startAPILocked()
}

// Restart stops the API server and etcd and starts both again on the same
// ports and data, returning once the API server is ready: every object
// survives, every connection is cut.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := errors.Join(s.stopAPILocked(), s.stopEtcdLocked()); err != nil {
		return err
	}
	return s.startLocked()
}

func (s *Server) etcdAddr() string        { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.etcdPort)) }
func (s *Server) etcdDataDir() string     { return filepath.Join(s.dir, "etcd-data") }
func (s *Server) path(name string) string { return filepath.Join(s.dir, name) }

// startLocked starts etcd then the API server.
func (s *Server) startLocked() error {
	if err := s.startEtcdLocked(); err != nil {
		return err
	}
	if err := s.startAPILocked(); err != nil {
		_ = s.stopEtcdLocked()
		return err
	}
	return nil
}

func (s *Server) startEtcdLocked() error {
	client := "http://" + s.etcdAddr()
	peer := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.peerPort))
	p, err := s.spawn("etcd", "etcd.log",
		"--name", "kubeapi",
		"--data-dir", s.etcdDataDir(),
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "kubeapi="+peer,
		"--initial-cluster-state", "new",
		// A test's data is thrown away: no fsync, quick elections.
		"--unsafe-no-fsync",
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--logger", "zap",
		"--log-level", "warn",
		"--log-outputs", "stderr",
	)
	if err != nil {
		return err
	}
	if err := waitReady(p, etcdReadyTimeout, func() bool { return etcdHealthy(s.etcdAddr()) }); err != nil {
		_ = p.stop()
		return fmt.Errorf("kubeapi: etcd on %s: %v; its log:\n%s", s.etcdAddr(), err, tail(s.path("etcd.log")))
	}
	s.etcd = p
	return nil
}

func (s *Server) startAPILocked() error {
	args := []string{
		"--etcd-servers=http://" + s.etcdAddr(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(s.apiPort),
		"--tls-cert-file=" + s.path("serving.crt"),
		"--tls-private-key-file=" + s.path("serving.key"),
		"--cert-dir=" + s.path("certs"),
		"--token-auth-file=" + s.path("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + s.path("sa.pub"),
		"--service-account-signing-key-file=" + s.path("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/24",
		// No controller manager creates the "default" service account
		// that this admission plugin requires of every pod.
		"--disable-admission-plugins=ServiceAccount",
		// The "kubernetes" Service's endpoints may not be a loopback
		// address; without this the server logs so every 10s.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		// On SIGTERM, end open watches (clients watch again elsewhere or
		// later, as they do when a production API server restarts) instead
		// of waiting for them to time out, which takes minutes.
		"--shutdown-watch-termination-grace-period=2s",
	}
	if s.opts.NoWatchCache {
		args = append(args, "--watch-cache=false")
	}
	p, err := s.spawn("kube-apiserver", "kube-apiserver.log", args...)
	if err != nil {
		return err
	}
	ready, closeIdle := s.readyz()
	defer closeIdle()
	if err := waitReady(p, apiReadyTimeout, ready); err != nil {
		_ = p.stop()
		return fmt.Errorf("kubeapi: kube-apiserver on %s: %v; its log:\n%s", s.Host(), err, tail(s.LogFile()))
	}
	s.api = p
	return nil
}

func (s *Server) stopAPILocked() error {
	p := s.api
	s.api = nil
	if p == nil {
		return nil
	}
	return p.stop()
}

func (s *Server) stopEtcdLocked() error {
	p := s.etcd
	s.etcd = nil
	if p == nil {
		return nil
	}
	return p.stop()
}

// spawn starts binary name of s.bin with args, its output appended to
// logName in s.dir.
func (s *Server) spawn(name, logName string, args ...string) (*process, error) {
	log, err := os.OpenFile(s.path(logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: %w", err)
	}
	defer log.Close() // the child has its own descriptor
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir} // nothing of the caller's: no KUBECONFIG
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kubeapi: starting %s: %w", cmd.Path, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
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
	return fmt.Errorf("kubeapi: %s (pid %d) did not exit within %v of SIGTERM; killed it", p.name, p.cmd.Process.Pid, stopTimeout)
}

// waitReady polls ready until it reports true, p exits, or timeout passes.
func waitReady(p *process, timeout time.Duration, ready func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it was ready (%v)", p.cmd.ProcessState)
		case <-deadline.C:
			return fmt.Errorf("not ready within %v", timeout)
		case <-tick.C:
		}
	}
}

// readyz returns a check of the API server's /readyz, and a function that
// closes the check's connections.
func (s *Server) readyz() (func() bool, func()) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.ca)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
	c := &http.Client{Transport: tr, Timeout: time.Second}
	return func() bool {
		req, err := http.NewRequest(http.MethodGet, s.Host()+"/readyz", nil)
		if err != nil {
			return false
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, tr.CloseIdleConnections
}

// etcdHealthy reports whether etcd's /health at addr says it is healthy. It
// speaks HTTP/1.0 on one connection, which leaves no goroutine behind.
func etcdHealthy(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintf(conn, "GET /health HTTP/1.0\r\nHost: %s\r\n\r\n", addr); err != nil {
		return false
	}
	b, _ := io.ReadAll(io.LimitReader(conn, 64<<10))
	return bytes.Contains(b, []byte(`"health":"true"`))
}

// tail returns the last 4 KiB of the file at path.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// writeCredentials writes the API server's serving certificate and key,
// the service-account signing key pair, and the token file; it sets
// s.token and s.ca. Everything is made anew for each Server.
func (s *Server) writeCredentials() error {
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	s.token = hex.EncodeToString(tok)
	// token,user,uid,"group1,group2"
	if err := os.WriteFile(s.path("tokens.csv"), []byte(s.token+",kubeapi-admin,kubeapi-admin,\"system:masters\"\n"), 0o600); err != nil {
		return fmt.Errorf("kubeapi: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "kubeapi test API server"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own CA: clients trust it directly
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	s.ca = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}

	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saDER, err := x509.MarshalECPrivateKey(sa)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return err
	}
	for name, block := range map[string]*pem.Block{
		"serving.crt": {Type: "CERTIFICATE", Bytes: der},
		"serving.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
		"sa.key":      {Type: "EC PRIVATE KEY", Bytes: saDER},
		"sa.pub":      {Type: "PUBLIC KEY", Bytes: saPub},
	} {
		if err := os.WriteFile(s.path(name), pem.EncodeToMemory(block), 0o600); err != nil {
			return fmt.Errorf("kubeapi: %w", err)
		}
	}
	return os.MkdirAll(s.path("certs"), 0o700)
}

// freePorts returns n distinct ports of 127.0.0.1, free a moment ago,
// from below the kernel's ephemeral range (see nodeproc.FreePorts).
func freePorts(n int) ([]int, error) {
	ports, err := nodeproc.FreePorts(n)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: finding a free port: %w", err)
	}
	return ports, nil
}

// withTimeout returns a context for one API call of a test.
func withTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
