// Package frame is the length-prefixed framing of protobuf messages on the
// members' cluster streams: a 4-byte big-endian length, then the message.
package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

// ErrTooLarge: a frame is larger than the reader's or writer's limit.
var ErrTooLarge = errors.New("frame: too large")

// Append appends m, framed, to b. A frame over max bytes (after the
// prefix) is ErrTooLarge.
func Append(b []byte, m proto.Message, max int) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return b[:start], err
	}
	n := len(b) - start - 4
	if n > max {
		return b[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// Read reads one frame into m. It allocates a large frame's buffer only as
// its bytes arrive, and never more than max.
func Read(r *bufio.Reader, m proto.Message, max int) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	var buf []byte
	if n <= 64<<10 {
		buf = make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
	} else {
		var err error
		if buf, err = io.ReadAll(io.LimitReader(r, int64(n))); err != nil {
			return err
		}
		if len(buf) != int(n) {
			return io.ErrUnexpectedEOF
		}
	}
	return proto.Unmarshal(buf, m)
}
