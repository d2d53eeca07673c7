package crdt

import (
	"fmt"
	"iter"
)

// ORSet is an observed-remove, add-wins set: the optimized OR-Set of
// Almeida, Shoker and Baquero's delta-state CRDTs (as Akka's ORSet). Each
// Add tags the element with a new dot of the acting replica and supersedes
// the element's older dots; Remove removes the dots it has observed; an
// element is in the set while it has a dot. A causal context records every
// dot seen, so Merge can tell "removed" (seen, gone) from "not yet seen".
// An Add concurrent with a Remove of the same element therefore wins: the
// Remove did not observe the new dot.
//
// Deltas. An Add's delta is the element with its new dot, plus the dots it
// supersedes in the context; a Remove's is the element with no dots and its
// removed dots in the context. Deltas are joined like states, so they need
// no causal delivery: joined in any order, any number of times, they
// converge to the join of the full states. See the package documentation
// for what a replicator must still do.
//
// Pruning. Prune drops the removed replica's dots and re-adds, with a dot of
// the owner, the elements that only the removed replica's adds kept in the
// set.
//
// The zero ORSet is empty and usable, but cannot be encoded or decoded
// (ErrNoCodec): create it with NewORSet.
type ORSet[E comparable] struct {
	codec Codec[E]
	m     dotMap[E]
	ctx   causal
	// isDelta: a delta, which lists every element its context concerns
	// (see dotMap).
	isDelta bool
	delta   *ORSet[E]
}

// NewORSet returns an empty set whose elements encode with codec.
func NewORSet[E comparable](codec Codec[E]) *ORSet[E] { return &ORSet[E]{codec: codec} }

func (s *ORSet[E]) pending() *ORSet[E] {
	if s.delta == nil {
		s.delta = &ORSet[E]{codec: s.codec, isDelta: true}
	}
	return s.delta
}

// Add adds e as an operation of replica.
func (s *ORSet[E]) Add(replica string, e E) {
	d := s.ctx.next(replica)
	old := s.m[e]
	p := s.pending()
	p.m.record(&p.ctx, e, old, &d)
	s.ctx.add(d)
	if s.m == nil {
		s.m = make(dotMap[E])
	}
	s.m[e] = append(old[:0], d)
}

// Remove removes e (the adds of it this replica has seen). replica is the
// acting replica; a remove mints no dot.
func (s *ORSet[E]) Remove(replica string, e E) {
	old, ok := s.m[e]
	if !ok {
		return
	}
	p := s.pending()
	p.m.record(&p.ctx, e, old, nil)
	delete(s.m, e)
}

// Clear removes every element this replica has seen.
func (s *ORSet[E]) Clear(replica string) {
	for e := range s.m {
		s.Remove(replica, e)
	}
}

// Contains reports whether e is in the set.
func (s *ORSet[E]) Contains(e E) bool { return len(s.m[e]) > 0 }

// Len returns the number of elements.
func (s *ORSet[E]) Len() int { return s.m.live(s.isDelta) }

// All yields the elements in no particular order.
func (s *ORSet[E]) All() iter.Seq[E] {
	return func(yield func(E) bool) {
		for e, ds := range s.m {
			if len(ds) > 0 && !yield(e) {
				return
			}
		}
	}
}

// Merge joins other into s.
func (s *ORSet[E]) Merge(other *ORSet[E]) {
	if other == nil || other == s {
		return
	}
	keepEmpty := s.isDelta && other.isDelta
	s.m.join(&s.ctx, other.m, &other.ctx, !other.isDelta, keepEmpty)
	s.ctx.union(&other.ctx)
	if s.isDelta && !keepEmpty {
		s.m.dropEmpty()
	}
	s.isDelta = keepEmpty
}

// HasDelta reports whether s changed since the last TakeDelta.
func (s *ORSet[E]) HasDelta() bool { return s.delta != nil }

// TakeDelta returns the join of the deltas of the operations since the last
// TakeDelta.
func (s *ORSet[E]) TakeDelta() (*ORSet[E], bool) {
	d := s.delta
	s.delta = nil
	return d, d != nil
}

// Clone returns a copy of s without its pending delta.
func (s *ORSet[E]) Clone() *ORSet[E] {
	return &ORSet[E]{codec: s.codec, m: s.m.clone(), ctx: s.ctx.clone(), isDelta: s.isDelta}
}

// NeedsPruning reports whether removed has dots in s.
func (s *ORSet[E]) NeedsPruning(removed string) bool { return s.ctx.hasReplica(removed) }

// Prune re-adds as owner's the elements only removed's adds keep in the set
// and forgets removed's dots.
func (s *ORSet[E]) Prune(owner, removed string) {
	if owner == removed || !s.ctx.hasReplica(removed) {
		return
	}
	had := s.delta != nil
	p := s.pending()
	p.cleanup(removed)
	s.m.prune(&s.ctx, &p.m, &p.ctx, owner, removed)
	s.ctx.drop(removed)
	if !had && len(p.m) == 0 {
		s.delta = nil
	}
}

// PruneCleanup forgets removed's dots.
func (s *ORSet[E]) PruneCleanup(removed string) {
	s.cleanup(removed)
	if s.delta != nil {
		s.delta.cleanup(removed)
	}
}

func (s *ORSet[E]) cleanup(removed string) {
	if s.ctx.hasReplica(removed) {
		s.m.cleanup(removed, s.isDelta)
		s.ctx.drop(removed)
	}
}

// AppendBinary appends s's encoding: the header (flags 1 for a delta), the
// causal context, then the number of elements and for each, sorted by
// encoding, its length and encoding and its dots.
func (s *ORSet[E]) AppendBinary(b []byte) ([]byte, error) {
	if !s.codec.ok() {
		return b, fmt.Errorf("%w: ORSet has no element codec; create it with NewORSet", ErrNoCodec)
	}
	b = appendHeader(b, KindORSet, deltaFlag(s.isDelta))
	b, idx := appendContext(b, &s.ctx)
	return s.m.appendTo(b, s.codec, idx), nil
}

// MarshalBinary returns s's encoding.
func (s *ORSet[E]) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// UnmarshalBinary replaces s with the ORSet encoded in data.
func (s *ORSet[E]) UnmarshalBinary(data []byte) error {
	if !s.codec.ok() {
		return fmt.Errorf("%w: ORSet has no element codec; create it with NewORSet", ErrNoCodec)
	}
	d, flags := newDecoder(data, KindORSet, flagDelta)
	isDelta := flags&flagDelta != 0
	ctx, table := decodeContext(d)
	m := decodeDotMap(d, s.codec, table, &ctx, minDots(isDelta), 0)
	if err := d.finish(); err != nil {
		return err
	}
	*s = ORSet[E]{codec: s.codec, m: m, ctx: ctx, isDelta: isDelta}
	return nil
}

func deltaFlag(isDelta bool) byte {
	if isDelta {
		return flagDelta
	}
	return 0
}

func minDots(isDelta bool) int {
	if isDelta {
		return 0
	}
	return 1
}
