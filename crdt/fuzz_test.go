package crdt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"testing"
)

// Fuzz targets, one per decoder. Each seeds the corpus with encodings of
// random histories' states and deltas (and testdata/fuzz holds more), then
// checks, for any input:
//
//   - UnmarshalBinary never panics, and fails only with this package's
//     errors;
//   - what it accepts is canonical: it re-encodes to the same bytes;
//   - what it accepts is usable: merging, operations and pruning do not
//     panic, and Merge is idempotent on it.
//
// Run one with, e.g.,
//
//	go test -run=^$ -fuzz=FuzzORSet -fuzztime=10s ./crdt

func fuzzDecoder[T CRDT[T]](f *testing.F, s spec[T]) {
	for seed := range uint64(8) {
		g := &rnd{r: rand.New(rand.NewPCG(seed, 7))}
		reps, deltas := history(f, g, s)
		for _, x := range append(reps, deltas...) {
			f.Add(enc(f, x))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{EncodingVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		x := s.empty()
		if err := x.UnmarshalBinary(data); err != nil {
			for _, known := range []error{ErrMalformed, ErrTooLarge, ErrVersion, ErrTypeMismatch} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("UnmarshalBinary: unexpected error %v", err)
		}
		if out := enc(t, x); !bytes.Equal(out, data) {
			t.Fatalf("accepted a non-canonical encoding:\n  in  % x\n  out % x", data, out)
		}
		y := x.Clone()
		y.Merge(x)
		sameState(t, s, "x⊔x vs x", y, x)

		h := fnv.New64a()
		h.Write(data)
		g := &rnd{r: rand.New(rand.NewPCG(h.Sum64(), 1))}
		w := &world{}
		z := s.empty()
		for range 3 {
			s.op(g, w, z, "fuzz")
		}
		z.Merge(x)
		for _, r := range append(bookkeeping(x), "fuzz") {
			s.op(g, w, z, r)
			z.Prune("fuzz", r)
			z.PruneCleanup(r)
		}
		enc(t, z)
		if d, ok := z.TakeDelta(); ok {
			x.Merge(d)
		}
		enc(t, x)
		s.value(x)
	})
}

func FuzzGCounter(f *testing.F)      { fuzzDecoder(f, gcounterSpec()) }
func FuzzPNCounter(f *testing.F)     { fuzzDecoder(f, pncounterSpec()) }
func FuzzGSet(f *testing.F)          { fuzzDecoder(f, gsetSpec()) }
func FuzzORSet(f *testing.F)         { fuzzDecoder(f, orsetSpec()) }
func FuzzLWWRegister(f *testing.F)   { fuzzDecoder(f, lwwRegisterSpec()) }
func FuzzMVRegister(f *testing.F)    { fuzzDecoder(f, mvRegisterSpec()) }
func FuzzFlag(f *testing.F)          { fuzzDecoder(f, flagSpec()) }
func FuzzORMap(f *testing.F)         { fuzzDecoder(f, setMapSpec()) }
func FuzzORMapCounters(f *testing.F) { fuzzDecoder(f, counterMapSpec()) }
func FuzzLWWMap(f *testing.F)        { fuzzDecoder(f, lwwMapSpec()) }
func FuzzORMultiMap(f *testing.F)    { fuzzDecoder(f, multiMapSpec()) }
func FuzzPNCounterMap(f *testing.F)  { fuzzDecoder(f, pnCounterMapSpec()) }

// KindOf reads any input without panicking and agrees with the decoders.
func FuzzKindOf(f *testing.F) {
	f.Add([]byte{1, byte(KindORSet), 0})
	f.Add(binary.AppendUvarint([]byte{1, 0, 0}, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := KindOf(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("KindOf: unexpected error %v", err)
			}
			return
		}
		if k == 0 || k >= kindEnd {
			t.Fatalf("KindOf returned unknown kind %d without error", k)
		}
	})
}
