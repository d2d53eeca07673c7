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
