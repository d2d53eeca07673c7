package clustertest

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/foundation-go/foundation/cluster"
)

// Network is the fault injector between members: every packet and every
// stream one member sends another — SWIM's packets and streams, grain
// calls, actor remoting — passes through it and can be cut (a partition:
// nothing arrives and nothing is refused, as when a host vanishes without
// a RST), delayed, or (packets only) dropped. Faults are directional; the
// helpers set both directions. Members are named by any of their addresses
// (remoting or cluster).
//
// Streams behave as TCP does across a cut: writes still succeed (buffered),
// nothing is delivered while the cut lasts, and everything arrives in order
// once it heals, unless a side gave up and closed the stream meanwhile.
type Network struct {
	mu      sync.Mutex
	cond    *sync.Cond
	faults  map[[2]string]fault // (from, to) member key pair
	aliases map[string]string   // address -> member key
	conns   map[*faultConn]struct{}
	wg      sync.WaitGroup
	closed  bool
}

type fault struct {
	cut   bool
	delay time.Duration
	drop  float64
}

// NewNetwork returns a network without faults.
func NewNetwork() *Network {
	n := &Network{faults: make(map[[2]string]fault), aliases: make(map[string]string), conns: make(map[*faultConn]struct{})}
	n.cond = sync.NewCond(&n.mu)
	return n
}

// Alias makes address another name of the member whose key is key (its
// remoting address in Cluster).
func (n *Network) Alias(address, key string) {
	n.mu.Lock()
	n.aliases[address] = key
	n.mu.Unlock()
}

func (n *Network) keyLocked(addr string) string {
	if k, ok := n.aliases[addr]; ok {
		return k
	}
	return addr
}

func (n *Network) set(a, b string, f func(*fault)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a, b = n.keyLocked(a), n.keyLocked(b)
	for _, k := range [][2]string{{a, b}, {b, a}} {
		x := n.faults[k]
		f(&x)
		n.faults[k] = x
	}
	n.cond.Broadcast()
}

// Partition cuts all traffic between the members a and b.
func (n *Network) Partition(a, b string) { n.set(a, b, func(f *fault) { f.cut = true }) }

// Split cuts all traffic between every member of side a and every member
// of side b.
func (n *Network) Split(a, b []string) {
	for _, x := range a {
		for _, y := range b {
			n.Partition(x, y)
		}
	}
}

// Heal removes every fault between a and b.
func (n *Network) Heal(a, b string) { n.set(a, b, func(f *fault) { *f = fault{} }) }

// HealAll removes every fault.
func (n *Network) HealAll() {
	n.mu.Lock()
	clear(n.faults)
	n.cond.Broadcast()
	n.mu.Unlock()
}

// Delay delays traffic between a and b by d.
func (n *Network) Delay(a, b string, d time.Duration) { n.set(a, b, func(f *fault) { f.delay = d }) }

// Drop drops packets between a and b with probability p (0..1). Streams
// are reliable: they are not affected.
func (n *Network) Drop(a, b string, p float64) { n.set(a, b, func(f *fault) { f.drop = p }) }

func (n *Network) faultLocked(from, to string) fault {
	return n.faults[[2]string{n.keyLocked(from), n.keyLocked(to)}]
}

// Wrap returns the packet transport t with this network's faults applied to
// what it sends.
func (n *Network) Wrap(t cluster.Transport) cluster.Transport {
	return &faultyTransport{Transport: t, n: n, self: t.LocalAddress()}
}

// Dialer returns a dial function for the member self (any of its
// addresses) whose streams pass through this network.
func (n *Network) Dialer(self func() string) func(ctx context.Context, address string) (net.Conn, error) {
	return func(ctx context.Context, address string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			return nil, err
		}
		return n.wrapConn(c, self(), address), nil
	}
}

// wait waits for delayed packets and stream pumps still running.
func (n *Network) wait() {
	n.mu.Lock()
	n.closed = true
	cs := make([]*faultConn, 0, len(n.conns))
	for c := range n.conns {
		cs = append(cs, c)
	}
	n.cond.Broadcast()
	n.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
	n.wg.Wait()
}

type faultyTransport struct {
	cluster.Transport
	n    *Network
	self string
}

func (t *faultyTransport) WriteTo(p []byte, to string) error {
	t.n.mu.Lock()
	f := t.n.faultLocked(t.self, to)
	closed := t.n.closed
	t.n.mu.Unlock()
	switch {
	case f.cut:
		return nil
	case f.drop > 0 && rand.Float64() < f.drop:
		return nil
	case f.delay > 0 && !closed:
		b := append([]byte(nil), p...)
		t.n.wg.Add(1)
		time.AfterFunc(f.delay, func() {
			defer t.n.wg.Done()
			_ = t.Transport.WriteTo(b, to)
		})
		return nil
	}
	return t.Transport.WriteTo(p, to)
}

// faultConn is one stream through the network: the application reads and
// writes its buffers; two pumps move bytes between them and the real
// connection while no cut stands between from and to.
type faultConn struct {
	raw      net.Conn
	n        *Network
	from, to string

	mu     sync.Mutex
	out    []chunk // written, not yet sent
	in     []byte  // received, not yet read
	inErr  error   // the read side's end
	closed bool
	readDL time.Time
	wake   chan struct{} // signalled when out grows (sendPump waits on it)
	done   chan struct{} // closed by Close
}

type chunk struct {
	b  []byte
	at time.Time
}

func (n *Network) wrapConn(raw net.Conn, from, to string) net.Conn {
	c := &faultConn{raw: raw, n: n, from: from, to: to, wake: make(chan struct{}, 1), done: make(chan struct{})}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = raw.Close()
		c.closed = true
		close(c.done)
		return c
	}
	n.conns[c] = struct{}{}
	n.wg.Add(2)
	n.mu.Unlock()
	go c.sendPump()
	go c.recvPump()
	return c
}

func (c *faultConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// hold waits while traffic from a to b is cut, then for its delay after
// at; false when the connection closed meanwhile.
func (c *faultConn) hold(a, b string, at time.Time) bool {
	c.n.mu.Lock()
	for {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed || c.n.closed {
			c.n.mu.Unlock()
			return false
		}
		f := c.n.faultLocked(a, b)
		if !f.cut {
			c.n.mu.Unlock()
			if d := time.Until(at.Add(f.delay)); d > 0 {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-t.C:
					return true
				case <-c.done:
					return false
				}
			}
			return true
		}
		c.n.cond.Wait()
	}
}

func (c *faultConn) sendPump() {
	defer c.n.wg.Done()
	for {
		c.mu.Lock()
		for len(c.out) == 0 && !c.closed {
			c.mu.Unlock()
			select {
			case <-c.wake:
			case <-c.done:
			}
			c.mu.Lock()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		ch := c.out[0]
		c.out = c.out[1:]
		c.mu.Unlock()
		if !c.hold(c.from, c.to, ch.at) {
			return
		}
		if _, err := c.raw.Write(ch.b); err != nil {
			c.fail(err)
			return
		}
	}
}

func (c *faultConn) recvPump() {
	defer c.n.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		k, err := c.raw.Read(buf)
		if k > 0 {
			at := time.Now()
			if !c.hold(c.to, c.from, at) {
				return
			}
			c.mu.Lock()
			c.in = append(c.in, buf[:k]...)
			c.mu.Unlock()
			c.n.mu.Lock()
			c.n.cond.Broadcast()
			c.n.mu.Unlock()
		}
		if err != nil {
			c.mu.Lock()
			c.inErr = err
			c.mu.Unlock()
			c.n.mu.Lock()
			c.n.cond.Broadcast()
			c.n.mu.Unlock()
			return
		}
	}
}

func (c *faultConn) fail(err error) {
	c.mu.Lock()
	if c.inErr == nil {
		c.inErr = err
	}
	c.mu.Unlock()
	c.n.mu.Lock()
	c.n.cond.Broadcast()
	c.n.mu.Unlock()
}

func (c *faultConn) Read(p []byte) (int, error) {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, net.ErrClosed
		case len(c.in) > 0:
			k := copy(p, c.in)
			c.in = c.in[k:]
			c.mu.Unlock()
			return k, nil
		case c.inErr != nil:
			err := c.inErr
			c.mu.Unlock()
			return 0, err
		}
		dl := c.readDL
		c.mu.Unlock()
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.AfterFunc(d, func() {
					c.n.mu.Lock()
					c.n.cond.Broadcast()
					c.n.mu.Unlock()
				})
			}
		}
		c.n.cond.Wait()
	}
}

func (c *faultConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if c.inErr != nil && !errors.Is(c.inErr, os.ErrDeadlineExceeded) {
		err := c.inErr
		c.mu.Unlock()
		return 0, err
	}
	c.out = append(c.out, chunk{b: append([]byte(nil), p...), at: time.Now()})
	c.mu.Unlock()
	c.signal()
	return len(p), nil
}

func (c *faultConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	err := c.raw.Close()
	c.n.mu.Lock()
	delete(c.n.conns, c)
	c.n.cond.Broadcast()
	c.n.mu.Unlock()
	return err
}

func (c *faultConn) LocalAddr() net.Addr  { return c.raw.LocalAddr() }
func (c *faultConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

func (c *faultConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return nil
}

func (c *faultConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDL = t
	c.mu.Unlock()
	c.n.mu.Lock()
	c.n.cond.Broadcast()
	c.n.mu.Unlock()
	return nil
}

// SetWriteDeadline is accepted and ignored: writes never block.
func (c *faultConn) SetWriteDeadline(time.Time) error { return nil }
