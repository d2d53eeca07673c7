package grain

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/protos"
)

// Grain traffic between members goes over ProtocolGrain streams of the
// members' cluster ports (cluster.Membership.Dial and Handle), which the
// membership authenticates (and runs over mutual TLS when configured): one
// stream of length-prefixed GrainFrames per direction and pair of members.
// A stream the peer's kernel refuses (nothing listens: the process is
// dead) makes the membership remove that member at once, well before SWIM
// would.

// maxFrame bounds one frame (64 MiB). Frames are read only after the
// stream's handshake proved the cluster secret.
const maxFrame = 64 << 20

func encodeFrame(f *protos.GrainFrame) ([]byte, error) {
	b := make([]byte, 4, 4+proto.Size(f))
	b, err := proto.MarshalOptions{}.MarshalAppend(b, f)
	if err != nil {
		return nil, err
	}
	if len(b)-4 > maxFrame {
		return nil, fmt.Errorf("%w: a frame of %d bytes exceeds %d", ErrNotSerializable, len(b)-4, maxFrame)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}

// readFrame reads one frame. It never allocates more than maxFrame, and
// allocates a large frame's buffer only as its bytes arrive.
func readFrame(r *bufio.Reader) (*protos.GrainFrame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("grain: frame of %d bytes exceeds %d", n, maxFrame)
	}
	var buf []byte
	if n <= 64<<10 {
		buf = make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
	} else {
		var err error
		if buf, err = io.ReadAll(io.LimitReader(r, int64(n))); err != nil {
			return nil, err
		}
		if len(buf) != int(n) {
			return nil, io.ErrUnexpectedEOF
		}
	}
	f := &protos.GrainFrame{}
	if err := proto.Unmarshal(buf, f); err != nil {
		return nil, fmt.Errorf("grain: bad frame: %w", err)
	}
	return f, nil
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

// write sends f, giving up at deadline (the zero time: writeTimeout from
// now). A write that fails or times out closes the connection: a frame
// half written cannot be taken back.
func (c *conn) write(f *protos.GrainFrame, deadline time.Time) error {
	b, err := encodeFrame(f)
	if err != nil {
		return err
	}
	if deadline.IsZero() {
		deadline = time.Now().Add(writeTimeout)
	}
	c.wmu.Lock()
	_ = c.c.SetWriteDeadline(deadline)
	_, err = c.c.Write(b)
	c.wmu.Unlock()
	if err != nil {
		c.close()
		return retry("connection to " + c.peer + " lost: " + err.Error())
	}
	return nil
}

// writeTimeout bounds a write that has no deadline of its own (answers,
// tells).
const writeTimeout = 5 * time.Second

var chanPool = sync.Pool{New: func() any { return make(chan *protos.GrainFrame, 1) }}

// request sends f and waits for its answer, ctx, or the connection's loss.
// An error before f was written is a retry (not delivered); once it was
// written, a lost connection or the end of ctx leaves the outcome unknown
// (errUnknownOutcome, or ctx's error) and is not retried.
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
	dl, _ := ctx.Deadline()
	if err := c.write(f, dl); err != nil {
		if !c.forget(id) {
			<-ch
		}
		chanPool.Put(ch)
		return nil, err
	}
	select {
	case r := <-ch:
		chanPool.Put(ch)
		if r == nil {
			return nil, errUnknownOutcome("the connection to " + c.peer + " was lost after the request was sent")
		}
		return r, nil
	case <-ctx.Done():
		if !c.forget(id) {
			<-ch // the answer (or the loss) is being delivered: take it
		}
		chanPool.Put(ch)
		return nil, fmt.Errorf("%w: no answer from %s: %w", ErrOutcomeUnknown, c.peer, ctx.Err())
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

// peerConn returns the outbound connection to member n, opening one when
// needed. Failing to open one is a retry: nothing was sent.
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

// dialTimeout bounds opening one connection.
const dialTimeout = time.Second

func (h *Host) dial(ctx context.Context, n *node) (*conn, error) {
	if h.closing.Load() {
		return nil, ErrStopped
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	nc, err := h.ms.Dial(dctx, n.id, cluster.ProtocolGrain)
	if err != nil {
		if errors.Is(err, cluster.ErrMemberGone) {
			h.noteGone(n.id)
		}
		if errors.Is(err, cluster.ErrHandshake) {
			h.log.Warn("grain connection refused by its peer", zap.String("peer", n.id), zapErr(err))
		}
		return nil, retryErr("connecting to "+n.id, err)
	}
	c := newConn(h, nc, n.id)
	br := bufio.NewReader(nc)
	// Tracking the connection and starting its reader are one step under
	// connMu: Stop's wait for the host's goroutines must not begin between
	// them (a WaitGroup Add racing its Wait).
	if !h.trackGo(c, func() { h.clientLoop(c, br) }) {
		c.close()
		return nil, ErrStopped
	}
	return c, nil
}

// noteGone records a member whose cluster port refused a connection (the
// membership removed it), for peers to check (GrainFrame.down).
func (h *Host) noteGone(id string) {
	h.topoMu.Lock()
	h.gone[id] = time.Now()
	h.topoMu.Unlock()
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

// serveStream serves an inbound grain stream (cluster.StreamHandler).
func (h *Host) serveStream(ctx context.Context, nc net.Conn, peer string) {
	c := newConn(h, nc, peer)
	if !h.track(c) {
		_ = nc.Close()
		return
	}
	defer h.untrack(c)
	defer c.close()
	br := bufio.NewReader(nc)
	for {
		f, err := readFrame(br)
		if err != nil {
			return
		}
		h.inbound(c, f)
	}
}
