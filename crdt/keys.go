package crdt

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Key names a replicated value of type T: its id, cluster-wide, and how to
// make an empty T (with its codecs). Keys are small values; make them once
// (as package variables, say) and share them.
//
// A key id is used with one type only, cluster-wide: a Key of another type
// with the same id fails with ErrKeyType, and replicas of another type
// received from a member that used the id differently are refused (and
// counted in Stats.Rejected). Ids are non-empty UTF-8, at most MaxKeyLen
// bytes, without '*' (which patterns use for prefixes).
type Key[T CRDT[T]] struct {
	id   string
	mk   func() T
	kind Kind
}

// MaxKeyLen bounds the length of a key id in bytes.
const MaxKeyLen = 512

// NewKey returns the key id for values of type T made by empty, e.g.
//
//	NewKey("carts", func() *ORMap[string, *ORSet[string]] { ... })
//
// The kinds of this package have shorter constructors (GCounterKey,
// ORSetKey...). T must be one of this package's types (or an ORMap of
// them): the replicator holds a key it never used locally by its encoding's
// Kind.
func NewKey[T CRDT[T]](id string, empty func() T) Key[T] {
	k := Key[T]{id: id, mk: empty}
	if empty != nil {
		if b, err := empty().MarshalBinary(); err == nil {
			k.kind, _ = KindOf(b)
		}
	}
	return k
}

// ID returns the key's id.
func (k Key[T]) ID() string { return k.id }

func (k Key[T]) String() string { return k.id }

// check reports whether k is usable: a valid id, a constructor, a kind.
func (k Key[T]) check() error {
	if err := checkKeyID(k.id); err != nil {
		return err
	}
	if k.mk == nil || k.kind == 0 {
		var zero T
		return fmt.Errorf("%w: key %q: no constructor for %T, or not a type of this package; make keys with NewKey or GCounterKey and the like", ErrInvalidKey, k.id, zero)
	}
	return nil
}

func checkKeyID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: the id is empty", ErrInvalidKey)
	case len(id) > MaxKeyLen:
		return fmt.Errorf("%w: the id is %d bytes, at most %d allowed", ErrInvalidKey, len(id), MaxKeyLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: the id %q is not valid UTF-8", ErrInvalidKey, id)
	case strings.ContainsRune(id, '*'):
		return fmt.Errorf("%w: the id %q contains '*' (patterns use it for prefixes)", ErrInvalidKey, id)
	}
	return nil
}

// GCounterKey returns a key for a GCounter.
func GCounterKey(id string) Key[*GCounter] { return NewKey(id, NewGCounter) }

// PNCounterKey returns a key for a PNCounter.
func PNCounterKey(id string) Key[*PNCounter] { return NewKey(id, NewPNCounter) }

// FlagKey returns a key for a Flag.
func FlagKey(id string) Key[*Flag] { return NewKey(id, NewFlag) }

// GSetKey returns a key for a GSet whose elements encode with codec.
func GSetKey[E comparable](id string, codec Codec[E]) Key[*GSet[E]] {
	return NewKey(id, func() *GSet[E] { return NewGSet(codec) })
}

// ORSetKey returns a key for an ORSet whose elements encode with codec.
func ORSetKey[E comparable](id string, codec Codec[E]) Key[*ORSet[E]] {
	return NewKey(id, func() *ORSet[E] { return NewORSet(codec) })
}

// LWWRegisterKey returns a key for an LWWRegister whose value encodes with
// codec.
func LWWRegisterKey[V any](id string, codec Codec[V]) Key[*LWWRegister[V]] {
	return NewKey(id, func() *LWWRegister[V] { return NewLWWRegister(codec) })
}

// MVRegisterKey returns a key for an MVRegister whose values encode with
// codec.
func MVRegisterKey[V any](id string, codec Codec[V]) Key[*MVRegister[V]] {
	return NewKey(id, func() *MVRegister[V] { return NewMVRegister(codec) })
}

// LWWMapKey returns a key for an LWWMap.
func LWWMapKey[K comparable, V any](id string, keys Codec[K], values Codec[V]) Key[*LWWMap[K, V]] {
	return NewKey(id, func() *LWWMap[K, V] { return NewLWWMap(keys, values) })
}

// PNCounterMapKey returns a key for a PNCounterMap.
func PNCounterMapKey[K comparable](id string, keys Codec[K]) Key[*PNCounterMap[K]] {
	return NewKey(id, func() *PNCounterMap[K] { return NewPNCounterMap(keys) })
}

// ORMultiMapKey returns a key for an ORMultiMap.
func ORMultiMapKey[K, E comparable](id string, keys Codec[K], elems Codec[E]) Key[*ORMultiMap[K, E]] {
	return NewKey(id, func() *ORMultiMap[K, E] { return NewORMultiMap(keys, elems) })
}

// ORMapKey returns a key for an ORMap whose values newValue makes.
func ORMapKey[K comparable, V CRDT[V]](id string, keys Codec[K], newValue func() V) Key[*ORMap[K, V]] {
	return NewKey(id, func() *ORMap[K, V] { return NewORMap(keys, newValue) })
}

// Op is what a modify function of Update is given besides the value: the
// identity and clock to apply operations with.
//
//	crdt.Update(ctx, r, hits, crdt.Local, func(c *crdt.GCounter, op crdt.Op) {
//		c.Increment(op.Replica, 1)
//	})
type Op struct {
	// Replica is this member's replica id, the acting replica of every
	// operation.
	Replica string
	// Clock is the replica's hybrid logical clock (LWWRegister, LWWMap).
	Clock *HLC
	// Now is the physical time of the update (the replicator's clock).
	Now time.Time
}

// Consistency is how many replicas a write must reach, or a read must
// consult, before it returns — Akka Distributed Data's levels. N is the
// number of members in this member's view, reachable or not (so that two
// sides of a partition can never both reach a majority); this member
// counts as one. A read sees the latest acknowledged write when the
// replicas written plus the replicas read exceed N: Majority writes with
// Majority reads, All with Local, and so on.
//
// The zero Consistency is Local.
type Consistency struct {
	level level
	n     int
}

type level uint8

const (
	levelLocal level = iota
	levelTo
	levelMajority
	levelAll
	levelEnd
)

var (
	// Local: this member only. A write returns once applied here (its
	// delta leaves within Config.BatchWindow); a read returns the local
	// replica.
	Local = Consistency{level: levelLocal}
	// Majority: N/2+1 replicas.
	Majority = Consistency{level: levelMajority}
	// All: every member of the view.
	All = Consistency{level: levelAll}
)

// To returns the level "n replicas" (this member included); n must be at
// least 1. When n exceeds N the call fails, as Akka's WriteTo(n) does.
func To(n int) Consistency { return Consistency{level: levelTo, n: n} }

// MajorityPlus returns the level "a majority plus k more replicas" (at most
// N); k must be at least 0.
func MajorityPlus(k int) Consistency { return Consistency{level: levelMajority, n: k} }

func (c Consistency) String() string {
	switch c.level {
	case levelLocal:
		return "local"
	case levelTo:
		return fmt.Sprintf("to(%d)", c.n)
	case levelMajority:
		if c.n > 0 {
			return fmt.Sprintf("majority+%d", c.n)
		}
		return "majority"
	case levelAll:
		return "all"
	}
	return fmt.Sprintf("Consistency(%d)", c.level)
}

func (c Consistency) check() error {
	switch {
	case c.level >= levelEnd:
		return fmt.Errorf("%w: level %d (use Local, To(n), Majority, MajorityPlus(k) or All)", ErrConsistency, c.level)
	case c.level == levelTo && c.n < 1:
		return fmt.Errorf("%w: To(%d): n must be at least 1", ErrConsistency, c.n)
	case c.level == levelMajority && c.n < 0:
		return fmt.Errorf("%w: MajorityPlus(%d): k must be at least 0", ErrConsistency, c.n)
	case (c.level == levelLocal || c.level == levelAll) && c.n != 0:
		return fmt.Errorf("%w: %v with n=%d", ErrConsistency, c.level, c.n)
	}
	return nil
}

// required returns how many replicas (self included) the level needs among
// n members.
func (c Consistency) required(n int) int {
	switch c.level {
	case levelTo:
		return c.n
	case levelMajority:
		return min(n, n/2+1+c.n)
	case levelAll:
		return n
	}
	return 1
}
