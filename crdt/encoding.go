package crdt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// EncodingVersion is the format version written in the first byte of every
// encoding. Decoders reject other versions with ErrVersion.
const EncodingVersion = 1

// The header is: version, kind, flags.
const headerLen = 3

// flagDelta marks a delta of a type whose deltas list every element they
// touch (ORSet, ORMultiMap, ORMap and the maps built on it): merging one
// into a replica only visits those elements. Other types write no flags.
const flagDelta = 1

func appendHeader(b []byte, k Kind, flags byte) []byte {
	return append(b, EncodingVersion, byte(k), flags)
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

// appendBytes appends b's length and b.
func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendUvarint(b []byte, n int) []byte { return binary.AppendUvarint(b, uint64(n)) }

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendFramed appends the encoding of v by app, framed with its length.
func appendFramed[E any](dst []byte, app func([]byte, E) []byte, v E) []byte {
	dst, _ = appendFramedErr(dst, func(b []byte) ([]byte, error) { return app(b, v), nil })
	return dst
}

// appendFramedErr appends what app appends, framed with its length. It
// reserves one length byte and moves the encoding when it is 128 bytes or
// more, so it needs no scratch buffer.
func appendFramedErr(dst []byte, app func([]byte) ([]byte, error)) ([]byte, error) {
	at := len(dst)
	dst, err := app(append(dst, 0))
	if err != nil {
		return dst[:at], err
	}
	n := len(dst) - at - 1
	if n < 0x80 {
		dst[at] = byte(n)
		return dst, nil
	}
	k := uvarintLen(uint64(n))
	dst = append(dst, make([]byte, k-1)...)
	copy(dst[at+k:], dst[at+1:at+1+n])
	binary.PutUvarint(dst[at:], uint64(n))
	return dst, nil
}

// encoded holds the encodings of a value's elements (or keys) in one
// buffer, to write them sorted by their bytes, the order of every encoding.
type encoded struct {
	buf  []byte
	offs [][2]int
}

func (e *encoded) add(app func([]byte) []byte) {
	at := len(e.buf)
	e.buf = app(e.buf)
	e.offs = append(e.offs, [2]int{at, len(e.buf)})
}

func (e *encoded) bytes(i int) []byte { return e.buf[e.offs[i][0]:e.offs[i][1]] }

// order returns the indexes of the added items sorted by their bytes.
func (e *encoded) order() []int {
	idx := make([]int, len(e.offs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(e.bytes(a), e.bytes(b)) })
	return idx
}

// decoder reads an encoding. Its error is sticky: after the first problem
// every read returns a zero value, and err says what and where.
type decoder struct {
	data []byte
	off  int
	err  error
}

// newDecoder checks the header of data against want and returns a decoder
// positioned after it and the header's flags. allowed are the flags the
// kind may carry.
func newDecoder(data []byte, want Kind, allowed byte) (*decoder, byte) {
	d := &decoder{data: data}
	k, err := KindOf(data)
	if err != nil {
		d.err = err
		return d, 0
	}
	if k != want {
		d.err = fmt.Errorf("%w: encoded %v, decoding into %v", ErrTypeMismatch, k, want)
		return d, 0
	}
	flags := data[2]
	if flags&^allowed != 0 {
		d.err = fmt.Errorf("%w: offset 2: flags %#x, a %v allows only %#x", ErrMalformed, flags, want, allowed)
		return d, 0
	}
	d.off = headerLen
	return d, flags
}

func (d *decoder) failf(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: offset %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, args...))
	}
}

// wrapf records err (a codec's or a nested value's) as malformed.
func (d *decoder) wrapf(err error, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: offset %d: %s: %w", ErrMalformed, d.off, fmt.Sprintf(format, args...), err)
	}
}

func (d *decoder) ok() bool { return d.err == nil }

func (d *decoder) remaining() int { return len(d.data) - d.off }

// finish returns the decoder's error, or ErrMalformed if bytes are left.
func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.data) {
		d.failf("%d trailing bytes after the value", len(d.data)-d.off)
	}
	return d.err
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.data) {
		d.failf("truncated: want 1 more byte")
		return 0
	}
	b := d.data[d.off]
	d.off++
	return b
}

// uvarint reads an unsigned varint in its shortest form.
func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.off:])
	switch {
	case n == 0:
		d.failf("truncated %s varint", what)
		return 0
	case n < 0:
		d.failf("%s varint overflows 64 bits", what)
		return 0
	case n != uvarintLen(v):
		d.failf("%s varint is not in its shortest form", what)
		return 0
	}
	d.off += n
	return v
}

// varint reads a zig-zag varint in its shortest form.
func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.data[d.off:])
	switch {
	case n == 0:
		d.failf("truncated %s varint", what)
		return 0
	case n < 0:
		d.failf("%s varint overflows 64 bits", what)
		return 0
	case n != varintLen(v):
		d.failf("%s varint is not in its shortest form", what)
		return 0
	}
	d.off += n
	return v
}

// count reads a count of items that take at least one byte each: it is at
// most the number of bytes left, so a make sized by it is bounded by the
// input.
func (d *decoder) count(what string) int {
	v := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if v > uint64(d.remaining()) {
		d.err = fmt.Errorf("%w: offset %d: %d %s, but only %d bytes follow", ErrTooLarge, d.off, v, what, d.remaining())
		return 0
	}
	return int(v)
}

// bytes reads a length-prefixed byte string. The result aliases the input.
func (d *decoder) bytes(what string) []byte {
	n := d.count(what + " length")
	if d.err != nil {
		return nil
	}
	b := d.data[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// decodeElem reads a framed element with c.
func decodeElem[E any](d *decoder, c Codec[E], what string, i int) (E, []byte) {
	var zero E
	raw := d.bytes(what)
	if d.err != nil {
		return zero, nil
	}
	e, err := c.Decode(raw)
	if err != nil {
		d.wrapf(err, "%s %d", what, i)
		return zero, nil
	}
	return e, raw
}

// sortedAfter checks that raw sorts strictly after prev (the previous
// element's bytes, nil for the first).
func (d *decoder) sortedAfter(prev, raw []byte, what string, i int) {
	if i > 0 && bytes.Compare(prev, raw) >= 0 {
		d.failf("%s %d not after %s %d (%ss must be sorted by their encoding, without duplicates)", what, i, what, i-1, what)
	}
}
