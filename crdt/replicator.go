package crdt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	gosync "sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/protos"
)

// Replicator keeps this member's replicas of the cluster's CRDT keys and
// keeps them in sync with every other member's: one per member, on the
// member's cluster port (ProtocolCRDT streams). See "The replicator" in
// the package documentation.
//
// Its methods are safe for concurrent use. Update, Get and Delete are
// package functions (Go methods cannot be generic).
type Replicator struct {
	ms  *cluster.Membership
	cfg Config
	log *zap.Logger
	now func() time.Time

	viewMu  gosync.Mutex // serializes refreshView (an older view never replaces a newer one)
	mu      gosync.Mutex
	st      *store
	view    viewInfo
	subs    map[int]*Subscription
	nextSub int
	calls   map[uint64]*call
	nextID  uint64

	peersMu gosync.Mutex
	peers   map[string]*peer

	connMu      gosync.Mutex
	conns       map[net.Conn]struct{}
	connsClosed bool

	db *bolt.DB

	stats    counters
	sendHook func(peer string, frame []byte) [][]byte // tests: drop, duplicate, reorder

	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{}
	sync   chan string // members to start an anti-entropy round with now
	wg     gosync.WaitGroup
	life   gosync.Mutex
	state  int
}

// viewInfo is what the replicator keeps of the membership view.
type viewInfo struct {
	members []string        // every member id, self included
	up      []string        // Up peers (self excluded)
	inView  map[string]bool // members
	owner   bool            // this member prunes
	oldest  string          // the oldest Up member
}

type call struct {
	ch chan reply
}

type reply struct {
	from string
	f    *protos.CRDTFrame
}

type counters struct {
	bytesSent, bytesReceived, framesSent, dropped, syncRounds, pruned, notifyDropped atomic.Uint64
}

// Stats are counters of a replicator's traffic and work since Start.
type Stats struct {
	// BytesSent and BytesReceived count frame bytes on the replication
	// streams (without TCP and TLS overhead).
	BytesSent, BytesReceived uint64
	// FramesSent counts frames written.
	FramesSent uint64
	// Dropped counts frames not sent (a full queue, a stream that could not
	// be opened or written) or received from non-members.
	Dropped uint64
	// Rejected counts replicas refused: of another type than the key holds
	// here, or malformed.
	Rejected uint64
	// SyncRounds counts anti-entropy rounds this member started.
	SyncRounds uint64
	// Pruned counts (key, removed replica) prunings this member performed.
	Pruned uint64
	// Keys is the number of keys held (tombstones included).
	Keys int
	// Replica is this member's current replica id.
	Replica string
}

const (
	lifeNew = iota
	lifeRunning
	lifeStopped
)

// NewReplicator checks cfg and builds the replicator of the member ms;
// Start runs it. ms must be started before the replicator is.
func NewReplicator(ms *cluster.Membership, cfg Config) (*Replicator, error) {
	if ms == nil {
		return nil, fmt.Errorf("%w: membership: must not be nil", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Replicator{
		ms: ms, cfg: cfg, now: cfg.Now,
		subs:  make(map[int]*Subscription),
		calls: make(map[uint64]*call),
		peers: make(map[string]*peer),
		conns: make(map[net.Conn]struct{}),
		kick:  make(chan struct{}, 1),
		sync:  make(chan string, 16),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Start opens the durable store (restoring its keys), serves ProtocolCRDT
// on the member's cluster port and starts replicating. It is idempotent;
// after Stop it returns ErrStopped.
func (r *Replicator) Start(ctx context.Context) error {
	r.life.Lock()
	defer r.life.Unlock()
	switch r.state {
	case lifeRunning:
		return nil
	case lifeStopped:
		return ErrStopped
	}
	self := r.ms.Self().ID
	r.log = r.cfg.Logger.With(zap.String("member", self))
	r.cfg.Logger = r.log
	r.st = newStore(self, &r.cfg)
	if r.cfg.Durable.Path != "" {
		if err := r.openDurable(); err != nil {
			r.state = lifeStopped
			return err
		}
	}
	events, cancelEvents := r.ms.Subscribe(256)
	r.refreshView()
	if err := r.ms.Handle(cluster.ProtocolCRDT, r.serve); err != nil {
		cancelEvents()
		r.closeDurable()
		r.state = lifeStopped
		return err
	}
	r.state = lifeRunning
	r.goFunc(func() { r.eventLoop(events, cancelEvents) })
	r.goFunc(r.flushLoop)
	r.goFunc(r.tickLoop)
	r.mu.Lock()
	up := slices.Clone(r.view.up)
	r.mu.Unlock()
	if len(up) > 0 {
		r.requestSync(up[rand.IntN(len(up))])
	}
	return nil
}

func (r *Replicator) goFunc(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// Stop pushes pending deltas (best effort, bounded by ctx), writes pending
// durable keys, stops serving and waits for every goroutine. It is
// idempotent.
func (r *Replicator) Stop(ctx context.Context) error { return r.halt(ctx, true) }

// Abort stops at once, as a crash would: nothing pending is pushed or
// written (durable keys acknowledged with write-behind may be lost).
func (r *Replicator) Abort() { _ = r.halt(context.Background(), false) }

func (r *Replicator) halt(ctx context.Context, graceful bool) error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.state != lifeRunning {
		r.state = lifeStopped
		return nil
	}
	r.state = lifeStopped
	var err error
	if graceful {
		r.flush()
		err = r.drain(ctx)
	}
	_ = r.ms.Handle(cluster.ProtocolCRDT, nil)
	r.cancel()
	r.closeConns()
	r.peersMu.Lock()
	for id, p := range r.peers {
		close(p.stop)
		delete(r.peers, id)
	}
	r.peersMu.Unlock()
	r.wg.Wait()
	r.mu.Lock()
	for id, c := range r.calls {
		close(c.ch)
		delete(r.calls, id)
	}
	for _, s := range r.subs {
		s.closeLocked()
	}
	r.mu.Unlock()
	if graceful {
		if perr := r.persistPending(); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	r.closeDurable()
	return err
}

// drain waits until the peers' queues are empty or ctx ends.
func (r *Replicator) drain(ctx context.Context) error {
	for {
		empty := true
		r.peersMu.Lock()
		for _, p := range r.peers {
			if len(p.q) > 0 {
				empty = false
			}
		}
		r.peersMu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Millisecond):
		}
	}
}

func (r *Replicator) running() bool {
	select {
	case <-r.ctx.Done():
		return false
	default:
		return r.st != nil
	}
}

// Stats returns the replicator's counters.
func (r *Replicator) Stats() Stats {
	s := Stats{
		BytesSent: r.stats.bytesSent.Load(), BytesReceived: r.stats.bytesReceived.Load(),
		FramesSent: r.stats.framesSent.Load(), Dropped: r.stats.dropped.Load(),
		SyncRounds: r.stats.syncRounds.Load(), Pruned: r.stats.pruned.Load(),
	}
	r.mu.Lock()
	if r.st != nil {
		s.Rejected = r.st.rejected
		s.Keys = len(r.st.entries)
		s.Replica = r.st.replica
	}
	r.mu.Unlock()
	return s
}

// refreshView reads the membership view. The event loop calls it on every
// membership event; requests whose consistency level is counted against
// the view, and pruning, call it too (see viewFor).
func (r *Replicator) refreshView() {
	r.viewMu.Lock()
	defer r.viewMu.Unlock()
	v := r.ms.View()
	self := r.ms.Self().ID
	vi := viewInfo{inView: make(map[string]bool, len(v.Members))}
	allUp := true
	var oldest cluster.Member
	for _, m := range v.Members {
		vi.members = append(vi.members, m.ID)
		vi.inView[m.ID] = true
		if m.Status != cluster.Up {
			allUp = false
			continue
		}
		if m.ID != self {
			vi.up = append(vi.up, m.ID)
		}
		if oldest.ID == "" || m.Started.Before(oldest.Started) || (m.Started.Equal(oldest.Started) && m.ID < oldest.ID) {
			oldest = m
		}
	}
	vi.oldest = oldest.ID
	vi.owner = allUp && v.Self == cluster.Serving && oldest.ID == self
	r.mu.Lock()
	r.view = vi
	r.mu.Unlock()
	r.peersMu.Lock()
	for id, p := range r.peers {
		if !vi.inView[id] {
			close(p.stop)
			delete(r.peers, id)
		}
	}
	r.peersMu.Unlock()
}

// viewFor brings the view up to date before a request with consistency c
// counts replicas against it. The event loop handles membership events on
// its own goroutine, so the view it keeps can lag the membership's: right
// after a member joined, with the membership serving and every member Up,
// its view may still hold only itself. Counted against that view, All
// needs no acknowledgement and reaches nobody (its delta is pushed to the
// Up peers the view holds: none), and a member that then leaves takes the
// write with it. Local requests count nothing and skip the refresh.
func (r *Replicator) viewFor(c Consistency) {
	if c.level != levelLocal {
		r.refreshView()
	}
}

// eventLoop follows membership events.
func (r *Replicator) eventLoop(events <-chan cluster.MemberEvent, cancel func()) {
	defer cancel()
	for {
		select {
		case <-r.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			r.refreshView()
			switch ev.Kind {
			case cluster.Left:
				r.mu.Lock()
				r.st.left[ev.Member.ID] = true
				r.mu.Unlock()
			case cluster.SelfChanged:
				if ev.Self == cluster.Downed {
					// The others remove this member and will prune its
					// replica: from now on it acts as a new one.
					r.mu.Lock()
					r.st.bumpIncarnation()
					r.mu.Unlock()
					r.log.Info("crdt: downed; new replica incarnation", zap.String("replica", r.Stats().Replica))
				}
			case cluster.Joined, cluster.MemberReachable:
				// Full state to a joining (or returning) member: the
				// oldest other member starts an anti-entropy round with
				// it at once.
				r.mu.Lock()
				first := r.firstOther(ev.Member.ID)
				r.mu.Unlock()
				if first {
					r.requestSync(ev.Member.ID)
				}
			}
		}
	}
}

// firstOther reports whether this member is the oldest Up member other
// than id. r.mu held.
func (r *Replicator) firstOther(id string) bool {
	v := r.ms.View()
	var best cluster.Member
	for _, m := range v.Members {
		if m.ID == id || m.Status != cluster.Up {
			continue
		}
		if best.ID == "" || m.Started.Before(best.Started) || (m.Started.Equal(best.Started) && m.ID < best.ID) {
			best = m
		}
	}
	return best.ID == r.st.self
}

func (r *Replicator) requestSync(id string) {
	select {
	case r.sync <- id:
	default:
	}
}

// wake tells the flush loop that something is pending.
func (r *Replicator) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// flushLoop pushes pending deltas and change notifications one
// BatchWindow after the first change, and writes durable keys behind.
func (r *Replicator) flushLoop() {
	var timer *time.Timer
	var tc <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.kick:
			if tc == nil {
				if r.cfg.BatchWindow <= 0 {
					r.flush()
					continue
				}
				timer = time.NewTimer(r.cfg.BatchWindow)
				tc = timer.C
			}
		case <-tc:
			tc = nil
			if r.flush() {
				timer.Reset(r.cfg.BatchWindow)
				tc = timer.C
			}
		}
	}
}

// flush pushes pending deltas to every Up peer, notifies subscribers and
// writes durable keys behind. It returns true when some notification could
// not be delivered (to retry).
func (r *Replicator) flush() bool {
	r.mu.Lock()
	if r.st == nil {
		r.mu.Unlock()
		return false
	}
	entries := r.st.takePending()
	up := slices.Clone(r.view.up)
	replica := r.st.replica
	retry := r.notifyLocked()
	r.mu.Unlock()
	if len(entries) > 0 {
		r.broadcast(up, protos.CRDTFrame_DELTAS, replica, entries)
	}
	if r.db != nil && r.cfg.Durable.WriteBehind == 0 {
		if err := r.persistPending(); err != nil {
			r.log.Warn("crdt: writing durable keys failed", zap.Error(err))
		}
	}
	return retry
}

// broadcast sends entries to each of the members, in frames of at most
// frameChunk bytes.
func (r *Replicator) broadcast(to []string, t protos.CRDTFrame_Type, replica string, entries []*protos.CRDTEntry) {
	for _, f := range chunkFrames(t, replica, entries) {
		b, err := encodeFrame(f)
		if err != nil {
			r.log.Warn("crdt: encoding a frame failed", zap.Error(err))
			continue
		}
		for _, id := range to {
			r.sendTo(id, b)
		}
	}
}

func chunkFrames(t protos.CRDTFrame_Type, replica string, entries []*protos.CRDTEntry) []*protos.CRDTFrame {
	var out []*protos.CRDTFrame
	cur := &protos.CRDTFrame{Type: t, Replica: replica}
	size := 0
	for _, e := range entries {
		n := len(e.Data) + len(e.Key) + 16
		if size > 0 && size+n > frameChunk {
			out = append(out, cur)
			cur = &protos.CRDTFrame{Type: t, Replica: replica}
			size = 0
		}
		cur.Entries = append(cur.Entries, e)
		size += n
	}
	if len(cur.Entries) > 0 {
		out = append(out, cur)
	}
	return out
}

// send encodes and queues f for member id.
func (r *Replicator) send(id string, f *protos.CRDTFrame) {
	b, err := encodeFrame(f)
	if err != nil {
		r.log.Warn("crdt: encoding a frame failed", zap.Error(err))
		return
	}
	r.sendTo(id, b)
}

// sendTo queues an encoded frame for member id, starting its sender.
func (r *Replicator) sendTo(id string, b []byte) bool {
	r.peersMu.Lock()
	p := r.peers[id]
	if p == nil {
		if !r.running() {
			r.peersMu.Unlock()
			return false
		}
		p = &peer{id: id, q: make(chan []byte, sendQueue), stop: make(chan struct{})}
		r.peers[id] = p
		r.goFunc(func() { r.senderLoop(p) })
	}
	r.peersMu.Unlock()
	if !p.send(b) {
		r.stats.dropped.Add(1)
		return false
	}
	return true
}

// tickLoop runs anti-entropy rounds and pruning.
func (r *Replicator) tickLoop() {
	ae := time.NewTicker(r.cfg.AntiEntropyInterval)
	defer ae.Stop()
	pr := time.NewTicker(r.cfg.PruningInterval)
	defer pr.Stop()
	var wb <-chan time.Time
	if r.db != nil && r.cfg.Durable.WriteBehind > 0 {
		t := time.NewTicker(r.cfg.Durable.WriteBehind)
		defer t.Stop()
		wb = t.C
	}
	for {
		select {
		case <-r.ctx.Done():
			return
		case id := <-r.sync:
			r.startSync(id)
		case <-ae.C:
			r.mu.Lock()
			up := r.view.up
			var id string
			if len(up) > 0 {
				id = up[rand.IntN(len(up))]
			}
			r.mu.Unlock()
			if id != "" {
				r.startSync(id)
			}
		case <-pr.C:
			r.pruneTick()
		case <-wb:
			if err := r.persistPending(); err != nil {
				r.log.Warn("crdt: writing durable keys failed", zap.Error(err))
			}
		}
	}
}

// startSync opens an anti-entropy round with member id: it sends the
// root digest (a few bytes); the rest happens only where roots differ.
func (r *Replicator) startSync(id string) {
	r.mu.Lock()
	r.st.refresh()
	f := &protos.CRDTFrame{Type: protos.CRDTFrame_SYNC, Replica: r.st.replica, Root: r.st.root()}
	r.mu.Unlock()
	r.stats.syncRounds.Add(1)
	r.send(id, f)
}

// pruneTick expires keys and advances pruning, on the current view (the
// owner must wait for every member of it to join a marker).
func (r *Replicator) pruneTick() {
	r.refreshView()
	now := r.now()
	r.mu.Lock()
	r.st.expire(now)
	n := r.st.prune(pruneView{members: r.view.members, owner: r.view.owner}, now)
	r.mu.Unlock()
	if n > 0 {
		r.stats.pruned.Add(uint64(n))
	}
	r.wake()
}

// receive handles a frame from member from.
func (r *Replicator) receive(from string, f *protos.CRDTFrame) {
	r.mu.Lock()
	if !r.view.inView[from] {
		r.mu.Unlock()
		r.stats.dropped.Add(1)
		return
	}
	if f.Replica != "" && memberOf(f.Replica) == from {
		r.st.peers[from] = f.Replica
	}
	replica := r.st.replica
	now := r.now()
	switch f.Type {
	case protos.CRDTFrame_DELTAS, protos.CRDTFrame_STATES:
		changed := r.applyLocked(from, f.Entries, now)
		r.mu.Unlock()
		if changed {
			r.wake()
		}
	case protos.CRDTFrame_WRITE:
		r.applyLocked(from, f.Entries, now)
		var errMsg string
		for _, w := range f.Entries {
			if e := r.st.entries[w.Key]; e != nil && e.val != nil && len(w.Data) > 0 {
				if k, err := KindOf(w.Data); err == nil && k != e.val.kind() {
					errMsg = fmt.Sprintf("key %q holds a %v on %s", w.Key, e.val.kind(), r.st.self)
				}
			}
		}
		r.mu.Unlock()
		r.wake()
		if r.db != nil {
			if err := r.persistPending(); err != nil {
				errMsg = "persisting: " + err.Error()
			}
		}
		r.send(from, &protos.CRDTFrame{Type: protos.CRDTFrame_WRITE_ACK, Id: f.Id, Replica: replica, Error: errMsg})
	case protos.CRDTFrame_READ:
		out := &protos.CRDTFrame{Type: protos.CRDTFrame_READ_REPLY, Id: f.Id, Replica: replica}
		if len(f.Keys) == 1 {
			if e := r.st.entries[f.Keys[0]]; e != nil {
				if w, err := r.st.wire(e); err == nil {
					out.Entries = append(out.Entries, w)
				}
			}
		}
		r.mu.Unlock()
		r.send(from, out)
	case protos.CRDTFrame_WRITE_ACK, protos.CRDTFrame_READ_REPLY:
		c := r.calls[f.Id]
		r.mu.Unlock()
		if c != nil {
			select {
			case c.ch <- reply{from: from, f: f}:
			default:
			}
		}
	case protos.CRDTFrame_SYNC:
		r.st.refresh()
		if r.st.root() == f.Root {
			r.mu.Unlock()
			return
		}
		out := &protos.CRDTFrame{Type: protos.CRDTFrame_SYNC_BUCKETS, Replica: replica, Buckets: slices.Clone(r.st.buckets[:])}
		r.mu.Unlock()
		r.send(from, out)
	case protos.CRDTFrame_SYNC_BUCKETS:
		if len(f.Buckets) != numBuckets {
			r.mu.Unlock()
			return
		}
		r.st.refresh()
		var diff []uint32
		for i, b := range f.Buckets {
			if r.st.buckets[i] != b {
				diff = append(diff, uint32(i))
			}
		}
		if len(diff) == 0 {
			r.mu.Unlock()
			return
		}
		out := &protos.CRDTFrame{Type: protos.CRDTFrame_SYNC_KEYS, Replica: replica, BucketIds: diff, Digests: r.st.keyDigests(diff)}
		r.mu.Unlock()
		r.send(from, out)
	case protos.CRDTFrame_SYNC_KEYS:
		r.st.refresh()
		send, want := r.st.compare(f.BucketIds, f.Digests)
		entries := make([]*protos.CRDTEntry, 0, len(send))
		for _, e := range send {
			if w, err := r.st.wire(e); err == nil {
				entries = append(entries, w)
			}
		}
		r.mu.Unlock()
		r.broadcast([]string{from}, protos.CRDTFrame_STATES, replica, entries)
		if len(want) > 0 {
			r.send(from, &protos.CRDTFrame{Type: protos.CRDTFrame_SYNC_REQUEST, Replica: replica, Keys: want})
		}
	case protos.CRDTFrame_SYNC_REQUEST:
		var entries []*protos.CRDTEntry
		for _, k := range f.Keys {
			if e := r.st.entries[k]; e != nil {
				if w, err := r.st.wire(e); err == nil {
					entries = append(entries, w)
				}
			}
		}
		r.mu.Unlock()
		r.broadcast([]string{from}, protos.CRDTFrame_STATES, replica, entries)
	default:
		r.mu.Unlock()
	}
}

// applyLocked merges received envelopes; true if any changed. r.mu held.
func (r *Replicator) applyLocked(from string, ws []*protos.CRDTEntry, now time.Time) bool {
	changed := false
	for _, w := range ws {
		ok, err := r.st.apply(w, now)
		if err != nil {
			r.log.Warn("crdt: refused a replica", zap.String("peer", from), zap.String("key", w.Key), zap.Error(err))
		}
		changed = changed || ok
	}
	return changed
}

// required returns the view size N and the Up peers.
func (r *Replicator) peersLocked() (n int, up []string) {
	return len(r.view.members), slices.Clone(r.view.up)
}

// withTimeout bounds ctx by DefaultTimeout when it has no deadline.
func (r *Replicator) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.cfg.DefaultTimeout)
}

// newCall registers a request. r.mu held.
func (r *Replicator) newCallLocked(n int) (uint64, *call) {
	r.nextID++
	c := &call{ch: make(chan reply, n+1)}
	r.calls[r.nextID] = c
	return r.nextID, c
}

func (r *Replicator) endCall(id uint64) {
	r.mu.Lock()
	delete(r.calls, id)
	r.mu.Unlock()
}

// replicate sends w to the Up peers as a WRITE and waits until required
// replicas (this one included) hold it.
func (r *Replicator) replicate(ctx context.Context, key string, w *protos.CRDTEntry, c Consistency) error {
	r.mu.Lock()
	n, up := r.peersLocked()
	need := c.required(n)
	if need <= 1 {
		replica := r.st.replica
		r.mu.Unlock()
		if w != nil && len(up) > 0 {
			r.broadcast(up, protos.CRDTFrame_DELTAS, replica, []*protos.CRDTEntry{w})
		}
		return nil
	}
	id, cl := r.newCallLocked(len(up))
	replica := r.st.replica
	r.mu.Unlock()
	defer r.endCall(id)
	acks := 1
	incomplete := func(why string) error {
		return fmt.Errorf("%w: key %q: %d of %d replicas required by %v acknowledged (N=%d): %s; the write is applied on this member and may still spread", ErrWriteIncomplete, key, acks, need, c, n, why)
	}
	if need > 1+len(up) {
		if w != nil && len(up) > 0 {
			r.broadcast(up, protos.CRDTFrame_DELTAS, replica, []*protos.CRDTEntry{w})
		}
		return incomplete(fmt.Sprintf("only %d members are up", 1+len(up)))
	}
	f := &protos.CRDTFrame{Type: protos.CRDTFrame_WRITE, Id: id, Replica: replica, Entries: []*protos.CRDTEntry{w}}
	refused, left, pending := 0, 0, len(up) // pending: peers that may still acknowledge
	err := r.await(ctx, cl, up, f, func(rp reply) bool {
		pending--
		if rp.f.Error == "" {
			acks++
		} else {
			refused++
		}
		return acks >= need || acks+pending < need
	}, func(removed int) bool {
		n -= removed
		pending -= removed
		left += removed
		need = c.required(n)
		return acks >= need || acks+pending < need
	})
	switch {
	case acks >= need:
		return nil
	case err != nil:
		return incomplete(err.Error())
	}
	return incomplete(fmt.Sprintf("%d peers refused, %d left the view", refused, left))
}

// retryEvery is how often a request is sent again to the peers that have
// not answered it (a frame lost to a broken stream, say); merging is
// idempotent, so a duplicate is harmless.
const retryEvery = 200 * time.Millisecond

// await sends f to the peers and collects their answers with done until
// done returns true, ctx ends (its error) or the replicator stops
// (ErrStopped), sending f again to the peers that have not answered every
// retryEvery. A peer that has left the view by then (removed as dead,
// say: a member that has just joined may learn of one before its removal)
// will never answer: it is no longer waited for, and gone(k) is told how
// many such peers there were (the level is then counted among the
// remaining members); gone returning true ends the wait.
func (r *Replicator) await(ctx context.Context, cl *call, peers []string, f *protos.CRDTFrame, done func(reply) bool, gone func(removed int) bool) error {
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	b, err := encodeFrame(f)
	if err != nil {
		return err
	}
	waiting := make(map[string]bool, len(peers))
	for _, id := range peers {
		waiting[id] = true
		r.sendTo(id, b)
	}
	t := time.NewTicker(retryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			r.refreshView()
			removed := 0
			r.mu.Lock()
			for id := range waiting {
				if !r.view.inView[id] {
					delete(waiting, id)
					removed++
				}
			}
			r.mu.Unlock()
			if removed > 0 && (gone(removed) || len(waiting) == 0) {
				return nil
			}
			for id := range waiting {
				r.sendTo(id, b)
			}
		case rp, ok := <-cl.ch:
			if !ok {
				return ErrStopped
			}
			if !waiting[rp.from] {
				continue // a duplicate answer
			}
			delete(waiting, rp.from)
			if done(rp) || len(waiting) == 0 {
				return nil
			}
		}
	}
}

func (r *Replicator) broadcastFrame(to []string, f *protos.CRDTFrame) {
	b, err := encodeFrame(f)
	if err != nil {
		r.log.Warn("crdt: encoding a frame failed", zap.Error(err))
		return
	}
	for _, id := range to {
		r.sendTo(id, b)
	}
}

// readFrom asks the Up peers for key's state and merges their answers
// until required replicas (this one included) were consulted.
func (r *Replicator) readFrom(ctx context.Context, key string, c Consistency) error {
	r.mu.Lock()
	n, up := r.peersLocked()
	need := c.required(n)
	if need <= 1 {
		r.mu.Unlock()
		return nil
	}
	id, cl := r.newCallLocked(len(up))
	replica := r.st.replica
	r.mu.Unlock()
	defer r.endCall(id)
	got := 1
	incomplete := func(why string) error {
		return fmt.Errorf("%w: key %q: %d of %d replicas required by %v answered (N=%d): %s", ErrReadIncomplete, key, got, need, c, n, why)
	}
	if need > 1+len(up) {
		return incomplete(fmt.Sprintf("only %d members are up", 1+len(up)))
	}
	f := &protos.CRDTFrame{Type: protos.CRDTFrame_READ, Id: id, Replica: replica, Keys: []string{key}}
	err := r.await(ctx, cl, up, f, func(rp reply) bool {
		r.mu.Lock()
		r.applyLocked(rp.from, rp.f.Entries, r.now())
		r.mu.Unlock()
		got++
		return got >= need
	}, func(removed int) bool {
		n -= removed
		need = c.required(n)
		return got >= need
	})
	r.wake()
	if got >= need {
		return nil
	}
	if err == nil {
		err = errors.New("every member answered")
	}
	return incomplete(err.Error())
}

// Update applies modify to key's value on this member — an empty value
// from the key's constructor if the key is new — and replicates it with
// write consistency c. modify gets the value and the Op (replica id, clock,
// time) to apply operations with; it runs under the replicator's lock, so
// it must be quick and must not call the replicator. A modify that applies
// no operation changes nothing.
//
// With Local, Update returns once the change is applied here; its delta is
// pushed to every peer within Config.BatchWindow. With a higher level it
// also waits (within ctx, or Config.DefaultTimeout when ctx has no
// deadline) until that many replicas hold it; if they do not, the error
// wraps ErrWriteIncomplete: the change is applied here and may still
// spread. A durable key is on disk before Update returns (unless
// WriteBehind is set).
//
// Errors: ErrInvalidKey, ErrKeyType, ErrDeleted, ErrValueTooLarge (nothing
// changed), ErrConsistency, ErrStopped, ErrWriteIncomplete.
func Update[T CRDT[T]](ctx context.Context, r *Replicator, key Key[T], c Consistency, modify func(v T, op Op)) error {
	if err := key.check(); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	r.viewFor(c)
	r.mu.Lock()
	if !r.running() {
		r.mu.Unlock()
		return ErrStopped
	}
	if err := update(r.st, key, r.now(), modify); err != nil {
		r.mu.Unlock()
		return err
	}
	e := r.st.entries[key.id]
	var w *protos.CRDTEntry
	if c.required(len(r.view.members)) > 1 && e != nil {
		w = r.st.takeOne(e)
	}
	r.mu.Unlock()
	if err := r.persistSync(e); err != nil {
		return err
	}
	if w == nil {
		r.wake()
		return nil
	}
	return r.replicate(ctx, key.id, w, c)
}

// Get returns a copy of key's value after consulting the replicas read
// consistency c asks for (merging what they hold into this member's
// replica). A key that no replica consulted holds gives an empty value
// (from the key's constructor) and ErrNotFound.
//
// Errors: ErrInvalidKey, ErrKeyType, ErrDeleted, ErrConsistency,
// ErrStopped, ErrReadIncomplete (the returned value is the local replica,
// possibly stale), ErrNotFound.
func Get[T CRDT[T]](ctx context.Context, r *Replicator, key Key[T], c Consistency) (T, error) {
	var zero T
	if err := key.check(); err != nil {
		return zero, err
	}
	if err := c.check(); err != nil {
		return zero, err
	}
	r.viewFor(c)
	r.mu.Lock()
	if !r.running() {
		r.mu.Unlock()
		return zero, ErrStopped
	}
	_, _, err := lookup(r.st, key)
	r.mu.Unlock()
	if err != nil {
		return zero, err
	}
	rerr := r.readFrom(ctx, key.id, c)
	r.mu.Lock()
	v, ok, err := get(r.st, key, r.now())
	r.mu.Unlock()
	switch {
	case err != nil:
		return zero, err
	case rerr != nil:
		if !ok {
			v = key.mk()
		}
		return v, rerr
	case !ok:
		return key.mk(), fmt.Errorf("%w: %q", ErrNotFound, key.id)
	}
	return v, nil
}

// Delete tombstones key on every replica with write consistency c: its
// value is dropped, and the key can never be used again (Update and Get
// fail with ErrDeleted), as in Akka. The tombstone replicates like an
// update and counts in digests; it is kept for good.
func Delete[T CRDT[T]](ctx context.Context, r *Replicator, key Key[T], c Consistency) error {
	if err := key.check(); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	r.viewFor(c)
	r.mu.Lock()
	if !r.running() {
		r.mu.Unlock()
		return ErrStopped
	}
	if _, _, err := lookup(r.st, key); err != nil && !errors.Is(err, ErrDeleted) {
		r.mu.Unlock()
		return err
	}
	r.st.remove(key.id)
	e := r.st.entries[key.id]
	var w *protos.CRDTEntry
	if c.required(len(r.view.members)) > 1 {
		w = r.st.takeOne(e)
	}
	r.mu.Unlock()
	if err := r.persistSync(e); err != nil {
		return err
	}
	if w == nil {
		r.wake()
		return nil
	}
	return r.replicate(ctx, key.id, w, c)
}

// Keys returns the ids of the keys this member holds (not deleted) that
// match pattern (an id, or a prefix ending in '*'), sorted.
func (r *Replicator) Keys(pattern string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st == nil {
		return nil
	}
	var out []string
	for id, e := range r.st.entries {
		if !e.deleted && matchPattern(pattern, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
