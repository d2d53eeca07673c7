package crdt

import (
	"fmt"
	"iter"
	"slices"
)

// dotVal is one version of a map entry's value: the value an Update by
// dot's replica left (its view of the whole entry plus its operation).
type dotVal[V any] struct {
	d dot
	v V
}

func indexDot[V any](es []dotVal[V], d dot) int {
	for i, e := range es {
		if e.d == d {
			return i
		}
	}
	return -1
}

// ORMap is an observed-remove map whose values are CRDTs: keys are add-wins
// (an Update concurrent with a Remove of the same key wins), and concurrent
// Updates of one key merge their values.
//
// Each Update tags the key with a new dot of the acting replica holding the
// replica's whole new value of that entry, and supersedes the dots it has
// seen; Remove removes the dots it has seen. A key's value is the merge of
// the values at its surviving dots (usually one). Because a value belongs
// to its dot, a Remove really resets the entry: a key removed and updated
// again starts from an empty value everywhere, even on replicas that merge
// the old and the new state in either order (unlike Akka's ORMap, whose
// full-state merge can bring the old value back). A concurrent Update
// survives with the whole value its replica saw, as in any add-wins map.
//
// Deltas. An Update's delta is the key with its new dot and a copy of the
// entry's new value (the whole value of that entry, not of the map), plus
// the dots it supersedes; a Remove's is the key with no dots and the removed
// dots. Deltas are joined like states and need no causal delivery. A value
// type whose entries grow large (a set per key) is better served by
// ORMultiMap, whose deltas carry single elements.
//
// Pruning. Prune collapses every key whose dots or value mention the
// removed replica into one new dot of the owner holding the merged value,
// pruned with the value type's own Prune.
//
// The zero ORMap is empty and can Merge, but Update needs the value
// constructor and encoding the codecs: create it with NewORMap. LWWMap and
// PNCounterMap are ORMaps with a fixed value type.
type ORMap[K comparable, V CRDT[V]] struct {
	keys    Codec[K]
	newV    func() V
	m       map[K][]dotVal[V]
	ctx     causal
	isDelta bool
	delta   *ORMap[K, V]
}

// NewORMap returns an empty map whose keys encode with keys and whose
// values newValue creates (empty, and with their codecs), e.g.
//
//	NewORMap[string](StringCodec(), func() *ORSet[string] { return NewORSet(StringCodec()) })
func NewORMap[K comparable, V CRDT[V]](keys Codec[K], newValue func() V) *ORMap[K, V] {
	return &ORMap[K, V]{keys: keys, newV: newValue}
}

func (m *ORMap[K, V]) pending() *ORMap[K, V] {
	if m.delta == nil {
		m.delta = &ORMap[K, V]{keys: m.keys, newV: m.newV, isDelta: true}
	}
	return m.delta
}

// record joins into m (a pending delta) the operation on k that superseded
// the versions old and, if add is not nil, added *add (which m keeps).
func (m *ORMap[K, V]) record(k K, old []dotVal[V], add *dotVal[V]) {
	if m.m == nil {
		m.m = make(map[K][]dotVal[V])
	}
	cur := m.m[k]
	out := cur[:0]
	for _, e := range cur {
		if indexDot(old, e.d) < 0 {
			out = append(out, e)
		}
	}
	clear(cur[len(out):])
	for _, e := range old {
		m.ctx.add(e.d)
	}
	if add != nil {
		out = append(out, *add)
		m.ctx.add(add.d)
	}
	m.m[k] = out
}

// merged returns the value of entry es (the merge of its versions). It is
// es[0].v itself when there is one version, or a new value.
func merged[V CRDT[V]](es []dotVal[V]) V {
	if len(es) == 1 {
		return es[0].v
	}
	v := es[0].v.Clone()
	for _, e := range es[1:] {
		v.Merge(e.v)
	}
	return v
}

// Update applies fn to k's value as replica: fn receives the current value
// (an empty one from the constructor if k is absent) and applies operations
// to it, as the same replica. If k is present and fn applies none, nothing
// changes; otherwise k holds the result under a new dot. fn must not keep v.
// Update panics if m was not created by NewORMap (it has no constructor).
func (m *ORMap[K, V]) Update(replica string, k K, fn func(v V)) {
	if m.newV == nil {
		panic("crdt: ORMap.Update on an ORMap without a value constructor; create it with NewORMap")
	}
	m.update(replica, k, m.newV, fn)
}

func (m *ORMap[K, V]) update(replica string, k K, newV func() V, fn func(v V)) {
	old := m.m[k]
	var v V
	switch len(old) {
	case 0:
		v = newV()
	case 1:
		v = old[0].v
	default:
		v = merged(old)
	}
	fn(v)
	if !v.HasDelta() && len(old) > 0 {
		return
	}
	v.TakeDelta()
	d := m.ctx.next(replica)
	m.pending().record(k, old, &dotVal[V]{d, v.Clone()})
	m.ctx.add(d)
	if m.m == nil {
		m.m = make(map[K][]dotVal[V])
	}
	clear(old)
	m.m[k] = append(old[:0], dotVal[V]{d, v})
}

// Remove removes k (the versions of it this replica has seen). replica is
// the acting replica; a remove mints no dot.
func (m *ORMap[K, V]) Remove(replica string, k K) {
	old, ok := m.m[k]
	if !ok {
		return
	}
	m.pending().record(k, old, nil)
	delete(m.m, k)
}

// Get returns k's value and whether k is present. The value is m's own (or
// a merge of concurrent versions): read it, do not modify it — use Update —
// and do not keep it past the next operation on m.
func (m *ORMap[K, V]) Get(k K) (V, bool) {
	es := m.m[k]
	if len(es) == 0 {
		var zero V
		return zero, false
	}
	return merged(es), true
}

// Contains reports whether k is present.
func (m *ORMap[K, V]) Contains(k K) bool { return len(m.m[k]) > 0 }

// Len returns the number of keys.
func (m *ORMap[K, V]) Len() int {
	if !m.isDelta {
		return len(m.m)
	}
	n := 0
	for _, es := range m.m {
		if len(es) > 0 {
			n++
		}
	}
	return n
}

// All yields each key and its value (as Get returns it) in no particular
// order.
func (m *ORMap[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for k, es := range m.m {
			if len(es) > 0 && !yield(k, merged(es)) {
				return
			}
		}
	}
}

// Keys yields the keys in no particular order.
func (m *ORMap[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) {
		for k, es := range m.m {
			if len(es) > 0 && !yield(k) {
				return
			}
		}
	}
}

// Merge joins other into m: per key, a version survives if both have it
// (their values merged), or if one has it and the other has not seen its
// dot.
func (m *ORMap[K, V]) Merge(other *ORMap[K, V]) {
	if other == nil || other == m {
		return
	}
	keepEmpty := m.isDelta && other.isDelta
	if m.m == nil && len(other.m) > 0 {
		m.m = make(map[K][]dotVal[V], len(other.m))
	}
	if !other.isDelta {
		for k, es := range m.m {
			if _, ok := other.m[k]; ok {
				continue
			}
			out := es[:0]
			for _, e := range es {
				if !other.ctx.has(e.d) {
					out = append(out, e)
				}
			}
			clear(es[len(out):])
			if len(out) == 0 && !keepEmpty {
				delete(m.m, k)
			} else {
				m.m[k] = out
			}
		}
	}
	for k, oes := range other.m {
		es, had := m.m[k]
		out := es[:0]
		for _, e := range es {
			if j := indexDot(oes, e.d); j >= 0 {
				e.v.Merge(oes[j].v)
				out = append(out, e)
			} else if !other.ctx.has(e.d) {
				out = append(out, e)
			}
		}
		clear(es[len(out):])
		kept := len(out)
		for _, e := range oes {
			if indexDot(out[:kept], e.d) < 0 && !m.ctx.has(e.d) {
				out = append(out, dotVal[V]{e.d, e.v.Clone()})
			}
		}
		switch {
		case len(out) > 0 || keepEmpty:
			m.m[k] = out
		case had:
			delete(m.m, k)
		}
	}
	m.ctx.union(&other.ctx)
	if m.isDelta && !keepEmpty {
		for k, es := range m.m {
			if len(es) == 0 {
				delete(m.m, k)
			}
		}
	}
	m.isDelta = keepEmpty
}

// HasDelta reports whether m changed since the last TakeDelta.
func (m *ORMap[K, V]) HasDelta() bool { return m.delta != nil }

// TakeDelta returns the join of the deltas of the operations since the last
// TakeDelta.
func (m *ORMap[K, V]) TakeDelta() (*ORMap[K, V], bool) {
	d := m.delta
	m.delta = nil
	return d, d != nil
}

// Clone returns a deep copy of m without its pending delta.
func (m *ORMap[K, V]) Clone() *ORMap[K, V] {
	c := &ORMap[K, V]{keys: m.keys, newV: m.newV, ctx: m.ctx.clone(), isDelta: m.isDelta}
	if m.m != nil {
		c.m = make(map[K][]dotVal[V], len(m.m))
		for k, es := range m.m {
			out := make([]dotVal[V], len(es))
			for i, e := range es {
				out[i] = dotVal[V]{e.d, e.v.Clone()}
			}
			c.m[k] = out
		}
	}
	return c
}

// NeedsPruning reports whether removed has dots in m or appears in a value.
func (m *ORMap[K, V]) NeedsPruning(removed string) bool {
	if m.ctx.hasReplica(removed) {
		return true
	}
	for _, es := range m.m {
		for _, e := range es {
			if e.v.NeedsPruning(removed) {
				return true
			}
		}
	}
	return false
}

// Prune collapses each key whose versions or value mention removed into one
// version under a new dot of owner, holding the merged value pruned with
// its own Prune(owner, removed); then forgets removed's dots.
func (m *ORMap[K, V]) Prune(owner, removed string) {
	if owner == removed {
		return
	}
	if m.delta != nil {
		m.delta.cleanup(removed)
	}
	for k, es := range m.m {
		if !slices.ContainsFunc(es, func(e dotVal[V]) bool { return e.d.r == removed || e.v.NeedsPruning(removed) }) {
			continue
		}
		v := es[0].v.Clone()
		for _, e := range es[1:] {
			v.Merge(e.v)
		}
		v.Prune(owner, removed)
		v.TakeDelta()
		old := slices.DeleteFunc(es, func(e dotVal[V]) bool { return e.d.r == removed })
		d := m.ctx.next(owner)
		m.pending().record(k, old, &dotVal[V]{d, v.Clone()})
		m.ctx.add(d)
		m.m[k] = []dotVal[V]{{d, v}}
	}
	m.ctx.drop(removed)
}

// PruneCleanup forgets removed's dots and the versions they carry, and
// applies PruneCleanup to the remaining values.
func (m *ORMap[K, V]) PruneCleanup(removed string) {
	m.cleanup(removed)
	if m.delta != nil {
		m.delta.cleanup(removed)
	}
}

func (m *ORMap[K, V]) cleanup(removed string) {
	for k, es := range m.m {
		out := es[:0]
		for _, e := range es {
			if e.d.r != removed {
				e.v.PruneCleanup(removed)
				out = append(out, e)
			}
		}
		clear(es[len(out):])
		if len(out) == 0 && !m.isDelta {
			delete(m.m, k)
		} else {
			m.m[k] = out
		}
	}
	m.ctx.drop(removed)
}

// AppendBinary appends m's encoding: the header (flags 1 for a delta), the
// causal context, then the number of keys and for each, sorted by
// encoding, its length and encoding, its number of versions and each
// version's dot and value (the value's own encoding, with its length).
func (m *ORMap[K, V]) AppendBinary(b []byte) ([]byte, error) {
	return m.appendTo(b, KindORMap, "ORMap")
}

func (m *ORMap[K, V]) appendTo(b []byte, kind Kind, name string) ([]byte, error) {
	if !m.keys.ok() {
		return b, fmt.Errorf("%w: %s has no key codec; create it with New%s", ErrNoCodec, name, name)
	}
	start := len(b)
	b = appendHeader(b, kind, deltaFlag(m.isDelta))
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
		es := m.m[keys[i]]
		if !slices.IsSortedFunc(es, cmpDotVal) {
			es = slices.SortedFunc(slices.Values(es), cmpDotVal)
		}
		b = appendUvarint(b, len(es))
		for _, e := range es {
			b = appendDot(b, idx, e.d)
			var err error
			if b, err = appendFramedErr(b, e.v.AppendBinary); err != nil {
				return b[:start], fmt.Errorf("%s value: %w", name, err)
			}
		}
	}
	return b, nil
}

func cmpDotVal[V any](a, b dotVal[V]) int { return a.d.compare(b.d) }

// MarshalBinary returns m's encoding.
func (m *ORMap[K, V]) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary replaces m with the ORMap encoded in data. Values are
// decoded by the UnmarshalBinary of values made by the constructor.
func (m *ORMap[K, V]) UnmarshalBinary(data []byte) error {
	return m.unmarshal(data, KindORMap, "ORMap", m.newV)
}

func (m *ORMap[K, V]) unmarshal(data []byte, kind Kind, name string, newV func() V) error {
	if !m.keys.ok() || newV == nil {
		return fmt.Errorf("%w: %s has no key codec or value constructor; create it with New%s", ErrNoCodec, name, name)
	}
	d, flags := newDecoder(data, kind, flagDelta)
	isDelta := flags&flagDelta != 0
	ctx, table := decodeContext(d)
	n := d.count("keys")
	var out map[K][]dotVal[V]
	if d.ok() && n > 0 {
		out = make(map[K][]dotVal[V], n)
	}
	var prev []byte
	for i := 0; i < n && d.ok(); i++ {
		k, raw := decodeElem(d, m.keys, "key", i)
		d.sortedAfter(prev, raw, "key", i)
		prev = raw
		c := d.count("versions")
		if d.ok() && c == 0 && !isDelta {
			d.failf("key %d has no versions (a full state's keys have at least 1)", i)
		}
		if !d.ok() {
			break
		}
		es := make([]dotVal[V], 0, c)
		for j := 0; j < c && d.ok(); j++ {
			x := decodeDot(d, table, &ctx)
			if j > 0 && d.ok() && es[j-1].d.compare(x) >= 0 {
				d.failf("key %d: version %d's dot not after version %d's (versions must be sorted by dot, without duplicates)", i, j, j-1)
			}
			raw := d.bytes("value")
			if !d.ok() {
				break
			}
			v := newV()
			if err := v.UnmarshalBinary(raw); err != nil {
				d.wrapf(err, "key %d: version %d: value", i, j)
				break
			}
			es = append(es, dotVal[V]{x, v})
		}
		if _, dup := out[k]; dup && d.ok() {
			d.failf("key %d decodes to a key already decoded (the key codec is not injective)", i)
		}
		out[k] = es
	}
	if err := d.finish(); err != nil {
		return err
	}
	*m = ORMap[K, V]{keys: m.keys, newV: m.newV, m: out, ctx: ctx, isDelta: isDelta}
	return nil
}
