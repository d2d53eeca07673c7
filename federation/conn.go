package federation

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// conn is one multiplexed stream: a link between gateways of two clusters
// (peer is the other cluster) or a member's stream to a gateway of its own
// cluster (intra). Requests carry ids; one goroutine reads, writes are
// serialized; both ends ping every heartbeat and close the stream when
// nothing arrived for DownAfter heartbeats.
type conn struct {
	f     *Federation
	nc    net.Conn
	peer  string // the other cluster (links) or member id (intra)
	intra bool

	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[uint64]chan *reply
	closed  bool
	done    chan struct{}

	nextID   atomic.Uint64
	lastSeen atomic.Int64 // unix nanos
	rtt      atomic.Int64 // smoothed round trip, nanos; 0 unknown
	// view is what the gateway at the other end last announced (intra
	// streams, on the member's side).
	view atomic.Pointer[announcement]
}

func newConn(f *Federation, nc net.Conn, peer string, intra bool) *conn {
	c := &conn{f: f, nc: nc, peer: peer, intra: intra, pending: map[uint64]chan *reply{}, done: make(chan struct{})}
	c.lastSeen.Store(f.now().UnixNano())
	return c
}

// write sends one frame; an error closes the stream.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	_ = c.nc.SetWriteDeadline(c.f.now().Add(c.f.downAfter()))
	_, err := c.nc.Write(b)
	c.wmu.Unlock()
	if err != nil {
		c.close()
	}
	return err
}

// close closes the stream and fails the requests waiting on it with
// ErrLinkLost. Idempotent.
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
	close(c.done)
	_ = c.nc.Close()
	for _, ch := range p {
		ch <- &reply{code: codeLinkLost, text: "stream to " + c.peer + " closed"}
	}
	c.f.dropConn(c)
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// call sends r and waits for its reply. ErrUnreachable when the stream
// was closed before anything was sent.
func (c *conn) call(ctx context.Context, r *request) (*reply, error) {
	if r.oneway {
		r.id = 0
		if c.isClosed() {
			return nil, fmt.Errorf("%w: stream to %s closed", ErrUnreachable, c.peer)
		}
		if err := c.write(r.frame()); err != nil {
			return nil, fmt.Errorf("%w: to %s: %v", ErrLinkLost, c.peer, err)
		}
		return &reply{}, nil
	}
	ch := make(chan *reply, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: stream to %s closed", ErrUnreachable, c.peer)
	}
	r.id = c.nextID.Add(1)
	c.pending[r.id] = ch
	c.mu.Unlock()
	if err := c.write(r.frame()); err != nil {
		return nil, fmt.Errorf("%w: to %s: %v", ErrLinkLost, c.peer, err)
	}
	select {
	case rep := <-ch:
		return rep, nil
	case <-ctx.Done():
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, r.id)
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// run reads frames until the stream closes; the heartbeat runs beside it.
// It returns when both ended.
func (c *conn) run() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.heartbeat()
	}()
	defer wg.Wait()
	defer c.close()
	for {
		kind, body, err := readFrame(c.nc, nil)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !c.isClosed() {
				c.f.log.Debug("federation: stream ended: " + err.Error())
			}
			return
		}
		c.lastSeen.Store(c.f.now().UnixNano())
		switch kind {
		case frameRequest:
			r, err := decodeRequest(body)
			if err != nil {
				return
			}
			c.f.serve(c, r)
		case frameReply:
			r, err := decodeReply(body)
			if err != nil {
				return
			}
			c.mu.Lock()
			ch := c.pending[r.id]
			delete(c.pending, r.id)
			c.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		case framePing:
			d := &dec{b: body}
			ts := d.u()
			if d.err != nil || c.write(tsFrame(framePong, ts)) != nil {
				return
			}
		case framePong:
			d := &dec{b: body}
			ts := d.u()
			if d.err != nil {
				return
			}
			sample := c.f.now().UnixNano() - int64(ts)
			if old := c.rtt.Load(); old != 0 {
				sample = (old*7 + sample) / 8
			}
			c.rtt.Store(sample)
		case frameAnnounce:
			d := &dec{b: body}
			b := d.by()
			if d.err != nil {
				return
			}
			c.f.onAnnounce(c, b)
		default:
			return
		}
	}
}

// heartbeat pings every interval and closes the stream when nothing came
// for DownAfter intervals.
func (c *conn) heartbeat() {
	t := time.NewTicker(c.f.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			now := c.f.now()
			if silent := time.Duration(now.UnixNano() - c.lastSeen.Load()); silent > c.f.downAfter() {
				c.f.log.Warn("federation: stream silent, closing it", zap.String("peer", c.peer), zap.Bool("intra", c.intra),
					zap.Duration("silent", silent))
				c.close()
				return
			}
			if c.write(tsFrame(framePing, uint64(now.UnixNano()))) != nil {
				return
			}
		}
	}
}

// --- the link handshake ---
//
// Over mutual TLS, the dialling gateway sends hello (its cluster, the
// cluster it means to reach, a fresh nonce); the accepting gateway answers
// with its own fresh nonce and a MAC over both nonces under the per-link
// secret; the dialler checks it and answers with its own MAC; the
// accepting side checks that and sends one status byte. A recorded hello
// or proof is useless on another stream: the other side's nonce differs.

const handshakeTimeout = 2 * time.Second

func linkKey(secret string) []byte {
	h := sha256.Sum256([]byte("foundation-federation-link-v1\x00" + secret))
	return h[:]
}

func linkMAC(secret, role, from, to string, nc, ns []byte) []byte {
	m := hmac.New(sha256.New, linkKey(secret))
	var b []byte
	for _, s := range []string{role, from, to, string(nc), string(ns)} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	m.Write(b)
	return m.Sum(nil)
}

func newNonce() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

func writeFields(w io.Writer, fields ...[]byte) error {
	var b []byte
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
	_, err := w.Write(append(out, b...))
	return err
}

func readFields(r io.Reader, n int) ([][]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	d := &dec{b: b}
	out := make([][]byte, n)
	for i := range out {
		out[i] = d.by()
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errMalformed
	}
	return out, nil
}

// clientHandshake proves this cluster to the gateway of cluster to.
func clientHandshake(nc net.Conn, secret, from, to string) error {
	nonceC := newNonce()
	if err := writeFields(nc, []byte(from), []byte(to), nonceC); err != nil {
		return fmt.Errorf("%w: hello to %s: %v", ErrAuth, to, err)
	}
	ch, err := readFields(nc, 2)
	if err != nil {
		return fmt.Errorf("%w: %s refused the link (wrong certificate, secret or cluster?): %v", ErrAuth, to, err)
	}
	nonceS, mac := ch[0], ch[1]
	if len(nonceS) < 16 || !hmac.Equal(mac, linkMAC(secret, "server", from, to, nonceC, nonceS)) {
		return fmt.Errorf("%w: the gateway at %s does not know the link secret of %s-%s", ErrAuth, nc.RemoteAddr(), from, to)
	}
	if err := writeFields(nc, linkMAC(secret, "client", from, to, nonceC, nonceS)); err != nil {
		return fmt.Errorf("%w: proof to %s: %v", ErrAuth, to, err)
	}
	var st [1]byte
	if _, err := io.ReadFull(nc, st[:]); err != nil || st[0] != 1 {
		return fmt.Errorf("%w: %s refused the link's proof (wrong secret?)", ErrAuth, to)
	}
	return nil
}

// serverHandshake authenticates a dialling gateway; secret gives the
// per-link secret shared with a cluster (false: a stranger). It returns
// the other cluster's name.
func serverHandshake(nc net.Conn, self string, secret func(cluster string) (string, bool)) (string, error) {
	h, err := readFields(nc, 3)
	if err != nil {
		return "", fmt.Errorf("malformed hello: %v", err)
	}
	from, to, nonceC := string(h[0]), string(h[1]), h[2]
	if to != self {
		return from, fmt.Errorf("hello for cluster %q, this is %q", to, self)
	}
	sec, ok := secret(from)
	if !ok {
		return from, fmt.Errorf("cluster %q is not a linked cluster of %q", from, self)
	}
	if len(nonceC) < 16 {
		return from, errors.New("hello without a nonce")
	}
	nonceS := newNonce()
	if err := writeFields(nc, nonceS, linkMAC(sec, "server", from, to, nonceC, nonceS)); err != nil {
		return from, err
	}
	p, err := readFields(nc, 1)
	if err != nil {
		return from, fmt.Errorf("no proof (the dialler does not share the link secret): %v", err)
	}
	if !hmac.Equal(p[0], linkMAC(sec, "client", from, to, nonceC, nonceS)) {
		_, _ = nc.Write([]byte{0})
		return from, errors.New("wrong link secret")
	}
	_, err = nc.Write([]byte{1})
	return from, err
}
