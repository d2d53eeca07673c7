package crdt

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
)

// This file is the causal machinery of the dot-based types (ORSet, Flag,
// MVRegister, ORMap, ORMultiMap): dots and causal contexts, as in Almeida,
// Shoker and Baquero, "Delta State Replicated Data Types" (2018), §4–6.

// A dot names one operation that added something: the n-th such operation
// of replica r (n >= 1). Only r mints r's dots, so a dot is unique across
// the cluster as long as a replica id is never reused after its state is
// lost.
type dot struct {
	r string
	n uint64
}

func (a dot) compare(b dot) int {
	if c := strings.Compare(a.r, b.r); c != 0 {
		return c
	}
	return cmp.Compare(a.n, b.n)
}

// span is the dots lo..hi (inclusive) of one replica.
type span struct{ lo, hi uint64 }

// succ is x+1, saturating.
func succ(x uint64) uint64 {
	if x == math.MaxUint64 {
		return x
	}
	return x + 1
}

// causal is a causal context: the set of dots a value has seen (added, and
// perhaps removed since). Per replica it is a sorted list of disjoint,
// non-adjacent spans, so the context of a state that has seen everything
// of a replica is one span 1..n — a version vector entry — and the context
// of a delta is the few dots it concerns. A state that joined deltas out of
// order has gaps (several spans) until the missing dots arrive.
//
// The zero causal is empty and ready to use.
type causal struct {
	m map[string][]span
}

func (c *causal) has(d dot) bool {
	sp := c.m[d.r]
	i := sort.Search(len(sp), func(i int) bool { return sp[i].hi >= d.n })
	return i < len(sp) && sp[i].lo <= d.n
}

// hasReplica reports whether the context has a dot of replica r.
func (c *causal) hasReplica(r string) bool {
	_, ok := c.m[r]
	return ok
}

// next returns the dot that replica r mints next: one after the highest
// dot of r seen. (At 2^64-1 it saturates; no replica gets there.)
func (c *causal) next(r string) dot {
	sp := c.m[r]
	if len(sp) == 0 {
		return dot{r, 1}
	}
	return dot{r, succ(sp[len(sp)-1].hi)}
}

func (c *causal) add(d dot) { c.addSpan(d.r, d.n, d.n) }

// addSpan adds the dots lo..hi of replica r (1 <= lo <= hi).
func (c *causal) addSpan(r string, lo, hi uint64) {
	if c.m == nil {
		c.m = make(map[string][]span)
	}
	sp := c.m[r]
	n := len(sp)
	switch {
	case n == 0:
		c.m[r] = []span{{lo, hi}}
		return
	case lo > succ(sp[n-1].hi):
		c.m[r] = append(sp, span{lo, hi})
		return
	case lo >= sp[n-1].lo:
		// The common case: the next dot of a compact context.
		sp[n-1].hi = max(sp[n-1].hi, hi)
		return
	}
	// i: first span that ends at or after lo-1; j: first span that starts
	// after hi+1. Spans i..j-1 overlap or touch lo..hi.
	i := sort.Search(n, func(i int) bool { return succ(sp[i].hi) >= lo })
	j := sort.Search(n, func(i int) bool { return sp[i].lo > succ(hi) })
	if i == j {
		c.m[r] = slices.Insert(sp, i, span{lo, hi})
		return
	}
	sp[i] = span{min(lo, sp[i].lo), max(hi, sp[j-1].hi)}
	c.m[r] = slices.Delete(sp, i+1, j)
}

// union adds every dot of o.
func (c *causal) union(o *causal) {
	for r, sp := range o.m {
		for _, s := range sp {
			c.addSpan(r, s.lo, s.hi)
		}
	}
}

// drop forgets every dot of replica r.
func (c *causal) drop(r string) { delete(c.m, r) }

func (c *causal) clone() causal {
	if len(c.m) == 0 {
		return causal{}
	}
	m := make(map[string][]span, len(c.m))
	for r, sp := range c.m {
		m[r] = slices.Clone(sp)
	}
	return causal{m}
}

// replicas returns the replicas with dots in c, sorted.
func (c *causal) replicas() []string {
	rs := make([]string, 0, len(c.m))
	for r := range c.m {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

// dotsIn reports whether d is one of ds (a dot list is a handful of dots).
func dotsHave(ds []dot, d dot) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// joinDots joins the dots sd of an entry of a store with context sc and the
// dots od of the same entry in another with context oc (Almeida et al.,
// the join of dot sets): a dot survives if both have it, or if one has it
// and the other has not seen it. The result reuses sd's array.
func joinDots(sd []dot, sc *causal, od []dot, oc *causal) []dot {
	out := sd[:0]
	for _, d := range sd {
		if dotsHave(od, d) || !oc.has(d) {
			out = append(out, d)
		}
	}
	kept := len(out)
	for _, d := range od {
		if !dotsHave(out[:kept], d) && !sc.has(d) {
			out = append(out, d)
		}
	}
	return out
}

// withoutDots returns ds without the dots in old (in place).
func withoutDots(ds, old []dot) []dot {
	out := ds[:0]
	for _, d := range ds {
		if !dotsHave(old, d) {
			out = append(out, d)
		}
	}
	return out
}

// withoutReplica returns ds without the dots of r (in place), and whether
// there were any.
func withoutReplica(ds []dot, r string) ([]dot, bool) {
	out := ds[:0]
	for _, d := range ds {
		if d.r != r {
			out = append(out, d)
		}
	}
	return out, len(out) != len(ds)
}

func hasReplica(ds []dot, r string) bool {
	for _, d := range ds {
		if d.r == r {
			return true
		}
	}
	return false
}

// The encoding of a causal context, shared by the dot-based types:
//
//	replicas  uvarint, then per replica in increasing order:
//	  id      uvarint length, bytes
//	  spans   uvarint (>= 1), then per span: gap, length-1 as uvarints,
//	          gap being lo-1 for the first span and lo-(previous hi)-2 after
//
// Dots that follow refer to a replica by its index in this list; every
// dot of the value is in its context.

// appendContext appends c and returns the index of each replica.
func appendContext(b []byte, c *causal) ([]byte, map[string]uint64) {
	rs := c.replicas()
	idx := make(map[string]uint64, len(rs))
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for i, r := range rs {
		idx[r] = uint64(i)
		b = appendString(b, r)
		sp := c.m[r]
		b = binary.AppendUvarint(b, uint64(len(sp)))
		var prev uint64
		for j, s := range sp {
			gap := s.lo - 1
			if j > 0 {
				gap = s.lo - prev - 2
			}
			b = binary.AppendUvarint(b, gap)
			b = binary.AppendUvarint(b, s.hi-s.lo)
			prev = s.hi
		}
	}
	return b, idx
}

func appendDot(b []byte, idx map[string]uint64, d dot) []byte {
	b = binary.AppendUvarint(b, idx[d.r])
	return binary.AppendUvarint(b, d.n)
}

// appendDots appends a count and the dots in increasing order.
func appendDots(b []byte, idx map[string]uint64, ds []dot) []byte {
	b = binary.AppendUvarint(b, uint64(len(ds)))
	if len(ds) > 1 && !slices.IsSortedFunc(ds, dot.compare) {
		ds = slices.SortedFunc(slices.Values(ds), dot.compare)
	}
	for _, d := range ds {
		b = appendDot(b, idx, d)
	}
	return b
}

// decodeContext reads a context and its replica table.
func decodeContext(d *decoder) (causal, []string) {
	n := d.count("replicas")
	if !d.ok() {
		return causal{}, nil
	}
	table := make([]string, 0, n)
	c := causal{m: make(map[string][]span, n)}
	for i := 0; i < n && d.ok(); i++ {
		r := string(d.bytes("replica id"))
		if i > 0 && table[i-1] >= r {
			d.failf("replica %d not after replica %d (replicas must be sorted, without duplicates)", i, i-1)
		}
		k := d.count("spans")
		if d.ok() && k == 0 {
			d.failf("replica %d has no spans (at least 1 is required)", i)
		}
		sp := make([]span, 0, k)
		var prev uint64
		for j := 0; j < k && d.ok(); j++ {
			gap := d.uvarint("span gap")
			length := d.uvarint("span length")
			var lo, hi, c1, c2 uint64
			if j == 0 {
				lo, c1 = bits.Add64(gap, 1, 0)
			} else {
				lo, c1 = bits.Add64(prev, 2, 0)
				lo, c2 = bits.Add64(lo, gap, c1)
				c1 = c2
			}
			hi, c2 = bits.Add64(lo, length, 0)
			if c1 != 0 || c2 != 0 {
				d.failf("span %d of replica %d overflows 64 bits", j, i)
			}
			sp = append(sp, span{lo, hi})
			prev = hi
		}
		table = append(table, r)
		c.m[r] = sp
	}
	return c, table
}

// decodeDot reads a dot, which must be in c.
func decodeDot(d *decoder, table []string, c *causal) dot {
	i := d.uvarint("dot replica")
	n := d.uvarint("dot counter")
	if !d.ok() {
		return dot{}
	}
	if i >= uint64(len(table)) {
		d.failf("dot replica index %d, the context has %d replicas", i, len(table))
		return dot{}
	}
	x := dot{table[i], n}
	if !c.has(x) {
		d.failf("dot (%q, %d) is not in the causal context", x.r, x.n)
		return dot{}
	}
	return x
}

// decodeDots reads a count (at least min) and that many dots in increasing
// order.
func decodeDots(d *decoder, table []string, c *causal, min int) []dot {
	k := d.count("dots")
	if d.ok() && k < min {
		d.failf("%d dots, at least %d required", k, min)
	}
	if !d.ok() {
		return nil
	}
	ds := make([]dot, 0, k)
	for j := 0; j < k && d.ok(); j++ {
		x := decodeDot(d, table, c)
		if j > 0 && d.ok() && ds[j-1].compare(x) >= 0 {
			d.failf("dot %d not after dot %d (dots must be sorted, without duplicates)", j, j-1)
		}
		ds = append(ds, x)
	}
	return ds
}
