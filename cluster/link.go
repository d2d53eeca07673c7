package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
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

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
)

// Protocol identifies a member-to-member stream protocol on the cluster
// port. Every stream opens with an authenticated handshake that names its
// protocol; Membership.Handle registers a protocol's server side.
type Protocol uint8

// The protocols of Foundation's layers. Values from 64 up are free for
// applications.
const (
	// ProtocolGossip carries SWIM's state exchanges (joins, push-pull).
	ProtocolGossip Protocol = 1
	// ProtocolGrain carries grain calls (package grain).
	ProtocolGrain Protocol = 2
	// ProtocolCRDT carries CRDT replication.
	ProtocolCRDT Protocol = 3
	// ProtocolPubSub carries cluster publish/subscribe.
	ProtocolPubSub Protocol = 4
	// ProtocolService carries service calls.
	ProtocolService Protocol = 5
	// ProtocolCache carries distributed cache traffic.
	ProtocolCache Protocol = 6
	// ProtocolControl carries management queries (telemetry, operations).
	ProtocolControl Protocol = 7
	// ProtocolFederation carries a member's cross-cluster traffic to
	// its cluster's gateways (package federation).
	ProtocolFederation Protocol = 8
	// ProtocolWork carries distributed task runs (package work).
	ProtocolWork Protocol = 9
)

// StreamHandler serves one inbound stream of a protocol. It runs on a
// goroutine of the Membership with the authenticated member id of the other
// side, and owns conn: it must close it when done. The Membership closes
// streams still open when it stops (and cancels ctx then), so a handler
// blocked on conn returns.
type StreamHandler func(ctx context.Context, conn net.Conn, peer string)

// maxHandshake bounds every handshake message: a stranger can make a member
// allocate no more than this before it proved the cluster secret.
const maxHandshake = 4 << 10

// handshakeTimeout bounds a stream's handshake when the caller gives no
// earlier deadline.
const handshakeTimeout = 2 * time.Second

// link is the member's stream layer on its cluster port: an accept loop
// that authenticates every inbound stream and hands it to its protocol's
// handler, and authenticated dials.
type link struct {
	cluster string
	self    string
	key     []byte // handshake MAC key, derived from the cluster and secret
	tls     *tls.Config
	ln      net.Listener
	dialer  func(ctx context.Context, address string) (net.Conn, error)
	log     *zap.Logger
	now     func() time.Time
	// refused is told the id of a member whose cluster port refused a
	// connection.
	refused func(id string)

	ctx     context.Context
	cancel  context.CancelFunc
	leaving atomic.Bool
	wg      sync.WaitGroup

	mu       sync.Mutex
	handlers map[Protocol]StreamHandler
	conns    map[*trackedConn]struct{}
	rejected map[string]time.Time
	closed   bool
}

func newLink(cluster, self string, secret []byte, tc *tls.Config, ln net.Listener,
	dialer func(ctx context.Context, address string) (net.Conn, error), log *zap.Logger, now func() time.Time) *link {
	l := &link{
		cluster: cluster, self: self, key: deriveKey("foundation-stream-v1", cluster, secret),
		tls: tc, ln: ln, dialer: dialer, log: log, now: now,
		handlers: make(map[Protocol]StreamHandler),
		conns:    make(map[*trackedConn]struct{}),
		rejected: make(map[string]time.Time),
		refused:  func(string) {},
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// deriveKey derives a 32-byte key for purpose from the cluster name and the
// secret (which may be empty: the key then only proves the cluster name).
func deriveKey(purpose, cluster string, secret []byte) []byte {
	h := sha256.New()
	for _, b := range [][]byte{[]byte(purpose), []byte(cluster), secret} {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	return h.Sum(nil)
}

func (l *link) start() {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.acceptLoop()
	}()
}

func (l *link) handle(p Protocol, h StreamHandler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h == nil {
		delete(l.handlers, p)
		return
	}
	l.handlers[p] = h
}

// close stops accepting, cancels the handlers' ctx, closes every stream
// still open and waits for the handlers.
func (l *link) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	cs := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		cs = append(cs, c)
	}
	l.mu.Unlock()
	l.cancel()
	_ = l.ln.Close()
	for _, c := range cs {
		_ = c.Close()
	}
	l.wg.Wait()
}

func (l *link) acceptLoop() {
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.log.Warn("cluster port: accept failed", zap.Error(err))
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		c := l.track(nc)
		if c == nil {
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.serve(c)
		}()
	}
}

// track registers a connection so that close can close it; nil when the
// link is closed (and nc then is).
func (l *link) track(nc net.Conn) *trackedConn {
	c := &trackedConn{Conn: nc, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = nc.Close()
		return nil
	}
	l.conns[c] = struct{}{}
	return c
}

type trackedConn struct {
	net.Conn
	l    *link
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return err
}

// serve runs the server side of a handshake, then the protocol's handler.
func (l *link) serve(c *trackedConn) {
	var conn net.Conn = c
	_ = c.SetDeadline(l.now().Add(handshakeTimeout))
	remote := c.RemoteAddr().String()
	if l.tls != nil {
		tc := tls.Server(c, l.tls)
		if err := tc.HandshakeContext(l.ctx); err != nil {
			l.reject(remote, "TLS handshake: "+err.Error())
			_ = c.Close()
			return
		}
		conn = tc
	}
	var hello protos.StreamHello
	if err := readHandshake(conn, &hello); err != nil {
		if !errors.Is(err, io.EOF) {
			l.reject(remote, err.Error())
		}
		_ = conn.Close()
		return
	}
	if hello.Cluster != l.cluster {
		l.reject(remote, fmt.Sprintf("a member of cluster %q", hello.Cluster))
		_ = conn.Close()
		return
	}
	if len(hello.Nonce) < 16 || hello.From == "" || hello.Protocol > 255 {
		l.reject(remote, "malformed hello")
		_ = conn.Close()
		return
	}
	p := Protocol(hello.Protocol)
	l.mu.Lock()
	h := l.handlers[p]
	l.mu.Unlock()
	ch := &protos.StreamChallenge{Member: l.self, Nonce: nonce()}
	switch {
	case l.leaving.Load():
		ch.Status = protos.StreamChallenge_STATUS_LEAVING
	case h == nil:
		ch.Status = protos.StreamChallenge_STATUS_NO_HANDLER
	}
	ch.Mac = l.mac("server", &hello, ch)
	if err := writeHandshake(conn, ch); err != nil || ch.Status != protos.StreamChallenge_STATUS_OK {
		_ = conn.Close()
		return
	}
	var proof protos.StreamProof
	if err := readHandshake(conn, &proof); err != nil {
		l.reject(remote, "no proof: "+err.Error())
		_ = conn.Close()
		return
	}
	if !hmac.Equal(proof.Mac, l.mac("client", &hello, ch)) {
		l.reject(remote, "authentication failed: wrong cluster secret")
		_ = conn.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	h(l.ctx, conn, hello.From)
}

// dial opens an authenticated stream of protocol p to the member at
// address, expected to be member to (empty: whoever answers; the answering
// id is returned).
func (l *link) dial(ctx context.Context, address, to string, p Protocol) (net.Conn, string, error) {
	if l.ctx.Err() != nil {
		return nil, "", ErrMembershipStopped
	}
	dctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	nc, err := l.dialer(dctx, address)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) && to != "" {
			l.refused(to)
			return nil, "", fmt.Errorf("%w: %s at %s refuses connections", ErrMemberGone, to, address)
		}
		return nil, "", fmt.Errorf("cluster: dial %s at %s: %w", to, address, err)
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
	dl, _ := dctx.Deadline()
	_ = nc.SetDeadline(dl)
	conn := nc
	if l.tls != nil {
		cfg := l.tls
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(address)
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = nc.Close()
			return nil, "", fmt.Errorf("%w: TLS with %s: %v", ErrHandshake, address, err)
		}
		conn = tc
	}
	hello := &protos.StreamHello{Cluster: l.cluster, From: l.self, To: to, Protocol: uint32(p), Nonce: nonce()}
	fail := func(err error) (net.Conn, string, error) {
		_ = conn.Close()
		return nil, "", err
	}
	if err := writeHandshake(conn, hello); err != nil {
		return fail(fmt.Errorf("%w: hello to %s: %v", ErrHandshake, address, err))
	}
	var ch protos.StreamChallenge
	if err := readHandshake(conn, &ch); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return fail(fmt.Errorf("%w: %s closed the stream during the handshake (another cluster or secret?)", ErrHandshake, address))
		}
		return fail(fmt.Errorf("%w: challenge from %s: %v", ErrHandshake, address, err))
	}
	if !hmac.Equal(ch.Mac, l.mac("server", hello, &ch)) {
		return fail(fmt.Errorf("%w: %s does not know the cluster secret", ErrHandshake, address))
	}
	if to != "" && ch.Member != to {
		return fail(fmt.Errorf("%w: member %s answers at %s, not %s", ErrMemberGone, ch.Member, address, to))
	}
	switch ch.Status {
	case protos.StreamChallenge_STATUS_OK:
	case protos.StreamChallenge_STATUS_LEAVING:
		return fail(fmt.Errorf("%w: %s", ErrMemberLeaving, ch.Member))
	case protos.StreamChallenge_STATUS_NO_HANDLER:
		return fail(fmt.Errorf("%w: %s does not serve protocol %d", ErrNoHandler, ch.Member, p))
	default:
		return fail(fmt.Errorf("%w: unknown status %v from %s", ErrHandshake, ch.Status, address))
	}
	if err := writeHandshake(conn, &protos.StreamProof{Mac: l.mac("client", hello, &ch)}); err != nil {
		return fail(fmt.Errorf("%w: proof to %s: %v", ErrHandshake, address, err))
	}
	_ = nc.SetDeadline(time.Time{})
	return conn, ch.Member, nil
}

// mac is the handshake MAC of role ("server" or "client") over the hello
// and the challenge's member, nonce and status.
func (l *link) mac(role string, h *protos.StreamHello, ch *protos.StreamChallenge) []byte {
	m := hmac.New(sha256.New, l.key)
	var b []byte
	for _, s := range []string{role, h.Cluster, h.From, h.To, string(h.Nonce), ch.Member, string(ch.Nonce)} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(h.Protocol))
	b = binary.AppendUvarint(b, uint64(ch.Status))
	m.Write(b)
	return m.Sum(nil)
}

func nonce() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

// writeHandshake writes m with a 2-byte length prefix.
func writeHandshake(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if len(b) > maxHandshake {
		return fmt.Errorf("handshake message of %d bytes exceeds %d", len(b), maxHandshake)
	}
	out := make([]byte, 2, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	_, err = w.Write(append(out, b...))
	return err
}

// readHandshake reads one length-prefixed handshake message of at most
// maxHandshake bytes into m. It reads exactly that message, nothing more.
func readHandshake(r io.Reader, m proto.Message) error {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n > maxHandshake {
		return fmt.Errorf("%w: handshake message of %d bytes exceeds %d", ErrHandshake, n, maxHandshake)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: malformed handshake message: %v", ErrHandshake, err)
	}
	return nil
}

// reject logs a refused stream, at most once a minute per source host and
// reason.
func (l *link) reject(remote, why string) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	key := host + "|" + why
	now := l.now()
	l.mu.Lock()
	last, seen := l.rejected[key]
	if seen && now.Sub(last) < time.Minute {
		l.mu.Unlock()
		return
	}
	if len(l.rejected) > 1024 {
		clear(l.rejected)
	}
	l.rejected[key] = now
	l.mu.Unlock()
	l.log.Warn("cluster port: rejected a connection", zap.String("from", remote), zap.String("reason", why))
}
