package frame

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestRoundTripAndLimits(t *testing.T) {
	var b []byte
	var err error
	for _, s := range []string{"a", "", string(make([]byte, 100<<10))} {
		if b, err = Append(b, wrapperspb.String(s), 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(bytes.NewReader(b))
	for i, want := range []int{1, 0, 100 << 10} {
		var m wrapperspb.StringValue
		if err := Read(r, &m, 1<<20); err != nil || len(m.Value) != want {
			t.Fatalf("frame %d: %d bytes, %v; want %d", i, len(m.Value), err, want)
		}
	}
	if _, err := Append(nil, wrapperspb.String("too long"), 4); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append over the limit: %v, want ErrTooLarge", err)
	}
	big, _ := Append(nil, wrapperspb.String("too long"), 1<<20)
	if err := Read(bufio.NewReader(bytes.NewReader(big)), &wrapperspb.StringValue{}, 4); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read over the limit: %v, want ErrTooLarge", err)
	}
}

// FuzzRead: any bytes give a message or an error, never a panic or an
// allocation past the limit.
func FuzzRead(f *testing.F) {
	ok, _ := Append(nil, wrapperspb.String("seed"), 1<<10)
	f.Add(ok)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 3, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			var m wrapperspb.StringValue
			if err := Read(r, &m, 1<<10); err != nil {
				return
			}
		}
	})
}
