package crdt

import "errors"

// Errors returned by this package. Compare them with errors.Is: the errors
// actually returned wrap these and name the offset, field or type concerned.
// Only encoding and decoding return errors; merging and operations cannot
// fail.
var (
	// ErrMalformed: an encoding is not one this package produces —
	// truncated, trailing bytes, a varint that is overlong or overflows,
	// entries out of canonical order or duplicated, a dot or span outside
	// the causal context, a zero counter, or an element, key or value that
	// its Codec (or nested CRDT) refused. The message names the offset and
	// what was expected, e.g.
	//
	//	crdt: malformed encoding: offset 14: element 3 not after element 2 (elements must be sorted by their encoding, without duplicates)
	ErrMalformed = errors.New("crdt: malformed encoding")
	// ErrTooLarge: a count or length in an encoding is larger than what the
	// rest of the input could hold (every item takes at least one byte), so
	// decoding stops before allocating for it. Decoders never allocate more
	// than a small constant times the input's length.
	ErrTooLarge = errors.New("crdt: encoded count or length too large")
	// ErrVersion: the encoding's format version is not the one this package
	// reads (EncodingVersion). The message names both.
	ErrVersion = errors.New("crdt: unsupported encoding version")
	// ErrTypeMismatch: the encoding holds a different CRDT than the value
	// decoding it, e.g. an ORSet's bytes given to GCounter.UnmarshalBinary.
	// The message names both kinds; KindOf reads the kind without decoding.
	ErrTypeMismatch = errors.New("crdt: encoding holds a different CRDT type")
	// ErrNoCodec: a generic value (GSet, ORSet, registers, maps) was encoded
	// or decoded without the Codec for its element, key or value type, or an
	// ORMap without its value constructor: it was not created by its New…
	// function. Create it with NewORSet(codec) and the like.
	ErrNoCodec = errors.New("crdt: no codec")
)

// Errors returned by the replicator (Replicator, Update, Get, Delete and
// the shared values). Compare them with errors.Is.
var (
	// ErrInvalidKey: a key id that is empty, too long (MaxKeyLen), not
	// UTF-8 or contains '*'; or a zero Key, or one of a type the
	// replicator cannot hold (not one of this package's types).
	ErrInvalidKey = errors.New("crdt: invalid key")
	// ErrKeyType: the key id holds a value of another type than the Key
	// used (a GCounterKey and an ORSetKey with one id, say). The message
	// names both. Nothing is changed.
	ErrKeyType = errors.New("crdt: key used with two types")
	// ErrValueTooLarge: the update would make the value's encoding larger
	// than Config.MaxValueSize. Nothing is changed.
	ErrValueTooLarge = errors.New("crdt: value too large")
	// ErrConsistency: an unknown consistency level, To(n) with n < 1 or
	// MajorityPlus(k) with k < 0.
	ErrConsistency = errors.New("crdt: unknown consistency level")
	// ErrWriteIncomplete: a write was applied locally but fewer replicas
	// than its consistency level acknowledged it before the context ended
	// (or every member answered). The write is not lost: it may still
	// spread to every replica by deltas and anti-entropy. The message says
	// how many acknowledged of how many required.
	ErrWriteIncomplete = errors.New("crdt: write reached fewer replicas than its consistency level; it may still spread")
	// ErrReadIncomplete: fewer replicas than the read's consistency level
	// answered before the context ended. The local value may be stale.
	ErrReadIncomplete = errors.New("crdt: read reached fewer replicas than its consistency level")
	// ErrNotFound: Get of a key that holds no value on the replicas read.
	ErrNotFound = errors.New("crdt: key not found")
	// ErrDeleted: the key was deleted; a deleted key can never be used
	// again (as in Akka).
	ErrDeleted = errors.New("crdt: key deleted")
	// ErrStopped: the replicator is not running (before Start, after Stop).
	ErrStopped = errors.New("crdt: replicator stopped")
	// ErrInvalidConfig: a Config field out of range; the message names the
	// field and the allowed range.
	ErrInvalidConfig = errors.New("crdt: invalid config")
)
