package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/crdt"
)

// hostingPrefix is the prefix of the replicated sets of the members that
// host each cache ("cache/<name>": an add-wins set of member ids).
const hostingPrefix = "cache/"

// warmWindow is how long after a topology change an owner that misses a
// key asks the key's previous owner (the entries it moves may still be on
// their way).
const warmWindow = 3 * time.Second

// warmAsk bounds the members an owner asks for a key it misses within
// warmWindow (beyond the key's previous owner).
const warmAsk = 3

// Host is a member's side of the distributed caches: it serves the
// ProtocolCache streams of the cluster port, records which members host
// which cache (an add-wins set per cache, replicated by package crdt), and
// follows the membership. One Host per member serves every cache of that
// member; New registers a cache with it.
type Host struct {
	ms  *cluster.Membership
	rep *crdt.Replicator
	log *zap.Logger
	clk clock

	self string

	mu      sync.Mutex
	regs    map[string]*reg
	clients map[string]*client
	conns   map[*sconn]struct{}
	started bool
	closed  bool
	unsub   func()
	sub     *crdt.Subscription
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped chan struct{}
}

// NewHost returns the cache host of the member of ms, recording hosting
// caches in rep. log may be nil. Start serves other members.
func NewHost(ms *cluster.Membership, rep *crdt.Replicator, log *zap.Logger) (*Host, error) {
	if ms == nil || rep == nil {
		return nil, fmt.Errorf("%w: NewHost needs a Membership and a Replicator", ErrInvalid)
	}
	if log == nil {
		log = zap.NewNop()
	}
	h := &Host{ms: ms, rep: rep, log: log, self: ms.Self().ID, regs: map[string]*reg{},
		clients: map[string]*client{}, conns: map[*sconn]struct{}{}, stopped: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Start serves the ProtocolCache streams and follows the membership and
// the hosting sets.
func (h *Host) Start(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if h.started {
		return nil
	}
	sub, err := h.rep.Subscribe(hostingPrefix + "*")
	if err != nil {
		return fmt.Errorf("cache: following the hosting sets: %w", err)
	}
	if err := h.ms.Handle(cluster.ProtocolCache, h.serve); err != nil {
		sub.Close()
		return err
	}
	events, unsub := h.ms.Subscribe(256)
	h.started, h.unsub, h.sub = true, unsub, sub
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.follow(events, sub.C())
	}()
	return nil
}

// goFunc runs f on a goroutine of the host, unless it is closed.
func (h *Host) goFunc(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
}

// follow reacts to membership events and hosting-set changes; a ticker
// re-reads both in case a change was missed.
func (h *Host) follow(events <-chan cluster.MemberEvent, changes <-chan crdt.Changes) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			switch ev.Kind {
			case cluster.Removed, cluster.Left:
				h.memberGone(ev.Member.ID)
			}
			if ev.Kind != cluster.Updated {
				// Any reachability change may have hidden invalidations.
				for _, r := range h.registrations() {
					r.purgeNear()
				}
			}
		case _, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
		case <-t.C:
		}
		for _, r := range h.registrations() {
			r.refresh()
		}
	}
}

func (h *Host) registrations() []*reg {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*reg, 0, len(h.regs))
	for _, r := range h.regs {
		out = append(out, r)
	}
	return out
}

// memberGone releases the leases a gone member held and, on the lowest
// Up member, withdraws it from every hosting set.
func (h *Host) memberGone(id string) {
	for _, r := range h.registrations() {
		r.releaseWhere(func(l *lease) bool { return l.holder == id })
	}
	if h.ms.View().LowestUp() != h.self {
		return
	}
	for _, k := range h.rep.Keys(hostingPrefix + "*") {
		key := crdt.ORSetKey(k, crdt.StringCodec())
		s, err := crdt.Get(h.ctx, h.rep, key, crdt.Local)
		if err != nil || s == nil || !s.Contains(id) {
			continue
		}
		if err := crdt.Update(h.ctx, h.rep, key, crdt.Local, func(s *crdt.ORSet[string], op crdt.Op) {
			if s.Contains(id) {
				s.Remove(op.Replica, id)
			}
		}); err != nil {
			h.log.Warn("cache: withdrawing a gone member from a hosting set", zap.String("member", id), zap.Error(err))
		}
	}
}

// Stop hands every cache's entries to their new owners (see Cache.Close),
// then closes the streams. Idempotent.
func (h *Host) Stop(ctx context.Context) error {
	var first error
	for _, r := range h.registrations() {
		if err := r.leave(ctx); err != nil && first == nil {
			first = err
		}
	}
	if err := h.halt(ctx); err != nil && first == nil {
		first = err
	}
	return first
}

// Abort closes the streams without handing entries over (the member's
// keys are lost: misses elsewhere). Idempotent.
func (h *Host) Abort() { _ = h.halt(context.Background()) }

func (h *Host) halt(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		select {
		case <-h.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.closed = true
	regs := h.regs
	h.regs = map[string]*reg{}
	clients := h.clients
	h.clients = map[string]*client{}
	conns := make([]*sconn, 0, len(h.conns))
	for sc := range h.conns {
		conns = append(conns, sc)
	}
	started, unsub, sub := h.started, h.unsub, h.sub
	h.mu.Unlock()
	if started {
		_ = h.ms.Handle(cluster.ProtocolCache, nil)
		unsub()
		sub.Close()
	}
	h.cancel()
	for _, c := range clients {
		c.close()
	}
	for _, sc := range conns {
		_ = sc.conn.Close()
	}
	for _, r := range regs {
		r.close()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		close(h.stopped)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cache: stop: %w", ctx.Err())
	}
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

// releaseConn releases the leases granted over an inbound stream that
// ended (the computing member died or its stream broke).
func (h *Host) releaseConn(sc *sconn) {
	for _, r := range h.registrations() {
		r.releaseWhere(func(l *lease) bool { return l.sc == sc })
	}
}

func (h *Host) reg(name string) *reg {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.regs[name]
}

func (h *Host) client(id string) (*client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	c := h.clients[id]
	if c == nil {
		c = &client{h: h, peer: id}
		h.clients[id] = c
	}
	return c, nil
}

// register adds the cache name to this member: its store, and its id in
// the cache's hosting set.
func (h *Host) register(name string, cfg Config, st *stats, onClose func()) (*reg, error) {
	s, err := newStore[[]byte](cfg.MaxBytes, st)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	r := &reg{h: h, name: name, cfg: cfg, st: s, stats: st, leases: map[string]*lease{}, onClose: onClose,
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	r.topo.Store(&topo{})
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		s.close()
		return nil, ErrClosed
	case h.regs[name] != nil:
		h.mu.Unlock()
		s.close()
		return nil, fmt.Errorf("%w: a cache named %q is already open on this member", ErrInvalid, name)
	}
	h.regs[name] = r
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		r.rebalanceLoop()
	}()
	h.mu.Unlock()
	if err := r.setHosting(true); err != nil {
		h.unregister(r)
		return nil, err
	}
	r.refresh()
	return r, nil
}

func (h *Host) unregister(r *reg) {
	h.mu.Lock()
	if h.regs[r.name] == r {
		delete(h.regs, r.name)
	}
	h.mu.Unlock()
	r.close()
}

// do sends req to member (this member: in process).
func (h *Host) do(ctx context.Context, member string, req *protosRequest) (*protosResponse, error) {
	if member == h.self {
		return h.exec(ctx, h.self, nil, req), nil
	}
	c, err := h.client(member)
	if err != nil {
		return nil, err
	}
	return c.call(ctx, req)
}

// topo is a cache's hosting members as this member sees them (Up members
// in the cache's hosting set), and the set before the last change.
type topo struct {
	members []string
	hashes  []uint64
	prev    *topo
	at      time.Time
}

func newTopo(members []string) *topo {
	t := &topo{members: members, hashes: make([]uint64, len(members))}
	for i, m := range members {
		t.hashes[i] = xxhash.Sum64String(m)
	}
	return t
}

// mix is splitmix64's finalizer: the rendezvous score of a member (hash a)
// for a key (hash b).
func mix(a, b uint64) uint64 {
	z := a ^ (b + 0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// owner is the key's owner ("" when no member hosts the cache).
func (t *topo) owner(key string) string {
	if t == nil || len(t.members) == 0 {
		return ""
	}
	kh := xxhash.Sum64String(key)
	best, bi := uint64(0), -1
	for i, mh := range t.hashes {
		if s := mix(mh, kh); bi < 0 || s > best {
			best, bi = s, i
		}
	}
	return t.members[bi]
}

// ranked is the first n members for key by rendezvous score, the owner
// first.
func (t *topo) ranked(key string, n int) []string {
	if t == nil {
		return nil
	}
	kh := xxhash.Sum64String(key)
	type sm struct {
		s uint64
		m string
	}
	all := make([]sm, len(t.members))
	for i, mh := range t.hashes {
		all[i] = sm{mix(mh, kh), t.members[i]}
	}
	slices.SortFunc(all, func(a, b sm) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		}
		return 0
	})
	n = min(n, len(all))
	out := make([]string, n)
	for i := range n {
		out[i] = all[i].m
	}
	return out
}

var errNoMembers = errors.New("cache: no member hosts the cache")
