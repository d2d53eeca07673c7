package mdns

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"

	"github.com/foundation-go/foundation/provider"
)

// recorder keeps every member set a provider reports.
type recorder struct {
	mu   sync.Mutex
	sets [][]provider.Member
	busy bool
	bad  string // set when update ran concurrently
}

func (r *recorder) update(ms []provider.Member) {
	r.mu.Lock()
	if r.busy {
		r.bad = "update called concurrently"
	}
	r.busy = true
	r.mu.Unlock()
	ms = slices.Clone(ms)
	r.mu.Lock()
	r.sets = append(r.sets, ms)
	r.busy = false
	r.mu.Unlock()
}

func (r *recorder) last() []provider.Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return nil
	}
	return r.sets[len(r.sets)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sets)
}

// ids of the last set.
func (r *recorder) ids() []string {
	var out []string
	for _, m := range r.last() {
		out = append(out, m.ID)
	}
	return out
}

// everHad reports whether any set reported contained id.
func (r *recorder) everHad(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, set := range r.sets {
		for _, m := range set {
			if m.ID == id {
				return true
			}
		}
	}
	return false
}

// since returns the sets reported from index i on.
func (r *recorder) since(i int) [][]provider.Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sets[i:])
}

// eventually polls cond every few milliseconds until it holds or timeout
// passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// node is one started provider in a test.
type node struct {
	p    *Provider
	rec  *recorder
	self provider.Member
}

// start starts a provider for self on lo, stopped at the end of the test.
func start(t *testing.T, cfg Config, self provider.Member) *node {
	t.Helper()
	cfg.Interfaces = []string{"lo"}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{p: p, rec: &recorder{}, self: self}
	if err := p.Start(context.Background(), self, n.rec.update); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop stops the provider, requiring it to take under a second.
func (n *node) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := n.p.Stop(ctx); err != nil {
		t.Errorf("Stop(%s) = %v, want nil within 1s", n.self.ID, err)
	}
	if bad := n.rec.bad; bad != "" {
		t.Errorf("%s: %s", n.self.ID, bad)
	}
}

// sendRaw multicasts packet on lo from a socket of its own, as a member
// that is not a Provider would.
func sendRaw(t *testing.T, packet []byte) {
	t.Helper()
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetMulticastInterface(lo); err != nil {
		t.Fatal(err)
	}
	if err := pc.SetMulticastLoopback(true); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(packet, nil, &net.UDPAddr{IP: mdnsGroup, Port: mdnsPort}); err != nil {
		t.Fatal(err)
	}
}

// packet builds the announcement (ttl > 0) or goodbye (ttl 0) of m.
func packet(t *testing.T, m provider.Member, ttl uint32) []byte {
	t.Helper()
	txt, err := encodeTXT(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := announcement(newNames(DefaultService, DefaultDomain, m.ID), 7999, txt, nil, ttl).Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
