package kubeapi

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Dialer makes a client's connections to the API server and can cut them
// or refuse new ones, as a network partition between a member and the
// control plane would. Its methods are safe for concurrent use.
type Dialer struct {
	d net.Dialer

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	refuse bool
	dials  int
}

// NewDialer returns a Dialer that connects.
func NewDialer() *Dialer { return &Dialer{conns: make(map[net.Conn]struct{})} }

// DialContext connects to address unless the Dialer refuses; it is a
// rest.Config.Dial.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.dials++
	refuse := d.refuse
	d.mu.Unlock()
	if refuse {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.Join(ErrRefused, syscall.ECONNREFUSED)}
	}
	c, err := d.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refuse {
		c.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.Join(ErrRefused, syscall.ECONNREFUSED)}
	}
	tc := &trackedConn{Conn: c, d: d}
	d.conns[tc] = struct{}{}
	return tc, nil
}

// Refuse makes further dials fail (refuse true) or succeed again.
func (d *Dialer) Refuse(refuse bool) {
	d.mu.Lock()
	d.refuse = refuse
	d.mu.Unlock()
}

// Cut closes every open connection: requests and watches in flight fail.
func (d *Dialer) Cut() {
	d.mu.Lock()
	conns := make([]net.Conn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Dials returns how many connections were asked for, refused ones
// included.
func (d *Dialer) Dials() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials
}

// Close refuses further dials and cuts every connection, so that no
// goroutine of a client's transport outlives its test.
func (d *Dialer) Close() {
	d.Refuse(true)
	d.Cut()
}

type trackedConn struct {
	net.Conn
	d    *Dialer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		delete(c.d.conns, c)
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}

// Client returns a clientset for cfg whose connections go through a new
// Dialer, which is returned too and closed when t ends (after the
// cleanups registered later, such as a provider's Stop). A Dial in cfg is
// replaced; cfg itself is not changed.
func Client(t testing.TB, cfg *rest.Config) (*kubernetes.Clientset, *Dialer) {
	t.Helper()
	d := NewDialer()
	cs, err := NewClient(cfg, d)
	if err != nil {
		t.Fatalf("kubeapi: client: %v", err)
	}
	t.Cleanup(d.Close)
	return cs, d
}

// NewClient returns a clientset for cfg whose connections go through d;
// cfg itself is not changed. Close d when done with the clientset.
func NewClient(cfg *rest.Config, d *Dialer) (*kubernetes.Clientset, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Dial = d.DialContext // also keeps client-go from sharing a cached transport
	return kubernetes.NewForConfig(cfg)
}
