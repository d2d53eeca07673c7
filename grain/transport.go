package grain

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
)

// Grain traffic between members goes over its own TCP connections: one
// stream of length-prefixed GrainFrames per direction and pair of members,
// opened by a HELLO that proves the cluster secret. A connection that a
// peer's kernel refuses (nothing listens: the process is dead) marks that
// member down at once, well before heartbeats would.

// maxFrame bounds one frame (64 MiB).
const maxFrame = 64 << 20

// Listener is the grain port of a member. Open it before the member's
// membership starts so that its address can be announced in the member's
// labels (AddressLabel).
type Listener struct {
	ln net.Listener
}

// AddressLabel is the member label that carries the host:port of its grain
// listener.
const AddressLabel = "foundation.grain"

// Listen opens a grain listener on addr (host:port; port 0 picks a free
// one).
func Listen(addr string) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("grain: listen on %q: %w", addr, err)
	}
	return &Listener{ln: ln}, nil
}

// Addr is the listener's host:port.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// Close closes the listener; a Host closes its own on Stop.
func (l *Listener) Close() error { return l.ln.Close() }

func encodeFrame(f *protos.GrainFrame) ([]byte, error) {
	b := make([]byte, 4, 4+proto.Size(f))
	b, err := proto.MarshalOptions{}.MarshalAppend(b, f)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}

func readFrame(r *bufio.Reader) (*protos.GrainFrame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("grain: frame of %d bytes exceeds %d", n, maxFrame)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	f := &protos.GrainFrame{}
	if err := proto.Unmarshal(buf, f); err != nil {
		return nil, fmt.Errorf("grain: bad frame: %w", err)
	}
	return f, nil
}

func helloMAC(secret []byte, cluster, member string) []byte {
	m := hmac.New(sha256.New, secret)
	var b []byte
	for _, s := range []string{"foundation-grain-hello-v1", cluster, member} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	m.Write(b)
	return m.Sum(nil)
}

func (h *Host) hello() *protos.GrainFrame {
	return &protos.GrainFrame{Type: protos.GrainFrame_HELLO, Member: h.self, Cluster: h.cfg.Cluster,
		Auth: helloMAC(h.cfg.Secret, h.cfg.Cluster, h.self)}
}

func (h *Host) checkHello(f *protos.GrainFrame) error {
	if f.Type != protos.GrainFrame_HELLO {
		return errors.New("first frame is not a hello")
	}
	if f.Cluster != h.cfg.Cluster {
		return fmt.Errorf("cluster %q is not %q", f.Cluster, h.cfg.Cluster)
	}
	if !hmac.Equal(f.Auth, helloMAC(h.cfg.Secret, f.Cluster, f.Member)) {
		return errors.New("bad cluster secret")
	}
	return nil
}

// conn is one grain connection. Writes are serialized by wmu; the side that
// dialled matches answers to requests through pending.
type conn struct {
	h      *Host
	c      net.Conn
	peer   string // member id of the other side
	wmu    sync.Mutex
	nextID atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan *protos.GrainFrame
	closed  bool
}

func newConn(h *Host, c net.Conn, peer string) *conn {
	return &conn{h: h, c: c, peer: peer, pending: make(map[uint64]chan *protos.GrainFrame)}
}

func (c *conn) write(f *protos.GrainFrame) error {
	b, err := encodeFrame(f)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	_, err = c.c.Write(b)
	c.wmu.Unlock()
	if err != nil {
		c.close()
		return retry("connection to " + c.peer + " lost: " + err.Error())
	}
	return nil
}

var chanPool = sync.Pool{New: func() any { return make(chan *protos.GrainFrame, 1) }}

// request sends f and waits for its answer, ctx, or the connection's loss.
func (c *conn) request(ctx context.Context, f *protos.GrainFrame) (*protos.GrainFrame, error) {
	id := c.nextID.Add(1)
	f.Id = id
	ch := chanPool.Get().(chan *protos.GrainFrame)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		chanPool.Put(ch)
		return nil, retry("connection to " + c.peer + " lost")
	}
	c.pending[id] = ch
	c.mu.Unlock()
	if err := c.write(f); err != nil {
		c.forget(id)
		return nil, err
	}
	select {
	case r := <-ch:
		chanPool.Put(ch)
		if r == nil {
			return nil, retry("connection to " + c.peer + " lost")
		}
		return r, nil
	case <-ctx.Done():
		if !c.forget(id) {
			<-ch // the answer (or the loss) is being delivered: take it
		}
		chanPool.Put(ch)
		return nil, ctx.Err()
	}
}

// forget removes a pending request; false if it was already taken.
func (c *conn) forget(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[id]; ok {
		delete(c.pending, id)
		return true
	}
	return false
}

func (c *conn) deliver(f *protos.GrainFrame) {
	c.mu.Lock()
	ch, ok := c.pending[f.Id]
	delete(c.pending, f.Id)
	c.mu.Unlock()
	if ok {
		ch <- f
	}
}

// close closes the connection and fails every pending request.
func (c *conn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	p := c.pending
	c.pending = nil
	c.mu.Unlock()
	_ = c.c.Close()
	for _, ch := range p {
		ch <- nil
	}
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// refused reports whether a dial error means nothing listens at the address.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// dialTimeout bounds one connection attempt.
const dialTimeout = time.Second

// peerConn returns the outbound connection to member n, dialling it when
// needed. A refused dial, or a different member answering at n's address,
// marks n down and returns a retry error.
func (h *Host) peerConn(ctx context.Context, n *node) (*conn, error) {
	h.peersMu.Lock()
	if c := h.peers[n.id]; c != nil && !c.isClosed() {
		h.peersMu.Unlock()
		return c, nil
	}
	d := h.dialing[n.id]
	if d == nil {
		d = &dialing{done: make(chan struct{})}
		h.dialing[n.id] = d
		h.peersMu.Unlock()
		d.c, d.err = h.dial(ctx, n)
		h.peersMu.Lock()
		delete(h.dialing, n.id)
		if d.c != nil {
			h.peers[n.id] = d.c
		}
		close(d.done)
		h.peersMu.Unlock()
		return d.c, d.err
	}
	h.peersMu.Unlock()
	select {
	case <-d.done:
		return d.c, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type dialing struct {
	done chan struct{}
	c    *conn
	err  error
}

func (h *Host) dial(ctx context.Context, n *node) (*conn, error) {
	if h.closing.Load() {
		return nil, ErrStopped
	}
	if n.grain == "" {
		return nil, retry("member " + n.id + " announces no grain address")
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", n.grain)
	if err != nil {
		if refused(err) {
			h.markDown(n.id, "its grain port refuses connections")
		}
		return nil, retry("dial " + n.id + ": " + err.Error())
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	_ = nc.SetDeadline(time.Now().Add(dialTimeout))
	if h.cfg.TLS != nil {
		tc := tls.Client(nc, h.clientTLS(n.grain))
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = nc.Close()
			h.log.Warn("grain peer rejected", zapAddr(n.grain), zapErr(fmt.Errorf("TLS handshake: %w", err)))
			return nil, retry("TLS handshake with " + n.id + ": " + err.Error())
		}
		nc = tc
	}
	c := newConn(h, nc, n.id)
	br := bufio.NewReader(nc)
	if err := c.write(h.hello()); err != nil {
		_ = nc.Close()
		return nil, err
	}
	f, err := readFrame(br)
	if err != nil {
		_ = nc.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			// Closed during the handshake: stopping, or it rejected us.
			return nil, retry("member " + n.id + " closed the connection")
		}
		return nil, retry("hello from " + n.id + ": " + err.Error())
	}
	if err := h.checkHello(f); err != nil {
		_ = nc.Close()
		h.log.Warn("grain peer rejected", zapAddr(n.grain), zapErr(err))
		return nil, retry("hello from " + n.id + ": " + err.Error())
	}
	if f.Member != n.id {
		_ = nc.Close()
		h.markDown(n.id, "member "+f.Member+" now answers at its address")
		return nil, retry("member " + n.id + " was replaced")
	}
	_ = nc.SetDeadline(time.Time{})
	if !h.track(c) {
		c.close()
		return nil, ErrStopped
	}
	h.goFunc(func() { h.clientLoop(c, br) })
	return c, nil
}

// clientLoop reads answers on an outbound connection.
func (h *Host) clientLoop(c *conn, br *bufio.Reader) {
	defer h.untrack(c)
	defer c.close()
	for {
		f, err := readFrame(br)
		if err != nil {
			return
		}
		if f.Type == protos.GrainFrame_RESPONSE {
			c.deliver(f)
		}
	}
}

// clientTLS is the TLS configuration of a dial to addr: the host's, with
// the address's host as the name to verify unless one is configured.
func (h *Host) clientTLS(addr string) *tls.Config {
	if h.cfg.TLS.ServerName != "" {
		return h.cfg.TLS
	}
	c := h.cfg.TLS.Clone()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		c.ServerName = host
	}
	return c
}

// acceptLoop serves inbound connections until the listener closes.
func (h *Host) acceptLoop() {
	for {
		nc, err := h.ln.ln.Accept()
		if err != nil {
			return
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		if h.cfg.TLS != nil {
			nc = tls.Server(nc, h.cfg.TLS)
		}
		c := newConn(h, nc, "")
		if !h.track(c) {
			_ = nc.Close()
			return
		}
		h.goFunc(func() { h.serveConn(c) })
	}
}

func (h *Host) serveConn(c *conn) {
	defer h.untrack(c)
	defer c.close()
	br := bufio.NewReader(c.c)
	_ = c.c.SetDeadline(time.Now().Add(dialTimeout))
	if tc, ok := c.c.(*tls.Conn); ok {
		if err := tc.HandshakeContext(h.ctx); err != nil {
			h.log.Warn("grain connection rejected", zapAddr(c.c.RemoteAddr().String()), zapErr(fmt.Errorf("TLS handshake: %w", err)))
			return
		}
	}
	f, err := readFrame(br)
	if err != nil {
		return
	}
	if err := h.checkHello(f); err != nil {
		h.log.Warn("grain connection rejected", zapAddr(c.c.RemoteAddr().String()), zapErr(err))
		return
	}
	c.peer = f.Member
	if err := c.write(h.hello()); err != nil {
		return
	}
	_ = c.c.SetDeadline(time.Time{})
	for {
		f, err := readFrame(br)
		if err != nil {
			return
		}
		h.inbound(c, f)
	}
}
