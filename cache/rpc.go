package cache

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/frame"
	"github.com/foundation-go/foundation/internal/protos"
)

// Cache traffic goes over ProtocolCache streams of the members' cluster
// ports (authenticated by the membership; mutual TLS when configured).
// Each member dials one stream to each peer it calls and writes
// length-prefixed CacheRequests on it; the peer answers each with a
// CacheResponse of the same id on the same stream, in any order
// (a GetOrCompute waiter is answered when the computation ends).

// maxFrame bounds one frame: a batch of values up to the largest
// MaxValueSize plus overhead.
const maxFrame = 64 << 20

// dialTimeout bounds opening a stream; writeTimeout writing one frame.
const (
	dialTimeout  = time.Second
	writeTimeout = 5 * time.Second
)

// errBroken: the stream to a member broke or could not be opened (a
// transport failure: the caller retries elsewhere or reads a miss).
var errBroken = errors.New("cache: stream to member broken")

// client is this member's outbound stream to one peer.
type client struct {
	h    *Host
	peer string

	mu  sync.Mutex
	cur *cconn
}

// cconn is one open outbound stream and the calls waiting on it.
type cconn struct {
	conn    net.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[uint64]chan *protos.CacheResponse
	next    uint64
	dead    bool
}

func (c *client) connect(ctx context.Context) (*cconn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		return c.cur, nil
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, err := c.h.ms.Dial(dctx, c.peer, cluster.ProtocolCache)
	cancel()
	if err != nil {
		return nil, errors.Join(errBroken, err)
	}
	cc := &cconn{conn: conn, pending: map[uint64]chan *protos.CacheResponse{}}
	if !c.h.goFunc(func() { c.read(cc) }) {
		_ = conn.Close()
		return nil, ErrClosed
	}
	c.cur = cc
	return cc, nil
}

func (c *client) read(cc *cconn) {
	r := bufio.NewReader(cc.conn)
	for {
		resp := &protos.CacheResponse{}
		if err := frame.Read(r, resp, maxFrame); err != nil {
			break
		}
		cc.mu.Lock()
		ch := cc.pending[resp.Id]
		delete(cc.pending, resp.Id)
		cc.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
	c.drop(cc)
}

// drop closes cc and fails its waiting calls.
func (c *client) drop(cc *cconn) {
	_ = cc.conn.Close()
	c.mu.Lock()
	if c.cur == cc {
		c.cur = nil
	}
	c.mu.Unlock()
	cc.mu.Lock()
	cc.dead = true
	for id, ch := range cc.pending {
		close(ch)
		delete(cc.pending, id)
	}
	cc.mu.Unlock()
}

func (c *client) call(ctx context.Context, req *protos.CacheRequest) (*protos.CacheResponse, error) {
	cc, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan *protos.CacheResponse, 1)
	cc.mu.Lock()
	if cc.dead {
		cc.mu.Unlock()
		return nil, errBroken
	}
	cc.next++
	id := cc.next
	cc.pending[id] = ch
	cc.mu.Unlock()
	req.Id = id
	if dl, ok := ctx.Deadline(); ok {
		req.TimeoutNanos = int64(time.Until(dl))
	}
	if err := c.write(cc, req); err != nil {
		return nil, err
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, errBroken
		}
		return resp, nil
	case <-ctx.Done():
		cc.mu.Lock()
		delete(cc.pending, id)
		cc.mu.Unlock()
		_ = c.write(cc, &protos.CacheRequest{Id: id, Op: protos.CacheOp_CACHE_OP_CANCEL, Cache: req.Cache})
		return nil, ctx.Err()
	}
}

func (c *client) write(cc *cconn, req *protos.CacheRequest) error {
	b, err := frame.Append(nil, req, maxFrame)
	if err != nil {
		return err
	}
	cc.wmu.Lock()
	_ = cc.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = cc.conn.Write(b)
	cc.wmu.Unlock()
	if err != nil {
		c.drop(cc)
		return errors.Join(errBroken, err)
	}
	return nil
}

func (c *client) close() {
	c.mu.Lock()
	cc := c.cur
	c.mu.Unlock()
	if cc != nil {
		c.drop(cc)
	}
}

// sconn is one inbound stream: its write lock, and the cancel functions
// of its requests in progress.
type sconn struct {
	conn    net.Conn
	peer    string
	wmu     sync.Mutex
	mu      sync.Mutex
	cancels map[uint64]context.CancelFunc
}

// serve reads a peer's requests and answers each on its own goroutine.
func (h *Host) serve(ctx context.Context, conn net.Conn, peer string) {
	sc := &sconn{conn: conn, peer: peer, cancels: map[uint64]context.CancelFunc{}}
	if !h.track(sc) {
		_ = conn.Close()
		return
	}
	defer func() {
		_ = conn.Close()
		h.untrack(sc)
		sc.mu.Lock()
		for _, cancel := range sc.cancels {
			cancel()
		}
		sc.mu.Unlock()
		h.releaseConn(sc)
	}()
	r := bufio.NewReader(conn)
	for {
		req := &protos.CacheRequest{}
		if err := frame.Read(r, req, maxFrame); err != nil {
			return
		}
		if req.Op == protos.CacheOp_CACHE_OP_CANCEL {
			sc.mu.Lock()
			if cancel := sc.cancels[req.Id]; cancel != nil {
				cancel()
			}
			sc.mu.Unlock()
			continue
		}
		rctx, cancel := context.WithCancel(h.ctx)
		if req.TimeoutNanos > 0 {
			rctx, cancel = context.WithTimeout(h.ctx, time.Duration(req.TimeoutNanos))
		}
		sc.mu.Lock()
		sc.cancels[req.Id] = cancel
		sc.mu.Unlock()
		started := h.goFunc(func() {
			resp := h.exec(rctx, peer, sc, req)
			sc.mu.Lock()
			delete(sc.cancels, req.Id)
			sc.mu.Unlock()
			cancel()
			out := &protosResponse{Id: req.Id, Status: resp.Status, Entries: resp.Entries, Error: resp.Error,
				Code: resp.Code, Lease: resp.Lease, Number: resp.Number, Changed: resp.Changed} // resp may be shared by waiters
			b, err := frame.Append(nil, out, maxFrame)
			if err != nil {
				h.log.Warn("cache: an answer too large to send", zap.String("member", peer), zap.Error(err))
				b, _ = frame.Append(nil, &protos.CacheResponse{Id: req.Id, Status: protos.CacheStatus_CACHE_STATUS_ERROR, Code: codeTooLarge, Error: err.Error()}, maxFrame)
			}
			sc.wmu.Lock()
			_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			_, _ = conn.Write(b)
			sc.wmu.Unlock()
		})
		if !started {
			cancel()
			return
		}
	}
}
