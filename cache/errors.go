package cache

import "errors"

// Errors returned by this package. Compare them with errors.Is; the
// wrapped message names the argument or field and what is allowed.
var (
	// ErrInvalid: a bad argument or Config field (a negative TTL, an empty
	// cache name, a distributed tier without a Host, ...).
	ErrInvalid = errors.New("cache: invalid argument")
	// ErrClosed: the cache (or its Host) is closed.
	ErrClosed = errors.New("cache: closed")
	// ErrCodec: the codec could not encode a key or a value, or decode a
	// stored value.
	ErrCodec = errors.New("cache: codec failed")
	// ErrTooLarge: an encoded value is larger than Config.MaxValueSize.
	ErrTooLarge = errors.New("cache: value too large")
	// ErrNotInteger: Incr on a value whose encoding is not a decimal
	// integer.
	ErrNotInteger = errors.New("cache: value is not an integer")
	// ErrCompute: a GetOrCompute computation failed on another member (or
	// a cached failure, see CacheErrors); the message carries its text.
	// Callers on the member that ran the computation get its own error.
	ErrCompute = errors.New("cache: computation failed")
	// ErrUnavailable: a write could not reach the key's owner before the
	// caller's deadline (or Config.RequestTimeout). Reads never return it:
	// an unreachable owner is a miss.
	ErrUnavailable = errors.New("cache: owner unavailable")
)
