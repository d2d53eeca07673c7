package foundation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/protos"
	"github.com/foundation-go/foundation/provider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func startNodes(t *testing.T, n int, extra func(i int, c *cluster.Config), opts ...foundation.Option) []*foundation.Node {
	t.Helper()
	all, err := nodeproc.FreePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	ports, cports := all[:n], all[n:] // remoting, cluster
	var seeds []string
	for _, p := range cports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	// Every line at WARN and above goes to the test log; an ERROR fails the
	// test once the nodes have stopped (a normal run logs none).
	errCore, errs := observer.New(zapcore.ErrorLevel)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel), zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, errCore)
	})))
	t.Cleanup(func() {
		for _, e := range errs.All() {
			t.Errorf("ERROR logged: %s %s %v", e.LoggerName, e.Message, e.ContextMap())
		}
	})
	var nodes []*foundation.Node
	for i := 0; i < n; i++ {
		node, err := foundation.Start(context.Background(), append([]foundation.Option{
			foundation.WithEnv(env(map[string]string{"FOUNDATION_SEEDS": strings.Join(seeds, ",")})),
			foundation.WithLogger(log),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Port = ports[i]
				c.ClusterPort = cports[i]
				c.Secret = "test-secret-0123456789"
				if extra != nil {
					extra(i, c)
				}
			})}, opts...)...)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		nodes = append(nodes, node)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = node.Stop(ctx)
		})
	}
	return nodes
}

func TestStartFormsAClusterFromTheEnvironment(t *testing.T) {
	nodes := startNodes(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if err := n.Membership.Await(ctx, cluster.AtLeast(3)); err != nil {
			t.Fatal(err)
		}
		if got := n.Detection.Provider; got != "static" {
			t.Fatalf("detected provider %q, want static (FOUNDATION_SEEDS is set)", got)
		}
		if len(n.Membership.Members()) != 3 {
			t.Fatalf("members %d", len(n.Membership.Members()))
		}
	}
	// Remoting works between nodes: a Call from node 0 to a process on node 2.
	pid, err := nodes[2].System.Spawn(pong{})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := actor.Call[*protos.Pong](ctx, nodes[0].System, pid, &protos.Ping{Text: "hi"})
	if err != nil || reply.Text != "hi" {
		t.Fatalf("remote call: %v %v", reply, err)
	}
	// A graceful stop is quick (the 1s budget is checked without the race
	// detector by examples/node's multi-process test).
	t0 := time.Now()
	if err := nodes[1].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("Stop took %v", d)
	}
}

type pong struct{ actor.ServerBase }

func (pong) HandleCall(_ actor.Process, req any) (any, error) {
	return &protos.Pong{Text: req.(*protos.Ping).Text}, nil
}

func TestStartRejectsBadConfiguration(t *testing.T) {
	_, err := foundation.Start(context.Background(), foundation.WithEnv(env(nil)),
		foundation.WithConfig(func(c *cluster.Config) { c.ProbeInterval = -time.Second }))
	if !errors.Is(err, cluster.ErrInvalidConfig) || !strings.Contains(err.Error(), "probe_interval") {
		t.Fatalf("got %v", err)
	}
	_, err = foundation.Start(context.Background(), foundation.WithEnv(env(map[string]string{"CONSUL_HTTP_ADDR": "127.0.0.1:8500"})),
		foundation.WithConfig(func(c *cluster.Config) { c.Secret = "test-secret-0123456789" }))
	if !errors.Is(err, foundation.ErrProviderUnavailable) || !errors.Is(err, provider.ErrUnavailable) ||
		!strings.Contains(err.Error(), "127.0.0.1:8500") {
		t.Fatalf("consul agent not running: got %v, want ErrProviderUnavailable naming the address", err)
	}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t, dir)
	good := []string{writeCert(t, dir, "a", ca, caKey), writeCert(t, dir, "b", ca, caKey)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes := startNodes(t, 2, func(i int, c *cluster.Config) {
		c.TLS = cluster.TLSConfig{CertFile: good[i] + ".crt", KeyFile: good[i] + ".key", CAFile: filepath.Join(dir, "ca.crt")}
	})
	pid, _ := nodes[1].System.Spawn(pong{})
	if _, err := actor.Call[*protos.Pong](ctx, nodes[0].System, pid, &protos.Ping{Text: "tls"}); err != nil {
		t.Fatalf("call over mTLS: %v", err)
	}
	// The listener refuses a client without a certificate from the CA, and
	// plaintext. (Probed with a raw connection: the engine's endpoint writer
	// retries a refused connection for 10 s and leaks its gRPC connections.)
	addr := nodes[1].System.Address()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err == nil {
		// TLS 1.3 reports a missing client certificate on the first read.
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without a certificate was not refused: %v", err)
	}
	raw, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	_ = raw.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := raw.Read(make([]byte, 64))
	raw.Close()
	if n > 0 {
		t.Fatalf("the mTLS listener answered plaintext HTTP/2 (%d bytes)", n)
	}
}

// TestStartReadsTheConfigFile: foundation.Start with WithConfigFile takes
// the file's values, the environment wins over the file and options in code
// win over both; a missing file is cluster.ErrConfigFile.
func TestStartReadsTheConfigFile(t *testing.T) {
	ports, err := nodeproc.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	yaml := "name: from-file\nsecret: file-secret-0123456789\nhost: 127.0.0.1\nport: " + strconv.Itoa(ports[0]) +
		"\ncluster_port: " + strconv.Itoa(ports[1]) +
		"\nprovider: static\nseeds: [127.0.0.1:" + strconv.Itoa(ports[1]) + "]\nlabels: {zone: file}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node, err := foundation.Start(ctx,
		foundation.WithConfigFile(path),
		foundation.WithEnv(env(map[string]string{"FOUNDATION_LABELS": "zone=env,rack=env"})),
		foundation.WithLogger(zap.NewNop()),
		foundation.WithConfig(func(c *cluster.Config) { c.Labels["rack"] = "code" }))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Stop(ctx)
	self := node.Membership.Self()
	if node.Config.Name != "from-file" || self.Address != "127.0.0.1:"+strconv.Itoa(ports[0]) ||
		self.ClusterAddress != "127.0.0.1:"+strconv.Itoa(ports[1]) {
		t.Errorf("name %q, address %q, cluster address %q: want the file's", node.Config.Name, self.Address, self.ClusterAddress)
	}
	if self.Labels["zone"] != "env" || self.Labels["rack"] != "code" {
		t.Errorf("labels %v: want zone from the environment and rack from code", self.Labels)
	}
	_, err = foundation.Start(ctx, foundation.WithConfigFile(filepath.Join(t.TempDir(), "missing.yaml")),
		foundation.WithEnv(env(nil)), foundation.WithLogger(zap.NewNop()))
	if !errors.Is(err, cluster.ErrConfigFile) {
		t.Fatalf("missing file: %v; want ErrConfigFile", err)
	}
}

// TestGrainsOverMutualTLS: with tls.* configured, the cluster port (SWIM's
// streams and grain calls) runs over mutual TLS too: calls between members
// work, and the cluster port refuses a client without a certificate from
// the CA, and plaintext.
func TestGrainsOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t, dir)
	good := []string{writeCert(t, dir, "a", ca, caKey), writeCert(t, dir, "b", ca, caKey)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	echo := grain.Kind{Name: "echo", New: func(string) grain.Grain { return echoGrain{} }}
	nodes := startNodes(t, 2, func(i int, c *cluster.Config) {
		c.TLS = cluster.TLSConfig{CertFile: good[i] + ".crt", KeyFile: good[i] + ".key", CAFile: filepath.Join(dir, "ca.crt")}
	}, foundation.WithGrains(echo))
	clustertest.Eventually(t, func() bool {
		return nodes[0].Grains.ViewSize() == 2 && nodes[1].Grains.ViewSize() == 2
	}, 5*time.Second, "both grain hosts see both members")
	remote := 0
	for i := range 20 {
		ref := grain.Get[*protos.Pong](nodes[0].Grains, "echo", "id-"+strconv.Itoa(i))
		got, err := ref.Call(ctx, &protos.Pong{Text: "tls"})
		if err != nil {
			t.Fatalf("grain call over mTLS: %v", err)
		}
		if got.Text != "tls" {
			t.Fatalf("reply %q", got.Text)
		}
		if ref.Where() == nodes[1].Membership.Self().ID {
			remote++
		}
	}
	if remote == 0 {
		t.Fatal("no identity was placed on the other member: nothing crossed the network")
	}

	addr := nodes[1].Membership.Self().ClusterAddress
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err == nil {
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a cluster-port client without a certificate was not refused: %v", err)
	}
	raw, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write([]byte{0, 0, 0, 2, 8, 1}) // a frame header and a few bytes
	_ = raw.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := raw.Read(make([]byte, 64))
	raw.Close()
	if n > 0 && !looksLikeTLSAlert(n) {
		t.Fatalf("the cluster port answered plaintext with %d bytes", n)
	}
}

// looksLikeTLSAlert: a TLS server may answer garbage with an alert record
// (7 bytes) before closing; anything else would be a grain frame.
func looksLikeTLSAlert(n int) bool { return n == 7 }

// echoGrain answers a call with the request.
type echoGrain struct{}

func (echoGrain) Receive(_ *grain.Context, msg any) (any, error) { return msg, nil }

func newCA(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "foundation test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", der)
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func writeCert(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, name)
	writePEM(t, base+".crt", "CERTIFICATE", der)
	kb, _ := x509.MarshalECPrivateKey(key)
	writePEM(t, base+".key", "EC PRIVATE KEY", kb)
	return base
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCodeWinsOverDetectedProfile(t *testing.T) {
	// Kubernetes detected (production: host 0.0.0.0), but code asks for
	// loopback and development timings: code wins, even with values equal
	// to the development preset's.
	ports, err := nodeproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	node, err := foundation.Start(context.Background(),
		foundation.WithEnv(env(map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"})),
		foundation.WithLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))),
		foundation.WithProvider(noPeers{}),
		foundation.WithConfig(func(c *cluster.Config) {
			c.Host = "127.0.0.1"
			c.Port = ports[0]
			c.ProbeInterval = 100 * time.Millisecond
			c.ProbeTimeout = 60 * time.Millisecond
			c.Secret = "test-secret-0123456789"
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Stop(context.Background())
	c := node.Config
	if c.Profile != cluster.ProfileProduction || c.Host != "127.0.0.1" || c.ProbeInterval != 100*time.Millisecond || c.ProbeTimeout != 60*time.Millisecond {
		t.Fatalf("profile %s host %s probe interval %v timeout %v", c.Profile, c.Host, c.ProbeInterval, c.ProbeTimeout)
	}
	if !strings.HasPrefix(node.System.Address(), "127.0.0.1:") {
		t.Fatalf("listening on %s", node.System.Address())
	}
}

type noPeers struct{}

func (noPeers) Start(context.Context, provider.Member, func([]provider.Member)) error { return nil }

func (noPeers) Stop(context.Context) error { return nil }
