package federation

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/federation/fedtest"
)

// Strangers are refused and logged: a certificate from another CA, a
// cluster that is not a neighbour, a wrong per-link secret, and a replayed
// proof.
func TestStrangerLinksRefused(t *testing.T) {
	f := startFed(t, mesh, fedOptions{members: 2})
	addr := f.fed("web", 0).Addr()
	good, err := f.ca.MutualTLS("intruder")
	if err != nil {
		t.Fatal(err)
	}
	dialTLS := func(cfg *tls.Config) (*tls.Conn, error) {
		cfg = cfg.Clone()
		cfg.ServerName = "127.0.0.1"
		d := &net.Dialer{Timeout: 5 * time.Second}
		return tls.DialWithDialer(d, "tcp", addr, cfg)
	}
	refused := func(reason string) {
		t.Helper()
		clustertest.Eventually(t, func() bool {
			for _, e := range f.logs.FilterMessage("federation: refused a link").All() {
				if r, ok := e.ContextMap()["reason"].(string); ok && contains(r, reason) {
					return true
				}
			}
			return false
		}, 5*time.Second, "a refusal logged with "+reason)
	}

	// Another CA's certificate: TLS fails.
	other, _ := fedtest.NewCA("other")
	bad, _ := other.MutualTLS("intruder")
	if c, err := dialTLS(bad); err == nil {
		// TLS 1.3: the client learns of the refusal on its first read.
		err = clientHandshake(c, linkSecret("web", "ai"), "ai", "web")
		c.Close()
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("another CA: %v", err)
		}
	}
	refused("TLS")

	for _, tc := range []struct{ from, secret, reason string }{
		{"mars", "x", "not a linked cluster"},
		{"ai", "wrong", "does not share the link secret"},
	} {
		c, err := dialTLS(good)
		if err != nil {
			t.Fatal(err)
		}
		err = clientHandshake(c, tc.secret, tc.from, "web")
		c.Close()
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("%s with secret %q: %v, want ErrAuth", tc.from, tc.secret, err)
		}
		refused(tc.reason)
	}

	// A replayed proof: the server's fresh nonce makes it worthless.
	c, err := dialTLS(good)
	if err != nil {
		t.Fatal(err)
	}
	nonceC := newNonce()
	if err := writeFields(c, []byte("processing"), []byte("web"), nonceC); err != nil {
		t.Fatal(err)
	}
	ch, err := readFields(c, 2)
	if err != nil {
		t.Fatal(err)
	}
	proof := linkMAC(linkSecret("processing", "web"), "client", "processing", "web", nonceC, ch[0])
	c.Close()
	c, err = dialTLS(good)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = writeFields(c, []byte("processing"), []byte("web"), nonceC)
	if _, err := readFields(c, 2); err != nil {
		t.Fatal(err)
	}
	_ = writeFields(c, proof)
	var st [1]byte
	if _, err := c.Read(st[:]); err == nil && st[0] == 1 {
		t.Fatal("a replayed proof was accepted")
	}
	refused("wrong link secret")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
