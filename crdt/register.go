package crdt

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// LWWRegister is a last-writer-wins register: it holds the value of the
// write with the greatest (timestamp, replica id), timestamps coming from
// the writing replica's HLC. Equal timestamps, which only different
// replicas can produce, are ordered by replica id: the greater id wins.
// Its delta is the whole register (a value and a timestamp); deltas need
// no causal delivery. A register records only its last writer, so it has
// nothing to prune.
//
// A write is identified by its (timestamp, replica): a replica's HLC never
// issues a timestamp twice, so two writes never tie. (If they did, Merge
// would keep the receiver's value.) Values are copied as Go values: treat a
// V of a reference type (a slice, a map) as immutable once set.
//
// The zero LWWRegister is unset and usable, but cannot be encoded or
// decoded (ErrNoCodec): create it with NewLWWRegister.
type LWWRegister[V any] struct {
	codec Codec[V]
	val   V
	at    Timestamp
	by    string
	set   bool
	dirty bool
}

// NewLWWRegister returns an unset register whose value encodes with codec.
func NewLWWRegister[V any](codec Codec[V]) *LWWRegister[V] { return &LWWRegister[V]{codec: codec} }

// Set writes v as replica, with a timestamp from replica's clock at
// physical time that is greater than the register's current one (so the
// write wins over every write this replica has seen). It returns the
// write's timestamp.
func (r *LWWRegister[V]) Set(replica string, v V, clock *HLC, physical time.Time) Timestamp {
	ts := clock.Update(r.at, physical)
	r.val, r.at, r.by, r.set, r.dirty = v, ts, replica, true, true
	return ts
}

// Get returns the value and whether the register was ever set.
func (r *LWWRegister[V]) Get() (V, bool) { return r.val, r.set }

// Written returns the current value's timestamp and writer (zero and "" if
// unset).
func (r *LWWRegister[V]) Written() (Timestamp, string) { return r.at, r.by }

// newer reports whether r's write wins over o's.
func (r *LWWRegister[V]) newer(o *LWWRegister[V]) bool {
	if !o.set {
		return r.set
	}
	if !r.set {
		return false
	}
	if c := r.at.Compare(o.at); c != 0 {
		return c > 0
	}
	return r.by > o.by
}

// Merge keeps the newer of r's and other's writes.
func (r *LWWRegister[V]) Merge(other *LWWRegister[V]) {
	if other != nil && other.newer(r) {
		r.val, r.at, r.by, r.set = other.val, other.at, other.by, true
	}
}

// HasDelta reports whether r was set since the last TakeDelta.
func (r *LWWRegister[V]) HasDelta() bool { return r.dirty }

// TakeDelta returns a copy of r if it was set since the last TakeDelta.
func (r *LWWRegister[V]) TakeDelta() (*LWWRegister[V], bool) {
	if !r.dirty {
		return nil, false
	}
	r.dirty = false
	return r.Clone(), true
}

// Clone returns a copy of r without its pending delta.
func (r *LWWRegister[V]) Clone() *LWWRegister[V] {
	return &LWWRegister[V]{codec: r.codec, val: r.val, at: r.at, by: r.by, set: r.set}
}

// NeedsPruning returns false: a register keeps no per-replica bookkeeping
// (its writer's id is a tie-breaker, not a contribution).
func (r *LWWRegister[V]) NeedsPruning(removed string) bool { return false }

// Prune does nothing (see NeedsPruning).
func (r *LWWRegister[V]) Prune(owner, removed string) {}

// PruneCleanup does nothing (see NeedsPruning).
func (r *LWWRegister[V]) PruneCleanup(removed string) {}

// AppendBinary appends r's encoding: the header, then 0 if unset, or 1,
// the timestamp's Wall (zig-zag varint) and Logical (varint), the writer's
// id and the value, each with its length.
func (r *LWWRegister[V]) AppendBinary(b []byte) ([]byte, error) {
	if !r.codec.ok() {
		return b, fmt.Errorf("%w: LWWRegister has no value codec; create it with NewLWWRegister", ErrNoCodec)
	}
	b = appendHeader(b, KindLWWRegister, 0)
	if !r.set {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, r.at.Wall)
	b = binary.AppendUvarint(b, uint64(r.at.Logical))
	b = appendString(b, r.by)
	return appendFramed(b, r.codec.Append, r.val), nil
}

// MarshalBinary returns r's encoding.
func (r *LWWRegister[V]) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// UnmarshalBinary replaces r with the LWWRegister encoded in data.
func (r *LWWRegister[V]) UnmarshalBinary(data []byte) error {
	if !r.codec.ok() {
		return fmt.Errorf("%w: LWWRegister has no value codec; create it with NewLWWRegister", ErrNoCodec)
	}
	d, _ := newDecoder(data, KindLWWRegister, 0)
	out := LWWRegister[V]{codec: r.codec}
	switch set := d.byte(); {
	case !d.ok(), set == 0:
	case set != 1:
		d.failf("set is %d (0 or 1)", set)
	default:
		out.set = true
		out.at.Wall = d.varint("wall")
		l := d.uvarint("logical")
		if l > math.MaxUint32 {
			d.failf("logical %d exceeds 2^32-1", l)
		}
		out.at.Logical = uint32(l)
		out.by = string(d.bytes("writer"))
		out.val, _ = decodeElem(d, r.codec, "value", 0)
	}
	if err := d.finish(); err != nil {
		return err
	}
	*r = out
	return nil
}

// mvEntry is one value of an MVRegister and the dot of its write.
type mvEntry[V any] struct {
	d dot
	v V
}

// MVRegister is a multi-value register: a write replaces the values its
// replica has seen, and concurrent writes are all kept until a later write
// (which has seen them) replaces them — Almeida et al.'s MVRegister, with
// dots and a causal context in place of version vectors (a dot is the
// version vector entry of one write). Values returns the surviving values.
// Its delta is the new write's value and dot with the dots it replaces;
// deltas need no causal delivery. Prune gives the removed replica's
// surviving values a dot of the owner.
//
// Values are copied as Go values: treat a V of a reference type as
// immutable once set. The zero MVRegister is empty and usable, but cannot be
// encoded or decoded (ErrNoCodec): create it with NewMVRegister.
type MVRegister[V any] struct {
	codec Codec[V]
	es    []mvEntry[V]
	ctx   causal
	delta *MVRegister[V]
}

// NewMVRegister returns an empty register whose values encode with codec.
func NewMVRegister[V any](codec Codec[V]) *MVRegister[V] { return &MVRegister[V]{codec: codec} }

func (r *MVRegister[V]) pending() *MVRegister[V] {
	if r.delta == nil {
		r.delta = &MVRegister[V]{codec: r.codec}
	}
	return r.delta
}

// record joins into r (a pending delta) the write that replaced the values
// at dots old and, if add is not nil, wrote *add.
func (r *MVRegister[V]) record(old []mvEntry[V], add *mvEntry[V]) {
	out := r.es[:0]
	for _, e := range r.es {
		if !slices.ContainsFunc(old, func(o mvEntry[V]) bool { return o.d == e.d }) {
			out = append(out, e)
		}
	}
	for _, e := range old {
		r.ctx.add(e.d)
	}
	if add != nil {
		out = append(out, *add)
		r.ctx.add(add.d)
	}
	r.es = out
}

// Set writes v as replica, replacing the values this replica has seen.
func (r *MVRegister[V]) Set(replica string, v V) {
	e := mvEntry[V]{r.ctx.next(replica), v}
	r.pending().record(r.es, &e)
	r.ctx.add(e.d)
	clear(r.es)
	r.es = append(r.es[:0], e)
}

// Clear removes the values this replica has seen.
func (r *MVRegister[V]) Clear(replica string) {
	if len(r.es) == 0 {
		return
	}
	r.pending().record(r.es, nil)
	clear(r.es)
	r.es = r.es[:0]
}

// Values returns the surviving values: one after a write, several after
// concurrent writes, none if unset or cleared. They are ordered by their
// writes' (replica id, sequence number).
func (r *MVRegister[V]) Values() []V {
	es := slices.SortedFunc(slices.Values(r.es), func(a, b mvEntry[V]) int { return a.d.compare(b.d) })
	out := make([]V, len(es))
	for i, e := range es {
		out[i] = e.v
	}
	return out
}

// Merge joins other into r: a value survives if both have it, or if one has
// it and the other has not seen its write.
func (r *MVRegister[V]) Merge(other *MVRegister[V]) {
	if other == nil || other == r {
		return
	}
	has := func(es []mvEntry[V], d dot) bool {
		return slices.ContainsFunc(es, func(e mvEntry[V]) bool { return e.d == d })
	}
	out := r.es[:0]
	for _, e := range r.es {
		if has(other.es, e.d) || !other.ctx.has(e.d) {
			out = append(out, e)
		}
	}
	kept := len(out)
	for _, e := range other.es {
		if !has(out[:kept], e.d) && !r.ctx.has(e.d) {
			out = append(out, e)
		}
	}
	if len(out) < len(r.es) {
		clear(r.es[len(out):])
	}
	r.es = out
	r.ctx.union(&other.ctx)
}

// HasDelta reports whether r changed since the last TakeDelta.
func (r *MVRegister[V]) HasDelta() bool { return r.delta != nil }

// TakeDelta returns the join of the deltas of the writes since the last
// TakeDelta.
func (r *MVRegister[V]) TakeDelta() (*MVRegister[V], bool) {
	d := r.delta
	r.delta = nil
	return d, d != nil
}

// Clone returns a copy of r without its pending delta.
func (r *MVRegister[V]) Clone() *MVRegister[V] {
	return &MVRegister[V]{codec: r.codec, es: slices.Clone(r.es), ctx: r.ctx.clone()}
}

// NeedsPruning reports whether removed has dots in r.
func (r *MVRegister[V]) NeedsPruning(removed string) bool { return r.ctx.hasReplica(removed) }

// Prune gives the values written by removed a new dot of owner and forgets
// removed's dots.
func (r *MVRegister[V]) Prune(owner, removed string) {
	if owner == removed || !r.ctx.hasReplica(removed) {
		return
	}
	if r.delta != nil {
		r.delta.cleanup(removed)
	}
	for i, e := range r.es {
		if e.d.r == removed {
			r.es[i].d = r.ctx.next(owner)
			r.ctx.add(r.es[i].d)
			r.pending().record(nil, &r.es[i])
		}
	}
	r.ctx.drop(removed)
}

// PruneCleanup forgets removed's dots and the values they carry.
func (r *MVRegister[V]) PruneCleanup(removed string) {
	r.cleanup(removed)
	if r.delta != nil {
		r.delta.cleanup(removed)
	}
}

func (r *MVRegister[V]) cleanup(removed string) {
	r.es = slices.DeleteFunc(r.es, func(e mvEntry[V]) bool { return e.d.r == removed })
	r.ctx.drop(removed)
}

// AppendBinary appends r's encoding: the header, the causal context, then
// the number of values and for each, ordered by dot, its dot and its
// length and encoding.
func (r *MVRegister[V]) AppendBinary(b []byte) ([]byte, error) {
	if !r.codec.ok() {
		return b, fmt.Errorf("%w: MVRegister has no value codec; create it with NewMVRegister", ErrNoCodec)
	}
	b = appendHeader(b, KindMVRegister, 0)
	b, idx := appendContext(b, &r.ctx)
	b = appendUvarint(b, len(r.es))
	es := r.es
	if !slices.IsSortedFunc(es, func(a, b mvEntry[V]) int { return a.d.compare(b.d) }) {
		es = slices.SortedFunc(slices.Values(es), func(a, b mvEntry[V]) int { return a.d.compare(b.d) })
	}
	for _, e := range es {
		b = appendDot(b, idx, e.d)
		b = appendFramed(b, r.codec.Append, e.v)
	}
	return b, nil
}

// MarshalBinary returns r's encoding.
func (r *MVRegister[V]) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// UnmarshalBinary replaces r with the MVRegister encoded in data.
func (r *MVRegister[V]) UnmarshalBinary(data []byte) error {
	if !r.codec.ok() {
		return fmt.Errorf("%w: MVRegister has no value codec; create it with NewMVRegister", ErrNoCodec)
	}
	d, _ := newDecoder(data, KindMVRegister, 0)
	ctx, table := decodeContext(d)
	n := d.count("values")
	var es []mvEntry[V]
	if d.ok() && n > 0 {
		es = make([]mvEntry[V], 0, n)
	}
	for i := 0; i < n && d.ok(); i++ {
		x := decodeDot(d, table, &ctx)
		if i > 0 && d.ok() && es[i-1].d.compare(x) >= 0 {
			d.failf("value %d's dot not after value %d's (values must be sorted by dot, without duplicates)", i, i-1)
		}
		v, _ := decodeElem(d, r.codec, "value", i)
		es = append(es, mvEntry[V]{x, v})
	}
	if err := d.finish(); err != nil {
		return err
	}
	*r = MVRegister[V]{codec: r.codec, es: es, ctx: ctx}
	return nil
}
