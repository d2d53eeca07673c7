package grain

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/foundation-go/foundation/internal/protos"
)

// FuzzReadFrame feeds arbitrary bytes to the frame decoder: it never
// panics, refuses frames over maxFrame before allocating them, and
// decodes what encodeFrame wrote.
func FuzzReadFrame(f *testing.F) {
	good, _ := encodeFrame(&protos.GrainFrame{Type: protos.GrainFrame_REQUEST, Id: 7, Kind: "k", Identity: "i", Payload: []byte("x")})
	f.Add(good)
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x04, 0x00, 0x00, 0x01, 0x01})
	f.Add(append(binary.BigEndian.AppendUint32(nil, 3), 0x08, 0x96, 0x01))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := readFrame(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if n := binary.BigEndian.Uint32(b); n > maxFrame {
			t.Fatalf("accepted a frame of %d bytes", n)
		}
		again, err := encodeFrame(fr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readFrame(bufio.NewReader(bytes.NewReader(again))); err != nil {
			t.Fatalf("a decoded frame does not decode again: %v", err)
		}
	})
}
