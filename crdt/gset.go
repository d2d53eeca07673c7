package crdt

import (
	"fmt"
	"iter"
	"maps"
)

// GSet is a grow-only set: elements are added and never removed, and Merge
// is the union. Its delta is the set of elements added; deltas need no
// causal delivery. It keeps no per-replica bookkeeping, so pruning has
// nothing to do.
//
// The zero GSet is empty and usable, but cannot be encoded or decoded
// (ErrNoCodec): create it with NewGSet.
type GSet[E comparable] struct {
	codec Codec[E]
	m     map[E]struct{}
	delta map[E]struct{}
}

// NewGSet returns an empty set whose elements encode with codec.
func NewGSet[E comparable](codec Codec[E]) *GSet[E] { return &GSet[E]{codec: codec} }

// Add adds e. replica is the acting replica (a GSet does not record it).
func (s *GSet[E]) Add(replica string, e E) {
	if _, ok := s.m[e]; ok {
		return
	}
	if s.m == nil {
		s.m = make(map[E]struct{})
	}
	if s.delta == nil {
		s.delta = make(map[E]struct{})
	}
	s.m[e] = struct{}{}
	s.delta[e] = struct{}{}
}

// Contains reports whether e is in the set.
func (s *GSet[E]) Contains(e E) bool {
	_, ok := s.m[e]
	return ok
}

// Len returns the number of elements.
func (s *GSet[E]) Len() int { return len(s.m) }

// All yields the elements in no particular order.
func (s *GSet[E]) All() iter.Seq[E] { return maps.Keys(s.m) }

// Merge adds other's elements to s.
func (s *GSet[E]) Merge(other *GSet[E]) {
	if other == nil || other == s {
		return
	}
	for e := range other.m {
		if s.m == nil {
			s.m = make(map[E]struct{}, len(other.m))
		}
		s.m[e] = struct{}{}
	}
}

// HasDelta reports whether elements were added since the last TakeDelta.
func (s *GSet[E]) HasDelta() bool { return len(s.delta) > 0 }

// TakeDelta returns the elements added since the last TakeDelta.
func (s *GSet[E]) TakeDelta() (*GSet[E], bool) {
	if len(s.delta) == 0 {
		return nil, false
	}
	d := &GSet[E]{codec: s.codec, m: s.delta}
	s.delta = nil
	return d, true
}

// Clone returns a copy of s without its pending delta.
func (s *GSet[E]) Clone() *GSet[E] { return &GSet[E]{codec: s.codec, m: maps.Clone(s.m)} }

// NeedsPruning returns false: a GSet records no replicas.
func (s *GSet[E]) NeedsPruning(removed string) bool { return false }

// Prune does nothing: a GSet records no replicas.
func (s *GSet[E]) Prune(owner, removed string) {}

// PruneCleanup does nothing: a GSet records no replicas.
func (s *GSet[E]) PruneCleanup(removed string) {}

// AppendBinary appends s's encoding: the header, then the number of
// elements and each element's length and encoding, sorted by encoding.
func (s *GSet[E]) AppendBinary(b []byte) ([]byte, error) {
	if !s.codec.ok() {
		return b, fmt.Errorf("%w: GSet has no element codec; create it with NewGSet", ErrNoCodec)
	}
	b = appendHeader(b, KindGSet, 0)
	var enc encoded
	for e := range s.m {
		enc.add(func(b []byte) []byte { return s.codec.Append(b, e) })
	}
	b = appendUvarint(b, len(enc.offs))
	for _, i := range enc.order() {
		b = appendBytes(b, enc.bytes(i))
	}
	return b, nil
}

// MarshalBinary returns s's encoding.
func (s *GSet[E]) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// UnmarshalBinary replaces s with the GSet encoded in data.
func (s *GSet[E]) UnmarshalBinary(data []byte) error {
	if !s.codec.ok() {
		return fmt.Errorf("%w: GSet has no element codec; create it with NewGSet", ErrNoCodec)
	}
	d, _ := newDecoder(data, KindGSet, 0)
	n := d.count("elements")
	var m map[E]struct{}
	if n > 0 {
		m = make(map[E]struct{}, n)
	}
	var prev []byte
	for i := 0; i < n && d.ok(); i++ {
		e, raw := decodeElem(d, s.codec, "element", i)
		d.sortedAfter(prev, raw, "element", i)
		m[e] = struct{}{}
		prev = raw
	}
	if err := d.finish(); err != nil {
		return err
	}
	if len(m) != n {
		return fmt.Errorf("%w: %d distinct elements encoded differently decode to %d (the element codec is not injective)", ErrMalformed, n, len(m))
	}
	*s = GSet[E]{codec: s.codec, m: m}
	return nil
}
