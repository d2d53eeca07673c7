package crdt

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/protos"
)

// Replication traffic goes over ProtocolCRDT streams of the members'
// cluster ports (cluster.Membership.Dial and Handle), authenticated by the
// membership (and over mutual TLS when configured): each member dials one
// stream to each peer and writes 4-byte length-prefixed CRDTFrames on it,
// one way. Answers travel on the answering member's own stream. Frames
// are fire-and-forget: a frame that cannot be queued or written is
// dropped (and counted); deltas and anti-entropy repair what is lost, and
// a request whose answer is lost runs into its context.

// maxFrame bounds one frame (64 MiB); frames are read only after the
// stream's handshake proved the cluster secret.
const maxFrame = 64 << 20

// frameChunk is the size past which the entries of one push are split
// into several frames.
const frameChunk = 4 << 20

// writeTimeout bounds writing one frame.
const writeTimeout = 5 * time.Second

// dialTimeout bounds opening a stream; redialBackoff spaces failed dials.
const (
	dialTimeout   = time.Second
	redialBackoff = 100 * time.Millisecond
)

// sendQueue is the number of frames queued per peer before frames are
// dropped.
const sendQueue = 1024

func encodeFrame(f *protos.CRDTFrame) ([]byte, error) {
	b := make([]byte, 4, 4+proto.Size(f))
	b, err := proto.MarshalOptions{}.MarshalAppend(b, f)
	if err != nil {
		return nil, err
	}
	if len(b)-4 > maxFrame {
		return nil, fmt.Errorf("crdt: a frame of %d bytes exceeds %d", len(b)-4, maxFrame)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}

// readFrame reads one frame. It allocates a large frame's buffer only as
// its bytes arrive, and never more than maxFrame.
func readFrame(r *bufio.Reader) (*protos.CRDTFrame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("crdt: frame of %d bytes exceeds %d", n, maxFrame)
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
	f := &protos.CRDTFrame{}
	if err := proto.Unmarshal(buf, f); err != nil {
		return nil, fmt.Errorf("crdt: bad frame: %w", err)
	}
	return f, nil
}

// peer is the outbound stream to one member, with its sender goroutine.
type peer struct {
	id   string
	q    chan []byte
	stop chan struct{}
}

// send queues an encoded frame for p; false if the queue is full (the
// frame is dropped).
func (p *peer) send(b []byte) bool {
	select {
	case p.q <- b:
		return true
	default:
		return false
	}
}

// senderLoop writes p's frames, dialling the stream when needed. A frame
// that cannot be written is dropped.
func (r *Replicator) senderLoop(p *peer) {
	var conn net.Conn
	var lastFail time.Time
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	write := func(b []byte) {
		if conn == nil {
			if time.Since(lastFail) < redialBackoff {
				r.stats.dropped.Add(1)
				return
			}
			ctx, cancel := context.WithTimeout(r.ctx, dialTimeout)
			c, err := r.ms.Dial(ctx, p.id, cluster.ProtocolCRDT)
			cancel()
			if err != nil {
				lastFail = time.Now()
				r.stats.dropped.Add(1)
				if errors.Is(err, cluster.ErrHandshake) {
					r.log.Warn("crdt stream refused by its peer", zap.String("peer", p.id), zap.Error(err))
				}
				return
			}
			conn = c
		}
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := conn.Write(b); err != nil {
			_ = conn.Close()
			conn = nil
			lastFail = time.Now()
			r.stats.dropped.Add(1)
			return
		}
		r.stats.bytesSent.Add(uint64(len(b)))
		r.stats.framesSent.Add(1)
	}
	for {
		select {
		case <-p.stop:
			return
		case b := <-p.q:
			if h := r.sendHook; h != nil {
				for _, x := range h(p.id, b) {
					write(x)
				}
				continue
			}
			write(b)
		}
	}
}

// serve reads an inbound stream of a peer (cluster.StreamHandler).
func (r *Replicator) serve(ctx context.Context, nc net.Conn, from string) {
	if !r.trackConn(nc) {
		_ = nc.Close()
		return
	}
	defer r.untrackConn(nc)
	defer nc.Close()
	br := bufio.NewReader(nc)
	for {
		f, err := readFrame(br)
		if err != nil {
			return
		}
		r.stats.bytesReceived.Add(uint64(proto.Size(f) + 4))
		r.receive(from, f)
	}
}

func (r *Replicator) trackConn(c net.Conn) bool {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if r.connsClosed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Replicator) untrackConn(c net.Conn) {
	r.connMu.Lock()
	delete(r.conns, c)
	r.connMu.Unlock()
}

// closeConns closes every inbound stream and refuses new ones.
func (r *Replicator) closeConns() {
	r.connMu.Lock()
	r.connsClosed = true
	cs := make([]net.Conn, 0, len(r.conns))
	for c := range r.conns {
		cs = append(cs, c)
	}
	r.connMu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
}
