package crdt

import (
	"encoding/binary"
	"fmt"
)

// CRDT is what every type in this package implements, T being the type's
// own pointer type (*GCounter implements CRDT[*GCounter]). A replicator
// handles values through it without knowing their type, and ORMap holds
// values of any CRDT[V]. A user-defined type implementing it can be an
// ORMap value too.
//
// A value is not safe for concurrent use: one goroutine (the replicator's
// actor, say) owns it.
type CRDT[T any] interface {
	// Merge joins other into the receiver: afterwards the receiver is the
	// least upper bound of both. Merge is commutative, associative and
	// idempotent on the observable value and on the encoding. other may be
	// a full state or a delta (from TakeDelta or a decoded one), in any
	// order and any number of times. Merge never modifies other, keeps no
	// reference into it, and does not change the receiver's pending delta.
	// A nil other is a no-op.
	Merge(other T)
	// HasDelta reports whether operations were applied since the last
	// TakeDelta.
	HasDelta() bool
	// TakeDelta returns the delta of the operations applied since the last
	// TakeDelta (their join) and starts a new, empty one; ok is false when
	// there were none. The caller owns the delta: the receiver keeps no
	// reference to it. A delta is a value of the same type, to be merged
	// into other replicas and encoded; apply no operations to it.
	TakeDelta() (delta T, ok bool)
	// Clone returns a deep copy of the state, without the pending delta
	// (elements, keys and register values of reference types are copied as
	// Go values: treat them as immutable).
	Clone() T
	// NeedsPruning reports whether removed appears in the value's
	// bookkeeping (counters, dots, causal context, nested values).
	NeedsPruning(removed string) bool
	// Prune moves the contributions of the departed replica removed to
	// owner, which must be the replica calling it, and drops removed's
	// bookkeeping. The observable value does not change. The change is
	// recorded in the pending delta as an operation of owner. See "Pruning"
	// in the package documentation for the protocol a replicator follows.
	Prune(owner, removed string)
	// PruneCleanup drops removed's bookkeeping without moving it anywhere,
	// from the value and from its pending delta. Replicas other than the
	// pruning owner apply it (see "Pruning"); it may change the observable
	// value until the owner's pruned state is merged.
	PruneCleanup(removed string)
	// AppendBinary appends the value's canonical encoding to b: equal
	// states encode to equal bytes, whatever order of operations and merges
	// produced them.
	AppendBinary(b []byte) ([]byte, error)
	// MarshalBinary returns AppendBinary(nil).
	MarshalBinary() ([]byte, error)
	// UnmarshalBinary replaces the receiver's state (and drops its pending
	// delta) with the value encoded in data, keeping the receiver's codecs.
	// On error the receiver is unchanged. It never panics, and allocates
	// at most a small constant times len(data).
	UnmarshalBinary(data []byte) error
}

var (
	_ CRDT[*GCounter]                                = (*GCounter)(nil)
	_ CRDT[*PNCounter]                               = (*PNCounter)(nil)
	_ CRDT[*GSet[string]]                            = (*GSet[string])(nil)
	_ CRDT[*ORSet[string]]                           = (*ORSet[string])(nil)
	_ CRDT[*LWWRegister[string]]                     = (*LWWRegister[string])(nil)
	_ CRDT[*MVRegister[string]]                      = (*MVRegister[string])(nil)
	_ CRDT[*Flag]                                    = (*Flag)(nil)
	_ CRDT[*ORMap[string, *GCounter]]                = (*ORMap[string, *GCounter])(nil)
	_ CRDT[*LWWMap[string, string]]                  = (*LWWMap[string, string])(nil)
	_ CRDT[*ORMultiMap[string, string]]              = (*ORMultiMap[string, string])(nil)
	_ CRDT[*PNCounterMap[string]]                    = (*PNCounterMap[string])(nil)
	_ CRDT[*ORMap[int64, *ORMap[string, *GCounter]]] = (*ORMap[int64, *ORMap[string, *GCounter]])(nil)
)

// Codec encodes and decodes the elements, keys or values of a generic CRDT.
// Both functions are required.
//
// Append appends e's encoding to b. It must be deterministic (equal elements
// encode to equal bytes) and injective (different elements to different
// bytes): encodings order elements by these bytes, and decoders reject
// duplicates. The package frames each encoding with its length, so Append
// need not be self-delimiting.
//
// Decode decodes exactly data (one element's bytes), which it must not
// retain: copy what it keeps. It returns an error for bytes it cannot
// decode and must not panic.
type Codec[E any] struct {
	Append func(b []byte, e E) []byte
	Decode func(data []byte) (E, error)
}

func (c Codec[E]) ok() bool { return c.Append != nil && c.Decode != nil }

// StringCodec encodes a string as its bytes.
func StringCodec() Codec[string] {
	return Codec[string]{
		Append: func(b []byte, s string) []byte { return append(b, s...) },
		Decode: func(data []byte) (string, error) { return string(data), nil },
	}
}

// BytesCodec encodes a []byte as itself. Decode returns a copy (never nil).
// []byte is not comparable, so it serves register and map values, not set
// elements or map keys.
func BytesCodec() Codec[[]byte] {
	return Codec[[]byte]{
		Append: func(b []byte, v []byte) []byte { return append(b, v...) },
		Decode: func(data []byte) ([]byte, error) { return append([]byte{}, data...), nil },
	}
}

// Int64Codec encodes an int64 as a zig-zag varint (encoding/binary
// AppendVarint); Decode accepts only the shortest form.
func Int64Codec() Codec[int64] {
	return Codec[int64]{
		Append: binary.AppendVarint,
		Decode: func(data []byte) (int64, error) {
			v, n := binary.Varint(data)
			if n != len(data) || n <= 0 || n != varintLen(v) {
				return 0, fmt.Errorf("int64: % x is not one shortest zig-zag varint", data)
			}
			return v, nil
		},
	}
}

// Kind names a CRDT type in its encoding.
type Kind uint8

// The kinds of this package's types.
const (
	KindGCounter Kind = 1 + iota
	KindPNCounter
	KindGSet
	KindORSet
	KindLWWRegister
	KindMVRegister
	KindFlag
	KindORMap
	KindLWWMap
	KindORMultiMap
	KindPNCounterMap
	kindEnd
)

func (k Kind) String() string {
	switch k {
	case KindGCounter:
		return "GCounter"
	case KindPNCounter:
		return "PNCounter"
	case KindGSet:
		return "GSet"
	case KindORSet:
		return "ORSet"
	case KindLWWRegister:
		return "LWWRegister"
	case KindMVRegister:
		return "MVRegister"
	case KindFlag:
		return "Flag"
	case KindORMap:
		return "ORMap"
	case KindLWWMap:
		return "LWWMap"
	case KindORMultiMap:
		return "ORMultiMap"
	case KindPNCounterMap:
		return "PNCounterMap"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// KindOf returns the kind of CRDT encoded in data, reading only its header.
// It returns ErrMalformed for a truncated header or an unknown kind and
// ErrVersion for another format version.
func KindOf(data []byte) (Kind, error) {
	if len(data) < headerLen {
		return 0, fmt.Errorf("%w: offset 0: %d bytes, a header is %d (version, kind, flags)", ErrMalformed, len(data), headerLen)
	}
	if data[0] != EncodingVersion {
		return 0, fmt.Errorf("%w: version %d, this package reads version %d", ErrVersion, data[0], EncodingVersion)
	}
	k := Kind(data[1])
	if k == 0 || k >= kindEnd {
		return 0, fmt.Errorf("%w: offset 1: unknown kind %d (known kinds are 1 to %d)", ErrMalformed, data[1], kindEnd-1)
	}
	return k, nil
}
