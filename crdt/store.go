package crdt

import (
	"encoding/binary"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/foundation-go/foundation/internal/protos"
)

// store is the replicator's pure core: every key's envelope, the digests
// anti-entropy compares, pending deltas, pruning markers and the decisions
// of pruning and expiry. It runs no goroutines, does no I/O and reads no
// clock (time is an argument); the Replicator calls it under its lock.
type store struct {
	self    string // member id
	inc     int    // incarnation: bumped when this member is downed
	replica string // self, or self#inc
	cfg     *Config

	entries map[string]*entry
	buckets [numBuckets]uint64
	dirty   map[*entry]struct{} // digest to recompute
	pending map[*entry]struct{} // delta or full state to push
	changed map[string]struct{} // for subscribers
	persist map[*entry]struct{} // durable entries to write
	gone    map[string]struct{} // durable keys expired: to delete on disk
	clock   HLC

	// pruning bookkeeping (owner side)
	absent map[string]time.Time // replica id -> first seen absent from the view
	left   map[string]bool      // member ids that left gracefully
	peers  map[string]string    // member id -> its announced replica id

	rejected uint64
	scratch  []byte
}

// numBuckets is the number of digest buckets anti-entropy compares.
const numBuckets = 256

// cowLimit: values whose encoding is at most this large are updated on a
// copy (all or nothing); larger ones in place unless near MaxValueSize.
const cowLimit = 64 << 10

// entry is one key's envelope.
type entry struct {
	id       string
	kh       uint64 // hash of id
	val      value  // nil when deleted
	deleted  bool
	typ      reflect.Type // the Go type a Key bound; nil: raw
	pend     value        // deltas not yet pushed
	pendFull bool         // push the full state (markers changed)
	marks    map[string]*mark
	touched  int64 // Unix ms of the last access (expiring keys)
	ttl      time.Duration
	durable  bool
	dig      uint64
	digOK    bool
	size     int    // exact encoded size when last computed
	grow     int    // encoded delta bytes applied since
	ver      uint64 // counts changes (durable writes never go back)
}

// mark is a pruning marker of one removed replica in one key.
type mark struct {
	owner     string
	seen      map[string]bool
	performed bool
	expires   int64 // Unix ms
}

func newStore(self string, cfg *Config) *store {
	return &store{
		self: self, replica: self, cfg: cfg,
		entries: make(map[string]*entry),
		dirty:   make(map[*entry]struct{}),
		pending: make(map[*entry]struct{}),
		changed: make(map[string]struct{}),
		persist: make(map[*entry]struct{}),
		gone:    make(map[string]struct{}),
		absent:  make(map[string]time.Time),
		left:    make(map[string]bool),
		peers:   make(map[string]string),
	}
}

// replicaID returns member's replica id in incarnation inc.
func replicaID(member string, inc int) string {
	if inc == 0 {
		return member
	}
	return member + "#" + strconv.Itoa(inc)
}

// incarnation returns the incarnation of replica id r of member m.
func incarnation(r, m string) (int, bool) {
	if r == m {
		return 0, true
	}
	rest, ok := strings.CutPrefix(r, m+"#")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// memberOf returns the member id of replica id r.
func memberOf(r string) string {
	if i := strings.LastIndexByte(r, '#'); i > 0 {
		if _, ok := incarnation(r, r[:i]); ok {
			return r[:i]
		}
	}
	return r
}

// bumpIncarnation makes this member use a new replica id from now on.
func (s *store) bumpIncarnation() {
	s.inc++
	s.replica = replicaID(s.self, s.inc)
}

func (s *store) newEntry(id string) *entry {
	e := &entry{id: id, kh: xxhash.Sum64String(id)}
	for p, d := range s.cfg.Expire {
		if matchPattern(p, id) && (e.ttl == 0 || d < e.ttl) {
			e.ttl = d
		}
	}
	for _, p := range s.cfg.Durable.Keys {
		if matchPattern(p, id) {
			e.durable = true
		}
	}
	s.entries[id] = e
	return e
}

// touch marks e changed: its digest is stale, subscribers and (when
// durable) the disk are told.
func (s *store) touch(e *entry) {
	if e.digOK {
		s.buckets[e.kh>>56] ^= mix(e.kh, e.dig)
		e.digOK = false
	}
	e.ver++
	s.dirty[e] = struct{}{}
	s.changed[e.id] = struct{}{}
	if e.durable {
		s.persist[e] = struct{}{}
	}
}

func mix(kh, dig uint64) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], kh)
	binary.LittleEndian.PutUint64(b[8:], dig)
	return xxhash.Sum64(b[:])
}

// drop removes e (expired).
func (s *store) drop(e *entry) {
	if e.digOK {
		s.buckets[e.kh>>56] ^= mix(e.kh, e.dig)
	}
	delete(s.entries, e.id)
	delete(s.dirty, e)
	delete(s.pending, e)
	delete(s.persist, e)
	if e.durable {
		s.gone[e.id] = struct{}{}
	}
	s.changed[e.id] = struct{}{}
}

// bind returns e's value as a T, converting a raw value to T (ErrKeyType
// when it is another type).
func bind[T CRDT[T]](e *entry, k Key[T]) (*box[T], error) {
	var zero T
	want := reflect.TypeOf(zero)
	if e.typ == want {
		return e.val.(*box[T]), nil
	}
	if e.typ != nil {
		return nil, fmt.Errorf("%w: key %q holds a %v, used as a %v", ErrKeyType, e.id, e.typ, want)
	}
	if e.val.kind() != k.kind {
		return nil, fmt.Errorf("%w: key %q holds a %v, used as a %v (%v)", ErrKeyType, e.id, e.val.kind(), k.kind, want)
	}
	conv := func(v value) (*box[T], error) {
		b, err := v.appendBinary(nil)
		if err != nil {
			return nil, err
		}
		t := k.mk()
		if err := t.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("%w: key %q holds a %v that does not decode as a %v: %w", ErrKeyType, e.id, e.val.kind(), want, err)
		}
		return newBox(t, k.mk, k.kind), nil
	}
	v, err := conv(e.val)
	if err != nil {
		return nil, err
	}
	if e.pend != nil {
		p, err := conv(e.pend)
		if err != nil {
			return nil, err
		}
		e.pend = p
	}
	e.val, e.typ = v, want
	return v, nil
}

// lookup returns k's entry bound to T, or nil if absent.
func lookup[T CRDT[T]](s *store, k Key[T]) (*entry, *box[T], error) {
	e := s.entries[k.id]
	if e == nil {
		return nil, nil, nil
	}
	if e.deleted {
		return e, nil, fmt.Errorf("%w: %q", ErrDeleted, k.id)
	}
	b, err := bind(e, k)
	return e, b, err
}

// update applies modify to k's value as this replica at now.
func update[T CRDT[T]](s *store, k Key[T], now time.Time, modify func(T, Op)) error {
	e, b, err := lookup(s, k)
	if err != nil {
		return err
	}
	fresh := e == nil
	if fresh {
		b = newBox(k.mk(), k.mk, k.kind)
	}
	bound := 0
	if !fresh {
		bound = e.size + e.grow
	}
	max := s.cfg.MaxValueSize
	cow := bound <= cowLimit || bound > max/4
	target := b
	if cow && !fresh {
		target = b.clone().(*box[T])
	}
	modify(target.v, Op{Replica: s.replica, Clock: &s.clock, Now: now})
	d, ok := target.takeDelta()
	if !ok {
		return nil
	}
	s.scratch, err = d.appendBinary(s.scratch[:0])
	if err != nil {
		return fmt.Errorf("crdt: key %q: encoding the update: %w", k.id, err)
	}
	grow := bound + len(s.scratch)
	exact := -1
	if grow > max {
		s.scratch, err = target.appendBinary(s.scratch[:0])
		if err != nil {
			return fmt.Errorf("crdt: key %q: encoding the value: %w", k.id, err)
		}
		exact = len(s.scratch)
		if exact > max && cow {
			return fmt.Errorf("%w: key %q would encode to %d bytes, more than MaxValueSize %d", ErrValueTooLarge, k.id, exact, max)
		}
	}
	if fresh {
		e = s.newEntry(k.id)
		var zero T
		e.typ = reflect.TypeOf(zero)
	}
	e.val = target
	if exact >= 0 {
		e.size, e.grow = exact, 0
	} else {
		e.grow = grow - e.size
	}
	if e.pend == nil {
		e.pend = d
	} else {
		e.pend.merge(d)
	}
	if e.ttl > 0 {
		e.touched = now.UnixMilli()
	}
	s.pending[e] = struct{}{}
	s.touch(e)
	return nil
}

// get returns a copy of k's value, ok false when absent.
func get[T CRDT[T]](s *store, k Key[T], now time.Time) (T, bool, error) {
	var zero T
	e, b, err := lookup(s, k)
	if err != nil || e == nil {
		return zero, false, err
	}
	s.access(e, now)
	return b.v.Clone(), true, nil
}

// access records a read of an expiring key (at most once per tenth of its
// timeout, so that reads do not churn digests).
func (s *store) access(e *entry, now time.Time) {
	if e.ttl > 0 && now.UnixMilli()-e.touched > e.ttl.Milliseconds()/10 {
		e.touched = now.UnixMilli()
		s.touch(e)
	}
}

// remove tombstones key id.
func (s *store) remove(id string) {
	e := s.entries[id]
	if e == nil {
		e = s.newEntry(id)
	}
	if e.deleted {
		return
	}
	e.deleted, e.val, e.pend, e.marks, e.typ = true, nil, nil, nil, nil
	e.pendFull = true
	s.pending[e] = struct{}{}
	s.touch(e)
}

// expired reports whether an access at touched (ms) is older than ttl.
func expired(touched int64, ttl time.Duration, now time.Time) bool {
	return ttl > 0 && touched > 0 && now.UnixMilli()-touched > ttl.Milliseconds()
}

// apply merges a received envelope (a state or a delta). It returns false
// and an error for an envelope it refused (a key of another type, a
// malformed value): nothing is changed then.
func (s *store) apply(w *protos.CRDTEntry, now time.Time) (bool, error) {
	if err := checkKeyID(w.Key); err != nil {
		return false, err
	}
	e := s.entries[w.Key]
	if e != nil && e.deleted {
		return false, nil
	}
	if w.Deleted {
		s.remove(w.Key)
		s.entries[w.Key].pendFull = false
		delete(s.pending, s.entries[w.Key])
		return true, nil
	}
	var in value
	if len(w.Data) > 0 {
		var err error
		if e != nil && e.val != nil {
			in, err = e.val.decode(w.Data)
			if err != nil {
				if k, kerr := KindOf(w.Data); kerr == nil && k != e.val.kind() {
					err = fmt.Errorf("%w: key %q holds a %v here, a peer sent a %v", ErrKeyType, w.Key, e.val.kind(), k)
				}
			}
		} else {
			in, err = decodeRaw(w.Data)
		}
		if err != nil {
			s.rejected++
			return false, err
		}
	}
	marks, err := decodeMarks(w.Pruning)
	if err != nil {
		s.rejected++
		return false, err
	}
	if e == nil {
		if in == nil || expired(w.Touched, s.ttlFor(w.Key), now) {
			return false, nil
		}
		e = s.newEntry(w.Key)
	} else if expired(w.Touched, e.ttl, now) && w.Touched <= e.touched {
		return false, nil
	}
	for r, m := range marks {
		if (m.performed && m.expires <= now.UnixMilli()) || (!m.performed && w.Delta) {
			continue
		}
		old := e.marks[r]
		nm := mergeMark(old, m)
		if nm.performed && (old == nil || !old.performed) {
			if e.val != nil {
				e.val.pruneCleanup(r)
			}
			if e.pend != nil {
				e.pend.pruneCleanup(r)
			}
		}
		if e.marks == nil {
			e.marks = make(map[string]*mark)
		}
		e.marks[r] = nm
	}
	if in != nil {
		for r, m := range e.marks {
			if m.performed {
				in.pruneCleanup(r)
			}
		}
		if e.val == nil {
			e.val = in.empty()
		}
		e.val.merge(in)
		e.grow += len(w.Data)
	}
	for _, m := range e.marks {
		if !m.performed && !m.seen[s.self] {
			m.seen[s.self] = true
			e.pendFull = true
			s.pending[e] = struct{}{}
		}
	}
	if w.Touched > e.touched {
		e.touched = w.Touched
	}
	s.touch(e)
	return true, nil
}

func (s *store) ttlFor(id string) time.Duration {
	var ttl time.Duration
	for p, d := range s.cfg.Expire {
		if matchPattern(p, id) && (ttl == 0 || d < ttl) {
			ttl = d
		}
	}
	return ttl
}

func mergeMark(a, b *mark) *mark {
	switch {
	case a == nil:
		return b.clone()
	case a.performed && b.performed:
		if b.expires > a.expires {
			a.expires = b.expires
		}
		return a
	case a.performed:
		return a
	case b.performed:
		return b.clone()
	case a.owner == b.owner:
		for m := range b.seen {
			a.seen[m] = true
		}
		return a
	case b.owner < a.owner:
		return b.clone()
	}
	return a
}

func (m *mark) clone() *mark {
	c := *m
	c.seen = maps.Clone(m.seen)
	if c.seen == nil {
		c.seen = make(map[string]bool)
	}
	return &c
}

func decodeMarks(ps []*protos.CRDTPruning) (map[string]*mark, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make(map[string]*mark, len(ps))
	for _, p := range ps {
		if p.Removed == "" || p.Owner == "" {
			return nil, fmt.Errorf("%w: a pruning marker without removed replica or owner", ErrMalformed)
		}
		m := &mark{owner: p.Owner, performed: p.Performed, expires: p.Expires, seen: make(map[string]bool, len(p.Seen))}
		for _, x := range p.Seen {
			m.seen[x] = true
		}
		out[p.Removed] = m
	}
	return out, nil
}

func encodeMarks(ms map[string]*mark) []*protos.CRDTPruning {
	if len(ms) == 0 {
		return nil
	}
	out := make([]*protos.CRDTPruning, 0, len(ms))
	for _, r := range slices.Sorted(maps.Keys(ms)) {
		m := ms[r]
		p := &protos.CRDTPruning{Removed: r, Owner: m.owner, Performed: m.performed, Expires: m.expires}
		if !m.performed {
			p.Seen = slices.Sorted(maps.Keys(m.seen))
		}
		out = append(out, p)
	}
	return out
}

// performedMarks encodes only the performed markers: deltas carry those
// (a receiver cleans up before merging what the owner produced after
// pruning), never the seen sets of markers in progress, which travel only
// with the full states they vouch for.
func performedMarks(ms map[string]*mark) []*protos.CRDTPruning {
	var out []*protos.CRDTPruning
	for _, r := range slices.Sorted(maps.Keys(ms)) {
		if m := ms[r]; m.performed {
			out = append(out, &protos.CRDTPruning{Removed: r, Owner: m.owner, Performed: true, Expires: m.expires})
		}
	}
	return out
}

// wire returns e's envelope with its full state.
func (s *store) wire(e *entry) (*protos.CRDTEntry, error) {
	w := &protos.CRDTEntry{Key: e.id, Deleted: e.deleted, Touched: e.touched, Pruning: encodeMarks(e.marks)}
	if e.val != nil {
		b, err := e.val.appendBinary(nil)
		if err != nil {
			return nil, err
		}
		w.Data = b
		e.size, e.grow = len(b), 0
	}
	return w, nil
}

// takePending returns the envelopes to push: each pending key's delta (or
// full state), and forgets them.
func (s *store) takePending() []*protos.CRDTEntry {
	if len(s.pending) == 0 {
		return nil
	}
	out := make([]*protos.CRDTEntry, 0, len(s.pending))
	for e := range s.pending {
		if w := s.takeOne(e); w != nil {
			out = append(out, w)
		}
	}
	clear(s.pending)
	return out
}

// takeOne returns e's pending delta (or full state) and clears it; nil if
// there is nothing to push.
func (s *store) takeOne(e *entry) *protos.CRDTEntry {
	delete(s.pending, e)
	if e.pendFull || e.deleted {
		e.pendFull, e.pend = false, nil
		w, err := s.wire(e)
		if err != nil {
			s.cfg.Logger.Warn("crdt: encoding a value failed")
			return nil
		}
		return w
	}
	if e.pend == nil {
		return nil
	}
	b, err := e.pend.appendBinary(nil)
	e.pend = nil
	if err != nil {
		return nil
	}
	return &protos.CRDTEntry{Key: e.id, Data: b, Delta: true, Touched: e.touched, Pruning: performedMarks(e.marks)}
}

// refresh recomputes stale digests.
func (s *store) refresh() {
	for e := range s.dirty {
		e.dig = s.digest(e)
		e.digOK = true
		s.buckets[e.kh>>56] ^= mix(e.kh, e.dig)
	}
	clear(s.dirty)
}

// digest hashes e's envelope: its value's canonical encoding, tombstone,
// markers and access time.
func (s *store) digest(e *entry) uint64 {
	b := s.scratch[:0]
	if e.deleted {
		b = append(b, 0xff)
	} else if e.val != nil {
		var err error
		b, err = e.val.appendBinary(b)
		if err != nil {
			b = append(b[:0], 0xfe)
		}
		e.size, e.grow = len(b), 0
	}
	for _, r := range slices.Sorted(maps.Keys(e.marks)) {
		m := e.marks[r]
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
		b = binary.AppendUvarint(b, uint64(len(m.owner)))
		b = append(b, m.owner...)
		if m.performed {
			b = append(b, 1)
			b = binary.AppendVarint(b, m.expires)
		} else {
			b = append(b, 0)
			for _, x := range slices.Sorted(maps.Keys(m.seen)) {
				b = binary.AppendUvarint(b, uint64(len(x)))
				b = append(b, x...)
			}
		}
	}
	b = binary.AppendVarint(b, e.touched)
	s.scratch = b
	return xxhash.Sum64(b)
}

// root returns the digest of every key (after refresh).
func (s *store) root() uint64 {
	var b [numBuckets * 8]byte
	for i, x := range s.buckets {
		binary.LittleEndian.PutUint64(b[i*8:], x)
	}
	return xxhash.Sum64(b[:])
}

// keyDigests lists the keys in the given buckets with their digests.
func (s *store) keyDigests(bucketIDs []uint32) []*protos.CRDTKeyDigest {
	want := make(map[uint32]bool, len(bucketIDs))
	for _, b := range bucketIDs {
		want[b] = true
	}
	var out []*protos.CRDTKeyDigest
	for _, e := range s.entries {
		if want[uint32(e.kh>>56)] && e.digOK {
			out = append(out, &protos.CRDTKeyDigest{Key: e.id, Digest: e.dig})
		}
	}
	return out
}

// compare answers a peer's key digests of bucketIDs: the envelopes of the
// keys this store holds that differ (or the peer lacks), and the keys the
// peer holds that differ here (or this store lacks).
func (s *store) compare(bucketIDs []uint32, theirs []*protos.CRDTKeyDigest) (send []*entry, want []string) {
	have := make(map[string]uint64, len(theirs))
	for _, d := range theirs {
		have[d.Key] = d.Digest
		e := s.entries[d.Key]
		if e == nil || !e.digOK || e.dig != d.Digest {
			want = append(want, d.Key)
		}
	}
	in := make(map[uint32]bool, len(bucketIDs))
	for _, b := range bucketIDs {
		in[b] = true
	}
	for _, e := range s.entries {
		if !in[uint32(e.kh>>56)] || !e.digOK {
			continue
		}
		if d, ok := have[e.id]; !ok || d != e.dig {
			send = append(send, e)
		}
	}
	return send, want
}

// expire drops the keys not accessed within their timeouts, and performed
// pruning markers past their time.
func (s *store) expire(now time.Time) {
	ms := now.UnixMilli()
	for _, e := range s.entries {
		if !e.deleted && expired(e.touched, e.ttl, now) {
			s.drop(e)
			continue
		}
		for r, m := range e.marks {
			if m.performed && m.expires <= ms {
				delete(e.marks, r)
				s.touch(e)
			}
		}
	}
}

// pruneView is what pruning needs of the membership view.
type pruneView struct {
	members []string // member ids in the view, self included
	owner   bool     // this member prunes (the oldest member, serving)
}

// dead returns the replica ids found in values that belong to no member
// of the view any more: older incarnations of current members, members
// that left, and members absent for PruneAfter.
func (s *store) dead(v pruneView, now time.Time) map[string]bool {
	inView := make(map[string]bool, len(v.members))
	for _, m := range v.members {
		inView[m] = true
	}
	current := func(m string) (string, bool) {
		if m == s.self {
			return s.replica, true
		}
		r, ok := s.peers[m]
		return r, ok
	}
	seen := make(map[string]bool)
	out := make(map[string]bool)
	for _, e := range s.entries {
		if e.val == nil {
			continue
		}
		e.val.replicas(func(r string) {
			if seen[r] {
				return
			}
			seen[r] = true
			m := memberOf(r)
			if inView[m] {
				cur, ok := current(m)
				if !ok || cur == r {
					return
				}
				ci, _ := incarnation(cur, m)
				ri, _ := incarnation(r, m)
				if ri < ci {
					out[r] = true
				}
				return
			}
			if s.left[m] {
				out[r] = true
				return
			}
			since, ok := s.absent[r]
			if !ok {
				s.absent[r] = now
				return
			}
			if now.Sub(since) >= s.cfg.PruneAfter {
				out[r] = true
			}
		})
	}
	for r := range s.absent {
		if !seen[r] || inView[memberOf(r)] {
			delete(s.absent, r)
		}
	}
	return out
}

// prune advances pruning: drops markers of owners gone from the view; the
// owner starts markers for dead replicas that values name, and prunes a
// key once every member of its view has seen the key's marker. It returns
// the keys pruned.
func (s *store) prune(v pruneView, now time.Time) int {
	inView := make(map[string]bool, len(v.members))
	for _, m := range v.members {
		inView[m] = true
	}
	var dead map[string]bool
	if v.owner {
		dead = s.dead(v, now)
	}
	pruned := 0
	for _, e := range s.entries {
		if e.val == nil {
			continue
		}
		changed := false
		for r, m := range e.marks {
			if !m.performed && (!inView[m.owner] || (m.owner == s.self && !dead[r])) {
				delete(e.marks, r)
				changed = true
			}
		}
		for r := range dead {
			if e.marks[r] == nil && e.val.needsPruning(r) {
				if e.marks == nil {
					e.marks = make(map[string]*mark)
				}
				e.marks[r] = &mark{owner: s.self, seen: map[string]bool{s.self: true}}
				changed = true
			}
		}
		for r, m := range e.marks {
			if m.performed || m.owner != s.self || !dead[r] {
				continue
			}
			all := true
			for _, id := range v.members {
				if !m.seen[id] {
					all = false
					break
				}
			}
			if !all {
				continue
			}
			e.val.prune(s.replica, r)
			if d, ok := e.val.takeDelta(); ok {
				if e.pend == nil {
					e.pend = d
				} else {
					e.pend.merge(d)
				}
			}
			if e.pend != nil {
				e.pend.pruneCleanup(r)
			}
			e.marks[r] = &mark{owner: s.self, performed: true, expires: now.Add(s.cfg.PruningMarkerTTL).UnixMilli()}
			changed = true
			pruned++
		}
		if changed {
			e.pendFull = true
			s.pending[e] = struct{}{}
			s.touch(e)
		}
	}
	return pruned
}
