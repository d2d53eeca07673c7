package crdt

import (
	"fmt"
	"testing"
	"time"
)

var testTime = time.Unix(1_700_000_000, 0)

func bigORSet(n int) *ORSet[string] {
	s := NewORSet(StringCodec())
	for i := range n {
		s.Add(fmt.Sprintf("replica-%d", i%5), fmt.Sprintf("element-%05d", i))
	}
	s.TakeDelta()
	return s
}

// One Add and its delta's extraction and encoding, on a 10k-element set.
func BenchmarkORSetAddDelta(b *testing.B) {
	s := bigORSet(10_000)
	elems := make([]string, 1024)
	for i := range elems {
		elems[i] = fmt.Sprintf("new-%d", i)
	}
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Add("replica-0", elems[i%len(elems)])
		d, _ := s.TakeDelta()
		buf, _ = d.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "delta-bytes")
}

// Merging one Add's delta into a 10k-element replica.
func BenchmarkORSetMergeDelta(b *testing.B) {
	s := bigORSet(10_000)
	peer := s.Clone()
	deltas := make([]*ORSet[string], 1024)
	for i := range deltas {
		s.Add("replica-1", fmt.Sprintf("new-%d", i))
		deltas[i], _ = s.TakeDelta()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		peer.Merge(deltas[i%len(deltas)])
	}
}

// Encoding and decoding the full state of a 10k-element set.
func BenchmarkORSetEncodeFull(b *testing.B) {
	s := bigORSet(10_000)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

func BenchmarkORSetDecodeFull(b *testing.B) {
	data, _ := bigORSet(10_000).MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		if err := NewORSet(StringCodec()).UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGCounterIncrementDelta(b *testing.B) {
	g := NewGCounter()
	b.ReportAllocs()
	for b.Loop() {
		g.Increment("a", 1)
		g.TakeDelta()
	}
}

func BenchmarkLWWMapPut(b *testing.B) {
	m := NewLWWMap(StringCodec(), StringCodec())
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	var clk HLC
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Put("a", keys[i%len(keys)], "v", &clk, testTime)
		if i%64 == 0 {
			m.TakeDelta()
		}
	}
}
