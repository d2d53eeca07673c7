package crdt

import (
	"encoding/binary"
	"maps"
	"math"
	"math/bits"
	"slices"
)

// counts is a grow-only counter's state: each replica's total. Totals are
// never zero (a zero total is absent).
type counts map[string]uint64

func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

func (c counts) sum() uint64 {
	var s uint64
	for _, v := range c {
		s = satAdd(s, v)
	}
	return s
}

// merge joins o into *c (entry-wise max).
func (c *counts) merge(o counts) {
	for r, v := range o {
		if v > (*c)[r] {
			c.set(r, v)
		}
	}
}

func (c *counts) set(r string, v uint64) {
	if *c == nil {
		*c = make(counts)
	}
	(*c)[r] = v
}

// incr adds n to r's total and records the new total in *delta.
func (c *counts) incr(delta *counts, r string, n uint64) {
	v := satAdd((*c)[r], n)
	c.set(r, v)
	delta.set(r, v)
}

// prune folds removed's total into owner's.
func (c *counts) prune(delta *counts, owner, removed string) {
	v, ok := (*c)[removed]
	if !ok || owner == removed {
		return
	}
	delete(*c, removed)
	delete(*delta, removed)
	c.incr(delta, owner, v)
}

func (c counts) appendTo(b []byte) []byte {
	rs := slices.Sorted(maps.Keys(c))
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = appendString(b, r)
		b = binary.AppendUvarint(b, c[r])
	}
	return b
}

func decodeCounts(d *decoder) counts {
	n := d.count("replicas")
	if !d.ok() || n == 0 {
		return nil
	}
	c := make(counts, n)
	var prev string
	for i := 0; i < n && d.ok(); i++ {
		r := string(d.bytes("replica id"))
		if i > 0 && prev >= r {
			d.failf("replica %d not after replica %d (replicas must be sorted, without duplicates)", i, i-1)
		}
		v := d.uvarint("count")
		if d.ok() && v == 0 {
			d.failf("replica %d has count 0 (zero counts are left out)", i)
		}
		c[r] = v
		prev = r
	}
	return c
}

// GCounter is a grow-only counter: each replica increments its own total,
// the value is the sum of the totals, and Merge takes each replica's
// maximum. Its delta holds the new totals of the replicas that
// incremented; deltas need no causal delivery. Prune adds the removed
// replica's total to the owner's.
//
// The zero GCounter is 0 and ready to use. The value saturates at
// math.MaxUint64.
type GCounter struct {
	c     counts
	delta counts
}

// NewGCounter returns a zero counter.
func NewGCounter() *GCounter { return &GCounter{} }

// Increment adds n to the counter as replica's increment.
func (g *GCounter) Increment(replica string, n uint64) {
	if n > 0 {
		g.c.incr(&g.delta, replica, n)
	}
}

// Value returns the sum of all increments.
func (g *GCounter) Value() uint64 { return g.c.sum() }

// Merge joins other into g.
func (g *GCounter) Merge(other *GCounter) {
	if other != nil && other != g {
		g.c.merge(other.c)
	}
}

// HasDelta reports whether g was incremented since the last TakeDelta.
func (g *GCounter) HasDelta() bool { return len(g.delta) > 0 }

// TakeDelta returns the totals changed since the last TakeDelta.
func (g *GCounter) TakeDelta() (*GCounter, bool) {
	if len(g.delta) == 0 {
		return nil, false
	}
	d := &GCounter{c: g.delta}
	g.delta = nil
	return d, true
}

// Clone returns a copy of g without its pending delta.
func (g *GCounter) Clone() *GCounter { return &GCounter{c: maps.Clone(g.c)} }

// NeedsPruning reports whether removed has a total in g.
func (g *GCounter) NeedsPruning(removed string) bool {
	_, ok := g.c[removed]
	return ok
}

// Prune adds removed's total to owner's and forgets removed.
func (g *GCounter) Prune(owner, removed string) { g.c.prune(&g.delta, owner, removed) }

// PruneCleanup forgets removed's total.
func (g *GCounter) PruneCleanup(removed string) {
	delete(g.c, removed)
	delete(g.delta, removed)
}

// AppendBinary appends g's encoding: the header, then the number of
// replicas and each replica's id and total, sorted by id.
func (g *GCounter) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, KindGCounter, 0)
	return g.c.appendTo(b), nil
}

// MarshalBinary returns g's encoding.
func (g *GCounter) MarshalBinary() ([]byte, error) { return g.AppendBinary(nil) }

// UnmarshalBinary replaces g with the GCounter encoded in data.
func (g *GCounter) UnmarshalBinary(data []byte) error {
	d, _ := newDecoder(data, KindGCounter, 0)
	c := decodeCounts(d)
	if err := d.finish(); err != nil {
		return err
	}
	*g = GCounter{c: c}
	return nil
}

// PNCounter is a counter that can go up and down: two grow-only counters,
// one of increments and one of decrements. Its delta holds the changed
// totals; deltas need no causal delivery. Prune folds the removed
// replica's totals into the owner's.
//
// The zero PNCounter is 0 and ready to use. Value saturates at the int64
// range.
type PNCounter struct {
	p, n   counts
	dp, dn counts
}

// NewPNCounter returns a zero counter.
func NewPNCounter() *PNCounter { return &PNCounter{} }

// Increment adds n as replica's increment.
func (c *PNCounter) Increment(replica string, n uint64) {
	if n > 0 {
		c.p.incr(&c.dp, replica, n)
	}
}

// Decrement subtracts n as replica's decrement.
func (c *PNCounter) Decrement(replica string, n uint64) {
	if n > 0 {
		c.n.incr(&c.dn, replica, n)
	}
}

// Add adds n (which may be negative) as replica's change.
func (c *PNCounter) Add(replica string, n int64) {
	if n >= 0 {
		c.Increment(replica, uint64(n))
	} else {
		c.Decrement(replica, uint64(-(n+1))+1)
	}
}

// Value returns the increments minus the decrements.
func (c *PNCounter) Value() int64 { return difference(c.p.sum(), c.n.sum()) }

func difference(p, n uint64) int64 {
	if p >= n {
		return int64(min(p-n, math.MaxInt64))
	}
	if d := n - p; d <= math.MaxInt64 {
		return -int64(d)
	}
	return math.MinInt64
}

// Merge joins other into c.
func (c *PNCounter) Merge(other *PNCounter) {
	if other != nil && other != c {
		c.p.merge(other.p)
		c.n.merge(other.n)
	}
}

// HasDelta reports whether c changed since the last TakeDelta.
func (c *PNCounter) HasDelta() bool { return len(c.dp)+len(c.dn) > 0 }

// TakeDelta returns the totals changed since the last TakeDelta.
func (c *PNCounter) TakeDelta() (*PNCounter, bool) {
	if !c.HasDelta() {
		return nil, false
	}
	d := &PNCounter{p: c.dp, n: c.dn}
	c.dp, c.dn = nil, nil
	return d, true
}

// Clone returns a copy of c without its pending delta.
func (c *PNCounter) Clone() *PNCounter {
	return &PNCounter{p: maps.Clone(c.p), n: maps.Clone(c.n)}
}

// NeedsPruning reports whether removed has a total in c.
func (c *PNCounter) NeedsPruning(removed string) bool {
	_, p := c.p[removed]
	_, n := c.n[removed]
	return p || n
}

// Prune adds removed's totals to owner's and forgets removed.
func (c *PNCounter) Prune(owner, removed string) {
	c.p.prune(&c.dp, owner, removed)
	c.n.prune(&c.dn, owner, removed)
}

// PruneCleanup forgets removed's totals.
func (c *PNCounter) PruneCleanup(removed string) {
	for _, m := range []counts{c.p, c.n, c.dp, c.dn} {
		delete(m, removed)
	}
}

// AppendBinary appends c's encoding: the header, then the increments and
// the decrements, each encoded as in a GCounter.
func (c *PNCounter) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, KindPNCounter, 0)
	b = c.p.appendTo(b)
	return c.n.appendTo(b), nil
}

// MarshalBinary returns c's encoding.
func (c *PNCounter) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// UnmarshalBinary replaces c with the PNCounter encoded in data.
func (c *PNCounter) UnmarshalBinary(data []byte) error {
	d, _ := newDecoder(data, KindPNCounter, 0)
	p := decodeCounts(d)
	n := decodeCounts(d)
	if err := d.finish(); err != nil {
		return err
	}
	*c = PNCounter{p: p, n: n}
	return nil
}
