package cache

import (
	"context"
	"slices"
	"time"

	"github.com/foundation-go/foundation/internal/protos"
)

// A lease is the right to compute one key's value for GetOrCompute, held
// by one caller at a time at the key's owner; the other callers wait at
// the owner for the result. A lease passes to the next waiter when its
// holder gives up, its stream breaks, its member leaves or dies, or
// Config.ComputeTimeout passes.
type lease struct {
	id      uint64
	holder  string // member id
	sc      *sconn // nil: a caller on this member
	waiters []*waiter
	timer   *time.Timer
}

type waiter struct {
	ch   chan *protosResponse
	from string
	sc   *sconn
}

// acquire answers the value, the lease, or (after waiting) the holder's
// result.
func (r *reg) acquire(ctx context.Context, from string, sc *sconn, req *protosRequest) *protosResponse {
	key := req.Keys[0]
	if it, ok := r.lookup(ctx, key, false); ok {
		return hitResp(it)
	}
	r.lmu.Lock()
	if it, ok := r.st.get(key); ok { // filled meanwhile
		r.lmu.Unlock()
		return hitResp(it)
	}
	l := r.leases[key]
	if l == nil {
		l = &lease{holder: from, sc: sc}
		r.leases[key] = l
		resp := r.grantLocked(key, l)
		r.lmu.Unlock()
		return resp
	}
	w := &waiter{ch: make(chan *protosResponse, 1), from: from, sc: sc}
	l.waiters = append(l.waiters, w)
	r.lmu.Unlock()
	select {
	case resp := <-w.ch:
		return resp
	case <-ctx.Done():
	case <-r.done:
	}
	r.lmu.Lock()
	if cur := r.leases[key]; cur != nil {
		if i := slices.Index(cur.waiters, w); i >= 0 {
			cur.waiters = slices.Delete(cur.waiters, i, i+1)
			r.lmu.Unlock()
			return errResp(codeClosed, "gave up waiting")
		}
	}
	r.lmu.Unlock()
	// Answered meanwhile: a lease it was granted goes to the next waiter.
	if resp := <-w.ch; resp.Status == statusGranted {
		r.release(key, resp.Lease)
	}
	return errResp(codeClosed, "gave up waiting")
}

func hitResp(it *item[[]byte]) *protosResponse {
	if it.err != "" {
		return &protosResponse{Status: statusFailed, Error: it.err}
	}
	return &protosResponse{Status: statusOK, Entries: []*protos.CacheEntry{entryOf(it)}}
}

// grantLocked gives l a new id and a timer. r.lmu held.
func (r *reg) grantLocked(key string, l *lease) *protosResponse {
	r.leaseSeq++
	l.id = r.leaseSeq
	id := l.id
	if l.timer != nil {
		l.timer.Stop()
	}
	l.timer = time.AfterFunc(r.cfg.ComputeTimeout, func() { r.release(key, id) })
	return &protosResponse{Status: statusGranted, Lease: id}
}

// release passes lease id of key to its next waiter, or drops it.
func (r *reg) release(key string, id uint64) {
	r.lmu.Lock()
	defer r.lmu.Unlock()
	l := r.leases[key]
	if l == nil || l.id != id {
		return
	}
	r.passLocked(key, l)
}

func (r *reg) passLocked(key string, l *lease) {
	if len(l.waiters) == 0 {
		if l.timer != nil {
			l.timer.Stop()
		}
		delete(r.leases, key)
		return
	}
	w := l.waiters[0]
	l.waiters = l.waiters[1:]
	l.holder, l.sc = w.from, w.sc
	w.ch <- r.grantLocked(key, l)
}

// releaseWhere releases every lease whose holder matches.
func (r *reg) releaseWhere(match func(*lease) bool) {
	r.lmu.Lock()
	defer r.lmu.Unlock()
	for key, l := range r.leases {
		if match(l) {
			r.passLocked(key, l)
		}
	}
}

// fill records the lease holder's result: a value (entries[0]), a failure
// (error), or nothing (it gave up: the lease passes on).
func (r *reg) fill(req *protosRequest) *protosResponse {
	key := req.Keys[0]
	var it *item[[]byte]
	switch {
	case len(req.Entries) > 0:
		e := req.Entries[0]
		if len(e.Value) > r.cfg.MaxValueSize {
			req.Entries, req.Error = nil, "value too large"
			return r.fill(req)
		}
		_, it = r.st.put(key, e.Value, int64(len(e.Value)), time.Duration(e.TtlNanos), protos.CachePutMode_CACHE_PUT_ALWAYS, r.h.clk.next())
	case req.Error != "":
		if req.CacheErrorNanos > 0 {
			ttl := time.Duration(req.CacheErrorNanos)
			it = &item[[]byte]{key: key, err: req.Error, ttl: int64(ttl), exp: expiry(ttl), ver: r.h.clk.next(), cost: int64(len(key)+len(req.Error)) + 64}
			r.st.set(it)
		}
	default:
		r.release(key, req.Lease)
		return &protosResponse{Status: statusOK}
	}
	r.lmu.Lock()
	var waiters []*waiter
	if l := r.leases[key]; l != nil && l.id == req.Lease {
		waiters = l.waiters
		if l.timer != nil {
			l.timer.Stop()
		}
		delete(r.leases, key)
	}
	r.lmu.Unlock()
	var resp *protosResponse
	if it != nil && it.err == "" {
		resp = hitResp(it)
	} else {
		resp = &protosResponse{Status: statusFailed, Error: req.Error}
	}
	for _, w := range waiters {
		w.ch <- resp
	}
	if it != nil && it.err == "" {
		r.fanout(context.Background(), []*item[[]byte]{it}, nil)
	}
	return &protosResponse{Status: statusOK}
}
