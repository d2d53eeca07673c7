package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// One Add to an ORSet of 10,000 elements has a delta of at most 1% of the
// full state's bytes (the benchmark's budget); in fact a few dozen bytes.
func TestORSetDeltaOfOneAddIsTiny(t *testing.T) {
	s := NewORSet(StringCodec())
	for i := range 10_000 {
		s.Add(fmt.Sprintf("replica-%d", i%5), fmt.Sprintf("element-%05d", i))
	}
	s.TakeDelta()
	peer := s.Clone() // a replica that has everything but the add
	s.Add("replica-0", "one more")
	d, ok := s.TakeDelta()
	if !ok {
		t.Fatal("no delta after Add")
	}
	full, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	delta, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(len(delta)) / float64(len(full))
	t.Logf("delta %d bytes, full state %d bytes, ratio %.6f", len(delta), len(full), ratio)
	if ratio > 0.01 {
		t.Errorf("delta/full = %d/%d = %.4f, want <= 0.01", len(delta), len(full), ratio)
	}
	// The decoded delta brings the peer up to date.
	got := NewORSet(StringCodec())
	if err := got.UnmarshalBinary(delta); err != nil {
		t.Fatal(err)
	}
	peer.Merge(got)
	if !bytes.Equal(enc(t, peer), full) {
		t.Error("peer ⊔ delta differs from the state after the add")
	}
}

// Adding to a large set allocates a constant amount, not one proportional
// to the set.
func TestORSetAddAllocations(t *testing.T) {
	s := NewORSet(Int64Codec())
	for i := range int64(10_000) {
		s.Add("a", i)
	}
	s.TakeDelta()
	i := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		s.Add("a", i%10_000) // re-add: the element's dot slice is reused
		i++
	})
	if allocs > 4 {
		t.Errorf("Add allocates %.1f times per call, want at most 4", allocs)
	}
}

func TestKindOf(t *testing.T) {
	values := map[Kind]interface{ MarshalBinary() ([]byte, error) }{
		KindGCounter:     NewGCounter(),
		KindPNCounter:    NewPNCounter(),
		KindGSet:         NewGSet(StringCodec()),
		KindORSet:        NewORSet(StringCodec()),
		KindLWWRegister:  NewLWWRegister(StringCodec()),
		KindMVRegister:   NewMVRegister(StringCodec()),
		KindFlag:         NewFlag(),
		KindORMap:        counterMap(),
		KindLWWMap:       NewLWWMap(StringCodec(), StringCodec()),
		KindORMultiMap:   NewORMultiMap(StringCodec(), StringCodec()),
		KindPNCounterMap: NewPNCounterMap(StringCodec()),
	}
	for want, v := range values {
		b, err := v.MarshalBinary()
		if err != nil {
			t.Fatalf("%v: %v", want, err)
		}
		if got, err := KindOf(b); got != want || err != nil {
			t.Errorf("KindOf(%v encoding) = %v, %v", want, got, err)
		}
		if want.String() == "" || strings.HasPrefix(want.String(), "Kind(") {
			t.Errorf("Kind %d has no name", want)
		}
	}
	if Kind(99).String() != "Kind(99)" {
		t.Errorf("Kind(99).String() = %q", Kind(99).String())
	}
}

func TestDecodeErrors(t *testing.T) {
	s := NewORSet(StringCodec())
	s.Add("a", "x")
	s.Add("b", "y")
	good, _ := s.MarshalBinary()
	g := NewGCounter()
	g.Increment("a", 1)
	counter, _ := g.MarshalBinary()

	for _, tc := range []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrMalformed, "a header is 3"},
		{"other version", append([]byte{2}, good[1:]...), ErrVersion, "version 2, this package reads version 1"},
		{"unknown kind", []byte{1, 99, 0}, ErrMalformed, "unknown kind 99"},
		{"another type", counter, ErrTypeMismatch, "encoded GCounter, decoding into ORSet"},
		{"unknown flags", append([]byte{1, byte(KindORSet), 4}, good[3:]...), ErrMalformed, "flags"},
		{"truncated", good[:len(good)-1], ErrMalformed, "truncated"},
		{"trailing bytes", append(good[:len(good):len(good)], 0), ErrMalformed, "trailing"},
		{"huge count", []byte{1, byte(KindORSet), 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, ErrTooLarge, "only 0 bytes follow"},
		{"overlong varint", []byte{1, byte(KindORSet), 0, 0x80, 0x00, 0}, ErrMalformed, "shortest form"},
		{"unsorted replicas", []byte{1, byte(KindORSet), 0, 2, 1, 'b', 1, 0, 0, 1, 'a', 1, 0, 0, 0}, ErrMalformed, "replica 1 not after replica 0"},
		{"replica without spans", []byte{1, byte(KindORSet), 0, 1, 1, 'a', 0, 0}, ErrMalformed, "no spans"},
		{"dot outside the context", []byte{1, byte(KindORSet), 0, 1, 1, 'a', 1, 0, 0, 1, 1, 'x', 1, 0, 2}, ErrMalformed, "not in the causal context"},
		{"full state element without dots", []byte{1, byte(KindORSet), 0, 0, 1, 1, 'x', 0}, ErrMalformed, "at least 1 required"},
		{"duplicate elements", []byte{1, byte(KindORSet), 1, 0, 2, 1, 'x', 0, 1, 'x', 0}, ErrMalformed, "element 1 not after element 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewORSet(StringCodec())
			r.Add("keep", "me")
			err := r.UnmarshalBinary(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if !r.Contains("me") || r.Len() != 1 {
				t.Error("a failed UnmarshalBinary changed the receiver")
			}
		})
	}
}

func TestCodecErrors(t *testing.T) {
	m := NewORMultiMap(StringCodec(), Int64Codec())
	m.Put("a", "k", 300)
	b, _ := m.MarshalBinary()
	// Make the element's varint overlong: 300 is ac 04; "ac 84 00" decodes
	// to 300 too but is not the shortest form.
	i := bytes.Index(b, []byte{2, 0xd8, 0x04})
	if i < 0 {
		t.Fatalf("element not found in % x", b)
	}
	bad := append(append(append([]byte{}, b[:i]...), 3, 0xd8, 0x84, 0x00), b[i+3:]...)
	err := m.UnmarshalBinary(bad)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "shortest") {
		t.Errorf("overlong element: %v, want ErrMalformed naming the codec's complaint", err)
	}

	om := NewORMap(StringCodec(), func() *GCounter { return NewGCounter() })
	om.Update("a", "k", func(c *GCounter) { c.Increment("a", 1) })
	ob, _ := om.MarshalBinary()
	ob[len(ob)-1] = 0 // the counter's total: zero totals are not encoded
	if err := om.UnmarshalBinary(ob); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "value") {
		t.Errorf("bad nested value: %v, want ErrMalformed naming the value", err)
	}
}

func TestNoCodec(t *testing.T) {
	for name, v := range map[string]interface {
		MarshalBinary() ([]byte, error)
		UnmarshalBinary([]byte) error
	}{
		"GSet":         &GSet[string]{},
		"ORSet":        &ORSet[string]{},
		"LWWRegister":  &LWWRegister[string]{},
		"MVRegister":   &MVRegister[string]{},
		"ORMap":        &ORMap[string, *GCounter]{},
		"LWWMap":       &LWWMap[string, string]{},
		"ORMultiMap":   &ORMultiMap[string, string]{},
		"PNCounterMap": &PNCounterMap[string]{},
	} {
		if _, err := v.MarshalBinary(); !errors.Is(err, ErrNoCodec) || !strings.Contains(err.Error(), "New"+name) {
			t.Errorf("%s: MarshalBinary of the zero value: %v, want ErrNoCodec naming New%s", name, err, name)
		}
		if err := v.UnmarshalBinary([]byte{1, 1, 0, 0}); !errors.Is(err, ErrNoCodec) {
			t.Errorf("%s: UnmarshalBinary into the zero value: %v, want ErrNoCodec", name, err)
		}
	}
}

// The zero values of the generic types work for operations and merges.
func TestZeroValuesUsable(t *testing.T) {
	var s ORSet[string]
	s.Add("a", "x")
	var m LWWMap[string, int64]
	m.Put("a", "k", 1, &HLC{}, time.Unix(0, 1))
	var p PNCounterMap[string]
	p.Increment("a", "k", 2)
	var mm ORMultiMap[string, string]
	mm.Put("a", "k", "x")
	var f Flag
	f.Enable("a")
	var g GCounter
	g.Increment("a", 1)
	if !s.Contains("x") || !m.Contains("k") || !p.Contains("k") || !mm.Contains("k", "x") || !f.Value() || g.Value() != 1 {
		t.Error("an operation on a zero value was lost")
	}
}

// Equal states encode to equal bytes whatever built them; the encoding is
// the digest a replicator compares.
func TestEncodingIsCanonical(t *testing.T) {
	a := NewORSet(StringCodec())
	b := NewORSet(StringCodec())
	for _, e := range []string{"x", "y", "z"} {
		a.Add("r1", e)
	}
	for _, e := range []string{"z", "y", "x"} {
		b.Add("r2", e)
	}
	b.Remove("r2", "y")
	c := a.Clone()
	c.Merge(b)
	d := b.Clone()
	d.Merge(a)
	if !bytes.Equal(enc(t, c), enc(t, d)) {
		t.Error("a⊔b and b⊔a encode differently")
	}
}
