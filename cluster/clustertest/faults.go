package clustertest

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/foundation-go/foundation/cluster"
)

// Network is the fault injector between members: every membership datagram
// from one member to another passes through it and can be cut (partition),
// delayed or dropped. Faults are directional; the helpers set both
// directions.
type Network struct {
	mu     sync.Mutex
	faults map[[2]string]fault // (from, to) address pair
	timers sync.WaitGroup
	closed bool
}

type fault struct {
	cut   bool
	delay time.Duration
	drop  float64
}

// NewNetwork returns a network without faults.
func NewNetwork() *Network { return &Network{faults: make(map[[2]string]fault)} }

func (n *Network) set(a, b string, f func(*fault)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range [][2]string{{a, b}, {b, a}} {
		x := n.faults[k]
		f(&x)
		n.faults[k] = x
	}
}

// Partition cuts all traffic between the members at addresses a and b.
func (n *Network) Partition(a, b string) { n.set(a, b, func(f *fault) { f.cut = true }) }

// Heal removes every fault between a and b.
func (n *Network) Heal(a, b string) { n.set(a, b, func(f *fault) { *f = fault{} }) }

// HealAll removes every fault.
func (n *Network) HealAll() {
	n.mu.Lock()
	clear(n.faults)
	n.mu.Unlock()
}

// Delay delays traffic between a and b by d.
func (n *Network) Delay(a, b string, d time.Duration) { n.set(a, b, func(f *fault) { f.delay = d }) }

// Drop drops traffic between a and b with probability p (0..1).
func (n *Network) Drop(a, b string, p float64) { n.set(a, b, func(f *fault) { f.drop = p }) }

// Wrap returns t with this network's faults applied to what it sends.
func (n *Network) Wrap(t cluster.Transport) cluster.Transport {
	return &faultyTransport{Transport: t, n: n, self: t.LocalAddress()}
}

// wait waits for delayed datagrams still in flight.
func (n *Network) wait() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.timers.Wait()
}

type faultyTransport struct {
	cluster.Transport
	n    *Network
	self string
}

func (t *faultyTransport) WriteTo(p []byte, to string) error {
	t.n.mu.Lock()
	f := t.n.faults[[2]string{t.self, to}]
	closed := t.n.closed
	t.n.mu.Unlock()
	switch {
	case f.cut:
		return nil
	case f.drop > 0 && rand.Float64() < f.drop:
		return nil
	case f.delay > 0 && !closed:
		b := append([]byte(nil), p...)
		t.n.timers.Add(1)
		time.AfterFunc(f.delay, func() {
			defer t.n.timers.Done()
			_ = t.Transport.WriteTo(b, to)
		})
		return nil
	}
	return t.Transport.WriteTo(p, to)
}
