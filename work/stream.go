package work

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/frame"
	"github.com/foundation-go/foundation/internal/protos"
)

// Work traffic goes over ProtocolWork streams of the members' cluster
// ports (authenticated by the membership; mutual TLS when configured).
// A coordinating member dials one stream to each member it uses, shared
// by its runs, and writes length-prefixed WorkRequests on it: OPEN a run
// of a kind (answered with the member's worker count for it), CHUNKs of
// tasks (each task answered with a WorkReply when it finished, in any
// order), CLOSE when the run ends or is cancelled. A broken stream ends
// every run's hold on that member: the coordinator re-runs its tasks
// elsewhere, and the member cancels the runs of a stream that closed.

const (
	// maxFrame bounds one frame: a chunk of inputs up to maxChunkBytes
	// plus one task of up to MaxTaskSize, with room for overhead.
	maxFrame = 64 << 20
	// maxChunkBytes: a chunk's inputs beyond this go in another frame.
	maxChunkBytes = 32 << 20
	// dialTimeout bounds opening a stream; writeTimeout writing a frame.
	dialTimeout  = 2 * time.Second
	writeTimeout = 5 * time.Second
)

// client is this member's outbound stream to one peer.
type client struct {
	h    *Host
	peer string

	mu  sync.Mutex
	cur *cconn
}

// cconn is one open outbound stream and the runs using it.
type cconn struct {
	c    *client
	conn net.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	runs map[uint64]*runState
	dead bool
	why  string
}

func (c *client) connect(ctx context.Context) (*cconn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		return c.cur, nil
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, err := c.h.ms.Dial(dctx, c.peer, cluster.ProtocolWork)
	cancel()
	if err != nil {
		return nil, err
	}
	cc := &cconn{c: c, conn: conn, runs: map[uint64]*runState{}}
	h := c.h
	h.mu.Lock()
	if h.closed || h.clients[c.peer] != c {
		// Stopped, or the member was dropped while this dial ran: this
		// client is no longer the one Stop and the sweeps close.
		h.mu.Unlock()
		_ = conn.Close()
		return nil, fmt.Errorf("work: member %s was dropped while connecting", c.peer)
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		c.read(cc)
	}()
	h.mu.Unlock()
	c.cur = cc
	return cc, nil
}

// read delivers the peer's replies to their runs, in the order they
// arrive; when the stream breaks, every run using it loses the peer.
func (c *client) read(cc *cconn) {
	r := bufio.NewReader(cc.conn)
	why := "stream closed"
	for {
		rep := &protos.WorkReply{}
		if err := frame.Read(r, rep, maxFrame); err != nil {
			why = "stream closed: " + err.Error()
			break
		}
		cc.mu.Lock()
		rs := cc.runs[rep.Run]
		cc.mu.Unlock()
		if rs == nil {
			continue
		}
		switch rep.Op {
		case protos.WorkOp_WORK_OP_OPEN:
			if rep.Error != "" {
				rs.inbox.post(event{kind: evRefused, member: c.peer, err: errors.New(rep.Error)})
			} else {
				rs.inbox.post(event{kind: evOpened, member: c.peer, workers: int(rep.Workers)})
			}
		case protos.WorkOp_WORK_OP_CHUNK:
			if res := rep.Result; res != nil {
				rs.inbox.post(event{kind: evResult, member: c.peer, index: int(res.Index),
					output: res.Output, failed: res.Failed, codec: res.Codec, text: res.Error})
			}
		}
	}
	c.drop(cc, why)
}

// drop closes cc and tells its runs that the peer is lost to them.
func (c *client) drop(cc *cconn, why string) {
	_ = cc.conn.Close()
	c.mu.Lock()
	if c.cur == cc {
		c.cur = nil
	}
	c.mu.Unlock()
	cc.mu.Lock()
	if cc.dead {
		cc.mu.Unlock()
		return
	}
	cc.dead, cc.why = true, why
	runs := cc.runs
	cc.runs = nil
	cc.mu.Unlock()
	for _, rs := range runs {
		rs.inbox.post(event{kind: evLost, member: c.peer, err: errors.New(why)})
	}
}

func (c *client) close(why string) {
	c.mu.Lock()
	cc := c.cur
	c.mu.Unlock()
	if cc != nil {
		c.drop(cc, why)
	}
}

// attach makes rs hear of cc's replies and of its end; false when cc has
// already broken.
func (cc *cconn) attach(rs *runState) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.dead {
		return false
	}
	cc.runs[rs.id] = rs
	return true
}

func (cc *cconn) detach(rs *runState) {
	cc.mu.Lock()
	delete(cc.runs, rs.id)
	cc.mu.Unlock()
}

// write sends req; a failed write breaks the stream.
func (cc *cconn) write(req *protos.WorkRequest) error {
	b, err := frame.Append(nil, req, maxFrame)
	if err != nil {
		return err
	}
	cc.wmu.Lock()
	_ = cc.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = cc.conn.Write(b)
	cc.wmu.Unlock()
	if err != nil {
		cc.c.drop(cc, "write failed: "+err.Error())
		return err
	}
	return nil
}

// sconn is one inbound stream: a coordinator's runs on this member.
type sconn struct {
	conn net.Conn
	peer string
	mu   sync.Mutex
	runs map[uint64]*srun

	// Replies are combined: the goroutine that finds no write in progress
	// writes every frame queued meanwhile in one write (tasks that end
	// together cost one system call).
	wmu     sync.Mutex
	queued  []byte
	writing bool
	broken  bool
}

// srun is one coordinator's run on this member.
type srun struct {
	ctx    context.Context
	cancel context.CancelFunc
	e      *entry
}

func (h *Host) track(sc *sconn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns[sc] = struct{}{}
	return true
}

func (h *Host) untrack(sc *sconn) {
	h.mu.Lock()
	delete(h.conns, sc)
	h.mu.Unlock()
}

// serve reads a coordinator's requests; each task runs on a goroutine of
// the host once a worker of its kind's pool is free, and is answered
// when it ends. A task whose run was closed (or whose stream broke) is
// cancelled and not answered.
func (h *Host) serve(_ context.Context, conn net.Conn, peer string) {
	sc := &sconn{conn: conn, peer: peer, runs: map[uint64]*srun{}}
	if !h.track(sc) {
		_ = conn.Close()
		return
	}
	defer func() {
		_ = conn.Close()
		h.untrack(sc)
		sc.mu.Lock()
		for id, sr := range sc.runs {
			sr.cancel()
			delete(sc.runs, id)
		}
		sc.mu.Unlock()
	}()
	r := bufio.NewReader(conn)
	for {
		req := &protos.WorkRequest{}
		if err := frame.Read(r, req, maxFrame); err != nil {
			return
		}
		switch req.Op {
		case protos.WorkOp_WORK_OP_OPEN:
			rep := &protos.WorkReply{Run: req.Run, Op: protos.WorkOp_WORK_OP_OPEN}
			if e := h.kind(req.Kind); e == nil {
				rep.Error = fmt.Sprintf("member %s does not run task kind %q", h.self, req.Kind)
			} else {
				ctx, cancel := context.WithCancel(h.ctx)
				sc.mu.Lock()
				if old := sc.runs[req.Run]; old != nil {
					old.cancel()
				}
				sc.runs[req.Run] = &srun{ctx: ctx, cancel: cancel, e: e}
				sc.mu.Unlock()
				rep.Workers = uint32(e.workers)
			}
			if !sc.reply(rep) {
				return
			}
		case protos.WorkOp_WORK_OP_CHUNK:
			sc.mu.Lock()
			sr := sc.runs[req.Run]
			sc.mu.Unlock()
			if sr == nil {
				continue
			}
			for _, t := range req.Tasks {
				if !h.goFunc(func() { h.exec(sc, req.Run, sr, t) }) {
					return
				}
			}
		case protos.WorkOp_WORK_OP_CLOSE:
			sc.mu.Lock()
			if sr := sc.runs[req.Run]; sr != nil {
				sr.cancel()
				delete(sc.runs, req.Run)
			}
			sc.mu.Unlock()
		}
	}
}

// exec runs one task of a coordinator's run and answers it.
func (h *Host) exec(sc *sconn, run uint64, sr *srun, t *protos.WorkTask) {
	if !sr.e.acquire(sr.ctx) {
		return
	}
	var out []byte
	err := protect(func() error {
		var err error
		out, err = sr.e.call(sr.ctx, t.Input)
		return err
	})
	sr.e.release()
	if sr.ctx.Err() != nil {
		return
	}
	res := &protos.WorkResult{Index: t.Index, Output: out}
	if err != nil {
		res.Failed, res.Error, res.Output = true, err.Error(), nil
		res.Codec = errors.Is(err, ErrCodec)
	}
	sc.reply(&protos.WorkReply{Run: run, Op: protos.WorkOp_WORK_OP_CHUNK, Result: res})
}

// reply queues rep and writes the queue unless another goroutine is
// writing it; a failed write closes the stream (false).
func (sc *sconn) reply(rep *protos.WorkReply) bool {
	sc.wmu.Lock()
	var err error
	sc.queued, err = frame.Append(sc.queued, rep, maxFrame)
	if err != nil && rep.Result != nil {
		rep.Result = &protos.WorkResult{Index: rep.Result.Index, Failed: true, Error: "the result's frame: " + err.Error()}
		sc.queued, err = frame.Append(sc.queued, rep, maxFrame)
	}
	if sc.broken {
		sc.wmu.Unlock()
		return false
	}
	if err != nil || sc.writing {
		sc.wmu.Unlock()
		return true
	}
	sc.writing = true
	for len(sc.queued) > 0 {
		b := sc.queued
		sc.queued = nil
		sc.wmu.Unlock()
		_ = sc.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := sc.conn.Write(b)
		sc.wmu.Lock()
		if err != nil {
			sc.broken, sc.queued = true, nil
			_ = sc.conn.Close()
		}
	}
	sc.writing = false
	ok := !sc.broken
	sc.wmu.Unlock()
	return ok
}
