package cache

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/internal/protos"
)

type (
	protosRequest  = protos.CacheRequest
	protosResponse = protos.CacheResponse
)

const (
	opGet     = protos.CacheOp_CACHE_OP_GET
	opPut     = protos.CacheOp_CACHE_OP_PUT
	opDelete  = protos.CacheOp_CACHE_OP_DELETE
	opTake    = protos.CacheOp_CACHE_OP_TAKE
	opIncr    = protos.CacheOp_CACHE_OP_INCR
	opExpire  = protos.CacheOp_CACHE_OP_EXPIRE
	opTouch   = protos.CacheOp_CACHE_OP_TOUCH
	opAcquire = protos.CacheOp_CACHE_OP_ACQUIRE
	opFill    = protos.CacheOp_CACHE_OP_FILL
	opFanout  = protos.CacheOp_CACHE_OP_FANOUT
	opHandoff = protos.CacheOp_CACHE_OP_HANDOFF
	opEntries = protos.CacheOp_CACHE_OP_ENTRIES

	statusOK      = protos.CacheStatus_CACHE_STATUS_OK
	statusGranted = protos.CacheStatus_CACHE_STATUS_GRANTED
	statusFailed  = protos.CacheStatus_CACHE_STATUS_FAILED
	statusError   = protos.CacheStatus_CACHE_STATUS_ERROR

	codeClosed     = "closed"
	codeNotHosting = "not_hosting"
	codeNotInteger = "not_integer"
	codeTooLarge   = "too_large"
)

// nearHooks are a Multilevel cache's near-cache callbacks.
type nearHooks struct {
	invalidate func(key string)
	purge      func()
}

// reg is one cache on this member's Host: its store (owned, backup or
// replicated entries), its topology, and its GetOrCompute leases.
type reg struct {
	h     *Host
	name  string
	cfg   Config
	st    *store[[]byte]
	stats *stats

	topo atomic.Pointer[topo]
	// refreshMu makes refreshes one at a time, so that one that read the
	// membership and the hosting set before a change cannot publish its
	// topology after the change's.
	refreshMu sync.Mutex
	near      atomic.Pointer[nearHooks]
	leaving   atomic.Bool

	lmu      sync.Mutex
	leases   map[string]*lease
	leaseSeq uint64

	kick      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	// cmu and inflight keep the store open while a request or hand-over
	// uses it; nearMu makes the near hooks stop before the near cache
	// closes.
	cmu      sync.Mutex
	isClosed bool
	inflight sync.WaitGroup
	nearMu   sync.RWMutex
	onClose  func()
	rebMu    sync.Mutex // one rebalance at a time
}

func (r *reg) hostingKey() crdt.Key[*crdt.ORSet[string]] {
	return crdt.ORSetKey(hostingPrefix+r.name, crdt.StringCodec())
}

func (r *reg) setHosting(present bool) error {
	self := r.h.self
	return crdt.Update(context.Background(), r.h.rep, r.hostingKey(), crdt.Local, func(s *crdt.ORSet[string], op crdt.Op) {
		switch {
		case present && !s.Contains(self):
			s.Add(op.Replica, self)
		case !present && s.Contains(self):
			s.Remove(op.Replica, self)
		}
	})
}

// refresh recomputes the hosting members (Up members of the hosting set;
// not this member while it leaves) and starts a rebalance on a change.
func (r *reg) refresh() {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	s, err := crdt.Get(context.Background(), r.h.rep, r.hostingKey(), crdt.Local)
	if err != nil {
		return
	}
	leaving := r.leaving.Load()
	var members []string
	for _, m := range r.h.ms.View().Up() {
		if s != nil && s.Contains(m.ID) && !(leaving && m.ID == r.h.self) {
			members = append(members, m.ID)
		}
	}
	slices.Sort(members)
	for {
		cur := r.topo.Load()
		if slices.Equal(cur.members, members) {
			return
		}
		t := newTopo(members)
		// Keep one generation back.
		t.prev, t.at = &topo{members: cur.members, hashes: cur.hashes, at: cur.at}, time.Now()
		if r.topo.CompareAndSwap(cur, t) {
			break
		}
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *reg) purgeNear() {
	r.nearMu.RLock()
	defer r.nearMu.RUnlock()
	if n := r.near.Load(); n != nil {
		n.purge()
	}
}

func (r *reg) invalidateNear(key string) {
	r.nearMu.RLock()
	defer r.nearMu.RUnlock()
	if n := r.near.Load(); n != nil {
		n.invalidate(key)
	}
}

// stopNear detaches the near hooks; none runs after it returns.
func (r *reg) stopNear() {
	r.nearMu.Lock()
	r.near.Store(nil)
	r.nearMu.Unlock()
}

// enter keeps the store open until exit; false once it is closed.
func (r *reg) enter() bool {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	if r.isClosed {
		return false
	}
	r.inflight.Add(1)
	return true
}

func (r *reg) exit() { r.inflight.Done() }

// copies is how many members keep each entry (the owner and backups;
// every member for Replicated).
func (r *reg) copies(t *topo) int {
	if r.cfg.Tier == Replicated {
		return len(t.members)
	}
	return 1 + r.cfg.Backups
}

func errResp(code, msg string) *protosResponse {
	return &protosResponse{Status: statusError, Code: code, Error: msg}
}

func entryOf(it *item[[]byte]) *protos.CacheEntry {
	return &protos.CacheEntry{Key: it.key, Value: it.val, ExpireUnixNano: it.exp, Version: it.ver, Found: true, TtlNanos: it.ttl, Error: it.err}
}

func itemOf(e *protos.CacheEntry) *item[[]byte] {
	return &item[[]byte]{key: e.Key, val: e.Value, exp: e.ExpireUnixNano, ttl: e.TtlNanos, ver: e.Version, err: e.Error,
		cost: int64(len(e.Value)+len(e.Key)+len(e.Error)) + 64}
}

// exec serves one request on this member (from a peer's stream, sc, or in
// process, sc nil).
func (h *Host) exec(ctx context.Context, from string, sc *sconn, req *protosRequest) *protosResponse {
	r := h.reg(req.Cache)
	if r == nil || !r.enter() {
		return errResp(codeNotHosting, "cache "+req.Cache+" is not open on member "+h.self)
	}
	defer r.exit()
	switch req.Op {
	case opFanout:
		return r.applyFanout(req)
	case opHandoff:
		for _, e := range req.Entries {
			r.st.putIfNewer(itemOf(e))
		}
		return &protosResponse{Status: statusOK}
	case opEntries:
		return r.entriesPage(req)
	}
	if r.leaving.Load() && !req.Local {
		// Leaving: answer reads of what is still here, forward the rest
		// to the owners without this member.
		if req.Op == opGet {
			if resp, ok := r.localGet(req); ok {
				return resp
			}
		}
		return r.forward(ctx, req)
	}
	switch req.Op {
	case opGet:
		return r.get(ctx, req)
	case opAcquire:
		return r.acquire(ctx, from, sc, req)
	case opFill:
		return r.fill(req)
	default:
		return r.write(ctx, req)
	}
}

// entriesPageBytes bounds one ENTRIES answer.
const entriesPageBytes = 8 << 20

// entriesPage answers ENTRIES: the entries this member owns (in its view)
// after the cursor req.Keys[0], in key order, about entriesPageBytes of
// them; Changed when more follow.
func (r *reg) entriesPage(req *protosRequest) *protosResponse {
	after := ""
	if len(req.Keys) > 0 {
		after = req.Keys[0]
	}
	t := r.topo.Load()
	var its []*item[[]byte]
	r.st.each(func(it *item[[]byte]) bool {
		if it.err == "" && it.key > after && t.owner(it.key) == r.h.self {
			its = append(its, it)
		}
		return true
	})
	slices.SortFunc(its, func(a, b *item[[]byte]) int { return strings.Compare(a.key, b.key) })
	resp := &protosResponse{Status: statusOK}
	size := 0
	for i, it := range its {
		if size > entriesPageBytes {
			resp.Changed = i < len(its)
			break
		}
		resp.Entries = append(resp.Entries, entryOf(it))
		size += len(it.val) + len(it.key) + 64
	}
	return resp
}

// forward sends req to its key's owner (a leaving member's requests).
func (r *reg) forward(ctx context.Context, req *protosRequest) *protosResponse {
	key := ""
	if len(req.Keys) > 0 {
		key = req.Keys[0]
	} else if len(req.Entries) > 0 {
		key = req.Entries[0].Key
	}
	owner := r.topo.Load().owner(key)
	if owner == "" || owner == r.h.self {
		return errResp(codeClosed, "cache "+r.name+" is leaving member "+r.h.self)
	}
	fwd := cloneReq(req)
	resp, err := r.h.do(ctx, owner, fwd)
	if err != nil {
		return errResp(codeClosed, err.Error())
	}
	return resp
}

func cloneReq(req *protosRequest) *protosRequest {
	c := &protosRequest{Cache: req.Cache, Op: req.Op, Keys: req.Keys, Entries: req.Entries, TtlNanos: req.TtlNanos,
		Delta: req.Delta, Mode: req.Mode, Lease: req.Lease, Error: req.Error, Local: req.Local, Writer: req.Writer,
		CacheErrorNanos: req.CacheErrorNanos}
	return c
}

func (r *reg) localGet(req *protosRequest) (*protosResponse, bool) {
	resp := &protosResponse{Status: statusOK}
	all := true
	for _, k := range req.Keys {
		if it, ok := r.st.get(k); ok {
			resp.Entries = append(resp.Entries, entryOf(it))
		} else {
			all = false
			resp.Entries = append(resp.Entries, &protos.CacheEntry{Key: k})
		}
	}
	return resp, all
}

func (r *reg) get(ctx context.Context, req *protosRequest) *protosResponse {
	resp := &protosResponse{Status: statusOK}
	for _, k := range req.Keys {
		it, ok := r.lookup(ctx, k, req.Local)
		if ok {
			resp.Entries = append(resp.Entries, entryOf(it))
		} else {
			resp.Entries = append(resp.Entries, &protos.CacheEntry{Key: k})
		}
	}
	return resp
}

// lookup reads key here and, missing it within warmWindow of a topology
// change, from its previous owner (whose hand-over may be on its way).
func (r *reg) lookup(ctx context.Context, key string, local bool) (*item[[]byte], bool) {
	if it, ok := r.st.get(key); ok {
		return it, true
	}
	t := r.topo.Load()
	if local || t.prev == nil || time.Since(t.at) > warmWindow {
		return nil, false
	}
	// The key's previous owner: its owner in the previous topology, or,
	// when this member has just joined (or its previous topology did not
	// know the others yet), its owner among the other members, then the
	// next ones in rendezvous order: while members' views of a change
	// disagree, a hand-over can leave an entry one step off its owner.
	others := slices.DeleteFunc(slices.Clone(t.members), func(m string) bool { return m == r.h.self })
	candidates := append([]string{t.prev.owner(key)}, newTopo(others).ranked(key, min(len(others), warmAsk))...)
	var asked []string
	for _, prev := range candidates {
		if prev == "" || prev == r.h.self || !slices.Contains(t.members, prev) || slices.Contains(asked, prev) {
			continue
		}
		asked = append(asked, prev)
		ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
		resp, err := r.h.do(ctx, prev, &protosRequest{Cache: r.name, Op: opGet, Keys: []string{key}, Local: true})
		cancel()
		if err != nil || resp.Status != statusOK || len(resp.Entries) == 0 || !resp.Entries[0].Found {
			continue
		}
		it := itemOf(resp.Entries[0])
		r.st.putIfNewer(it)
		return it, true
	}
	// The hand-over may have landed here between the first read and the
	// questions (a previous owner deletes its copy only once this member
	// has stored it, so a miss there means the entry is here now).
	return r.st.get(key)
}

// write applies a write at the owner, then fans it out.
func (r *reg) write(ctx context.Context, req *protosRequest) *protosResponse {
	resp := &protosResponse{Status: statusOK}
	var changed []*item[[]byte]
	var deleted []string
	switch req.Op {
	case opPut:
		for _, e := range req.Entries {
			if len(e.Value) > r.cfg.MaxValueSize {
				return errResp(codeTooLarge, "value too large")
			}
			ok, it := r.st.put(e.Key, e.Value, int64(len(e.Value)), time.Duration(e.TtlNanos), req.Mode, r.h.clk.next())
			resp.Changed = ok
			if ok {
				changed = append(changed, it)
			}
		}
	case opDelete, opTake:
		for _, k := range req.Keys {
			it, ok := r.st.remove(k)
			if ok {
				resp.Changed = true
				if req.Op == opTake {
					resp.Entries = append(resp.Entries, entryOf(it))
				}
			} else if req.Op == opTake {
				resp.Entries = append(resp.Entries, &protos.CacheEntry{Key: k})
			}
			deleted = append(deleted, k)
		}
	case opIncr:
		n, it, err := r.st.incr(req.Keys[0], req.Delta, r.h.clk.next(), func(b []byte) (int64, bool) { return parseInt(b) },
			func(n int64) ([]byte, int64, error) {
				b := []byte(itoa(n))
				return b, int64(len(b)), nil
			})
		if err != nil {
			return errResp(codeNotInteger, err.Error())
		}
		resp.Number, resp.Changed = n, true
		changed = append(changed, it)
	case opExpire, opTouch:
		ok, it := r.st.expire(req.Keys[0], time.Duration(req.TtlNanos), req.Op == opTouch, r.h.clk.next())
		resp.Changed = ok
		if ok {
			changed = append(changed, it)
		}
	default:
		return errResp("invalid", "unknown operation "+req.Op.String())
	}
	r.fanout(ctx, changed, deleted)
	return resp
}

// fanout tells the other hosting members about writes this owner made:
// the members that keep copies store them, every member drops its near
// copies. It waits for their answers up to Config.WriteTimeout.
func (r *reg) fanout(ctx context.Context, changed []*item[[]byte], deleted []string) {
	for _, it := range changed {
		r.invalidateNear(it.key)
	}
	for _, k := range deleted {
		r.invalidateNear(k)
	}
	t := r.topo.Load()
	nearToo := r.cfg.Tier == Multilevel
	n := r.copies(t)
	if !nearToo && n <= 1 {
		return
	}
	per := map[string][]*protos.CacheEntry{}
	for _, m := range t.members {
		if m == r.h.self {
			continue
		}
		for _, it := range changed {
			if nearToo || slices.Contains(t.ranked(it.key, n), m) {
				per[m] = append(per[m], entryOf(it))
			}
		}
		for _, k := range deleted {
			if nearToo || slices.Contains(t.ranked(k, n), m) {
				per[m] = append(per[m], &protos.CacheEntry{Key: k, Deleted: true, Version: r.h.clk.next()})
			}
		}
	}
	if len(per) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.WriteTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for m, es := range per {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.h.do(ctx, m, &protosRequest{Cache: r.name, Op: opFanout, Entries: es}); err != nil {
				r.h.log.Debug("cache: a member did not acknowledge a write", zap.String("cache", r.name), zap.String("member", m), zap.Error(err))
			}
		}()
	}
	wg.Wait()
}

func (r *reg) applyFanout(req *protosRequest) *protosResponse {
	t := r.topo.Load()
	n := r.copies(t)
	for _, e := range req.Entries {
		if e.Deleted {
			r.st.delIfOlder(e.Key, e.Version)
		} else if r.cfg.Tier == Replicated || slices.Contains(t.ranked(e.Key, n), r.h.self) {
			r.st.putIfNewer(itemOf(e))
		} else {
			// Not a copy here (any more): drop a stale one.
			r.st.delIfOlder(e.Key, e.Version)
		}
		r.invalidateNear(e.Key)
	}
	return &protosResponse{Status: statusOK}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
