package crdt

import (
	"fmt"
	"iter"
)

// ORMultiMap maps keys to add-wins sets of elements: one ORSet per key,
// all sharing one causal context (Almeida et al.'s nested dot map). Put
// adds an element to a key's set, Remove removes one, RemoveKey removes
// every element of a key it has seen; a key is present while its set is
// not empty. A Put concurrent with a Remove or RemoveKey wins.
//
// Deltas carry only the (key, element) pairs an operation touched, so a
// Put to a key with many elements has a delta of a few bytes. They need no
// causal delivery. Prune re-adds, with a dot of the owner, the pairs only
// the removed replica's adds kept.
//
// The zero ORMultiMap is empty and usable, but cannot be encoded or decoded
// (ErrNoCodec): create it with NewORMultiMap.
type ORMultiMap[K, E comparable] struct {
	keys    Codec[K]
	elems   Codec[E]
	m       map[K]dotMap[E]
	ctx     causal
	isDelta bool
	delta   *ORMultiMap[K, E]
}

// NewORMultiMap returns an empty multimap whose keys encode with keys and
// elements with elems.
func NewORMultiMap[K, E comparable](keys Codec[K], elems Codec[E]) *ORMultiMap[K, E] {
	return &ORMultiMap[K, E]{keys: keys, elems: elems}
}

func (m *ORMultiMap[K, E]) pending() *ORMultiMap[K, E] {
	if m.delta == nil {
		m.delta = &ORMultiMap[K, E]{keys: m.keys, elems: m.elems, isDelta: true}
	}
	return m.delta
}

// record joins into m (a pending delta) the operation on (k, e) that
// superseded the dots old and, if add is not nil, added *add.
func (m *ORMultiMap[K, E]) record(k K, e E, old []dot, add *dot) {
	if m.m == nil {
		m.m = make(map[K]dotMap[E])
	}
	inner := m.m[k]
	inner.record(&m.ctx, e, old, add)
	m.m[k] = inner
}

// Put adds e to k's set as replica.
func (m *ORMultiMap[K, E]) Put(replica string, k K, e E) {
	if m.m == nil {
		m.m = make(map[K]dotMap[E])
	}
	inner := m.m[k]
	if inner == nil {
		inner = make(dotMap[E])
		m.m[k] = inner
	}
	d := m.ctx.next(replica)
	old := inner[e]
	m.pending().record(k, e, old, &d)
	m.ctx.add(d)
	inner[e] = append(old[:0], d)
}

// Remove removes e from k's set (the adds of it this replica has seen).
func (m *ORMultiMap[K, E]) Remove(replica string, k K, e E) {
	inner := m.m[k]
	old, ok := inner[e]
	if !ok {
		return
	}
	m.pending().record(k, e, old, nil)
	delete(inner, e)
	if len(inner) == 0 {
		delete(m.m, k)
	}
}

// RemoveKey removes every element of k's set this replica has seen.
func (m *ORMultiMap[K, E]) RemoveKey(replica string, k K) {
	inner, ok := m.m[k]
	if !ok {
		return
	}
	p := m.pending()
	for e, old := range inner {
		p.record(k, e, old, nil)
	}
	delete(m.m, k)
}

// Contains reports whether e is in k's set.
func (m *ORMultiMap[K, E]) Contains(k K, e E) bool { return len(m.m[k][e]) > 0 }

// ContainsKey reports whether k's set has elements.
func (m *ORMultiMap[K, E]) ContainsKey(k K) bool { return m.m[k].live(m.isDelta) > 0 }

// Get yields the elements of k's set in no particular order.
func (m *ORMultiMap[K, E]) Get(k K) iter.Seq[E] {
	return func(yield func(E) bool) {
		for e, ds := range m.m[k] {
			if len(ds) > 0 && !yield(e) {
				return
			}
		}
	}
}

// Keys yields the keys with elements in no particular order.
func (m *ORMultiMap[K, E]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) {
		for k, inner := range m.m {
			if inner.live(m.isDelta) > 0 && !yield(k) {
				return
			}
		}
	}
}

// Len returns the number of keys with elements.
func (m *ORMultiMap[K, E]) Len() int {
	if !m.isDelta {
		return len(m.m)
	}
	n := 0
	for _, inner := range m.m {
		if inner.live(true) > 0 {
			n++
		}
	}
	return n
}

// Merge joins other into m.
func (m *ORMultiMap[K, E]) Merge(other *ORMultiMap[K, E]) {
	if other == nil || other == m {
		return
	}
	keepEmpty := m.isDelta && other.isDelta
	if m.m == nil && len(other.m) > 0 {
		m.m = make(map[K]dotMap[E], len(other.m))
	}
	if !other.isDelta {
		for k, inner := range m.m {
			if _, ok := other.m[k]; ok {
				continue
			}
			inner.join(&m.ctx, nil, &other.ctx, true, keepEmpty)
			if len(inner) == 0 {
				delete(m.m, k)
			}
		}
	}
	for k, oi := range other.m {
		inner := m.m[k]
		inner.join(&m.ctx, oi, &other.ctx, !other.isDelta, keepEmpty)
		if len(inner) == 0 {
			delete(m.m, k)
		} else {
			m.m[k] = inner
		}
	}
	m.ctx.union(&other.ctx)
	if m.isDelta && !keepEmpty {
		for k, inner := range m.m {
			if inner.dropEmpty(); len(inner) == 0 {
				delete(m.m, k)
			}
		}
	}
	m.isDelta = keepEmpty
}

// HasDelta reports whether m changed since the last TakeDelta.
func (m *ORMultiMap[K, E]) HasDelta() bool { return m.delta != nil }

// TakeDelta returns the join of the deltas of the operations since the last
// TakeDelta.
func (m *ORMultiMap[K, E]) TakeDelta() (*ORMultiMap[K, E], bool) {
	d := m.delta
	m.delta = nil
	return d, d != nil
}

// Clone returns a copy of m without its pending delta.
func (m *ORMultiMap[K, E]) Clone() *ORMultiMap[K, E] {
	c := &ORMultiMap[K, E]{keys: m.keys, elems: m.elems, ctx: m.ctx.clone(), isDelta: m.isDelta}
	if m.m != nil {
		c.m = make(map[K]dotMap[E], len(m.m))
		for k, inner := range m.m {
			c.m[k] = inner.clone()
		}
	}
	return c
}

// NeedsPruning reports whether removed has dots in m.
func (m *ORMultiMap[K, E]) NeedsPruning(removed string) bool { return m.ctx.hasReplica(removed) }

// Prune re-adds as owner's the pairs only removed's adds keep and forgets
// removed's dots.
func (m *ORMultiMap[K, E]) Prune(owner, removed string) {
	if owner == removed || !m.ctx.hasReplica(removed) {
		return
	}
	if m.delta != nil {
		m.delta.cleanup(removed)
	}
	for k, inner := range m.m {
		var pm dotMap[E]
		var pc causal
		inner.prune(&m.ctx, &pm, &pc, owner, removed)
		for e, ds := range pm {
			p := m.pending()
			p.record(k, e, nil, &ds[0])
		}
	}
	m.ctx.drop(removed)
}

// PruneCleanup forgets removed's dots.
func (m *ORMultiMap[K, E]) PruneCleanup(removed string) {
	m.cleanup(removed)
	if m.delta != nil {
		m.delta.cleanup(removed)
	}
}

func (m *ORMultiMap[K, E]) cleanup(removed string) {
	if !m.ctx.hasReplica(removed) {
		return
	}
	for k, inner := range m.m {
		if inner.cleanup(removed, m.isDelta); len(inner) == 0 {
			delete(m.m, k)
		}
	}
	m.ctx.drop(removed)
}

// AppendBinary appends m's encoding: the header (flags 1 for a delta), the
// causal context, then the number of keys and for each, sorted by
// encoding, its length and encoding and its set's elements as in an ORSet.
func (m *ORMultiMap[K, E]) AppendBinary(b []byte) ([]byte, error) {
	if !m.keys.ok() || !m.elems.ok() {
		return b, fmt.Errorf("%w: ORMultiMap has no key or element codec; create it with NewORMultiMap", ErrNoCodec)
	}
	b = appendHeader(b, KindORMultiMap, deltaFlag(m.isDelta))
	b, idx := appendContext(b, &m.ctx)
	var enc encoded
	keys := make([]K, 0, len(m.m))
	for k := range m.m {
		keys = append(keys, k)
		enc.add(func(b []byte) []byte { return m.keys.Append(b, k) })
	}
	b = appendUvarint(b, len(keys))
	for _, i := range enc.order() {
		b = appendBytes(b, enc.bytes(i))
		b = m.m[keys[i]].appendTo(b, m.elems, idx)
	}
	return b, nil
}

// MarshalBinary returns m's encoding.
func (m *ORMultiMap[K, E]) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary replaces m with the ORMultiMap encoded in data.
func (m *ORMultiMap[K, E]) UnmarshalBinary(data []byte) error {
	if !m.keys.ok() || !m.elems.ok() {
		return fmt.Errorf("%w: ORMultiMap has no key or element codec; create it with NewORMultiMap", ErrNoCodec)
	}
	d, flags := newDecoder(data, KindORMultiMap, flagDelta)
	isDelta := flags&flagDelta != 0
	ctx, table := decodeContext(d)
	n := d.count("keys")
	var out map[K]dotMap[E]
	if d.ok() && n > 0 {
		out = make(map[K]dotMap[E], n)
	}
	var prev []byte
	for i := 0; i < n && d.ok(); i++ {
		k, raw := decodeElem(d, m.keys, "key", i)
		d.sortedAfter(prev, raw, "key", i)
		prev = raw
		inner := decodeDotMap(d, m.elems, table, &ctx, minDots(isDelta), 1)
		if _, dup := out[k]; dup && d.ok() {
			d.failf("key %d decodes to a key already decoded (the key codec is not injective)", i)
		}
		out[k] = inner
	}
	if err := d.finish(); err != nil {
		return err
	}
	*m = ORMultiMap[K, E]{keys: m.keys, elems: m.elems, m: out, ctx: ctx, isDelta: isDelta}
	return nil
}
