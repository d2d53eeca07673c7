package crdt

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// Table tests of what each type means: who wins which conflict.

// sync makes every replica the join of all.
func sync[T CRDT[T]](xs ...T) {
	for _, a := range xs {
		for _, b := range xs {
			a.Merge(b)
		}
	}
}

func TestCountersSum(t *testing.T) {
	a, b, c := NewGCounter(), NewGCounter(), NewGCounter()
	a.Increment("a", 3)
	b.Increment("b", 4)
	c.Increment("c", 5)
	a.Increment("a", 1)
	sync(a, b, c)
	for i, x := range []*GCounter{a, b, c} {
		if x.Value() != 13 {
			t.Errorf("replica %d: %d, want 13", i, x.Value())
		}
	}
	a.Merge(b) // merging again counts nothing twice
	if a.Value() != 13 {
		t.Errorf("after a second merge: %d, want 13", a.Value())
	}

	p, q := NewPNCounter(), NewPNCounter()
	p.Increment("p", 10)
	q.Decrement("q", 3)
	p.Add("p", -2)
	q.Add("q", 1)
	sync(p, q)
	if p.Value() != 6 || q.Value() != 6 {
		t.Errorf("PNCounter: %d and %d, want 6", p.Value(), q.Value())
	}
}

func TestCountersSaturate(t *testing.T) {
	g := NewGCounter()
	g.Increment("a", 1<<63)
	g.Increment("b", 1<<63)
	g.Increment("c", 1)
	if g.Value() != 1<<64-1 {
		t.Errorf("GCounter: %d, want saturation at 2^64-1", g.Value())
	}
	p := NewPNCounter()
	p.Add("a", -1<<63)
	p.Add("b", -1<<63)
	if p.Value() != -1<<63 {
		t.Errorf("PNCounter: %d, want saturation at -2^63", p.Value())
	}
}

func TestGCounterDeltaIsChangedTotals(t *testing.T) {
	g := NewGCounter()
	g.Increment("a", 2)
	g.Increment("b", 1)
	g.TakeDelta()
	g.Increment("a", 5)
	d, ok := g.TakeDelta()
	if !ok || !maps.Equal(d.c, counts{"a": 7}) {
		t.Fatalf("delta %v, want a's new total 7 only", d.c)
	}
	if _, ok := g.TakeDelta(); ok || g.HasDelta() {
		t.Fatal("a second TakeDelta returned a delta")
	}
}

func elemsOf(s *ORSet[string]) []string { return slices.Sorted(s.All()) }

func TestORSetAddWins(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(a, b *ORSet[string])
		want []string
	}{
		{"concurrent add and remove: add wins", func(a, b *ORSet[string]) {
			a.Add("a", "x")
			sync(a, b)
			a.Add("a", "x") // re-add, a new dot b has not seen
			b.Remove("b", "x")
		}, []string{"x"}},
		{"remove after observing the add", func(a, b *ORSet[string]) {
			a.Add("a", "x")
			sync(a, b)
			b.Remove("b", "x")
		}, nil},
		{"concurrent adds of one element by two replicas, one removed", func(a, b *ORSet[string]) {
			a.Add("a", "x")
			b.Add("b", "x")
			a.Remove("a", "x") // removes a's dot only
		}, []string{"x"}},
		{"remove of an unseen element is a no-op", func(a, b *ORSet[string]) {
			a.Add("a", "x")
			b.Remove("b", "x")
		}, []string{"x"}},
		{"clear removes only what was seen", func(a, b *ORSet[string]) {
			a.Add("a", "x")
			a.Add("a", "y")
			sync(a, b)
			a.Add("a", "z")
			b.Clear("b")
		}, []string{"z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := NewORSet(StringCodec()), NewORSet(StringCodec())
			tc.run(a, b)
			ab, ba := a.Clone(), b.Clone()
			ab.Merge(b)
			ba.Merge(a)
			if got, got2 := elemsOf(ab), elemsOf(ba); !slices.Equal(got, tc.want) || !slices.Equal(got2, tc.want) {
				t.Errorf("a⊔b %v, b⊔a %v, want %v", got, got2, tc.want)
			}
		})
	}
}

// A remove delta that arrives before the add it removes still removes it:
// the delta's context remembers the removed dot.
func TestORSetDeltasOutOfOrder(t *testing.T) {
	a := NewORSet(StringCodec())
	a.Add("a", "x")
	add, _ := a.TakeDelta()
	a.Remove("a", "x")
	rm, _ := a.TakeDelta()

	b := NewORSet(StringCodec())
	b.Merge(rm)
	b.Merge(add)
	if b.Contains("x") {
		t.Error("the add arriving after its remove resurrected x")
	}
	// The receiver's context has the dot although it never held it: it
	// stays compact (one span), so nothing is missing.
	if sp := b.ctx.m["a"]; len(sp) != 1 || sp[0] != (span{1, 1}) {
		t.Errorf("context of a: %v, want one span 1..1", sp)
	}
}

func TestORSetSupersedesOwnDots(t *testing.T) {
	s := NewORSet(StringCodec())
	for range 5 {
		s.Add("a", "x")
	}
	if n := len(s.m["x"]); n != 1 {
		t.Errorf("x has %d dots after 5 adds by one replica, want 1", n)
	}
	d, _ := s.TakeDelta()
	if n := len(d.m["x"]); n != 1 {
		t.Errorf("the delta of 5 adds has %d dots for x, want 1", n)
	}
}

func TestLWWRegister(t *testing.T) {
	at := func(ns int64) time.Time { return time.Unix(0, ns) }
	t.Run("the later physical time wins", func(t *testing.T) {
		a, b := NewLWWRegister(StringCodec()), NewLWWRegister(StringCodec())
		a.Set("a", "first", &HLC{}, at(100))
		b.Set("b", "second", &HLC{}, at(200))
		sync(a, b)
		if v, _ := a.Get(); v != "second" {
			t.Errorf("got %q, want second", v)
		}
	})
	t.Run("equal timestamps: the greater replica id wins", func(t *testing.T) {
		for _, order := range []bool{false, true} {
			a, b := NewLWWRegister(StringCodec()), NewLWWRegister(StringCodec())
			ta := a.Set("alpha", "from alpha", &HLC{}, at(100))
			tb := b.Set("beta", "from beta", &HLC{}, at(100))
			if ta != tb {
				t.Fatalf("timestamps %v and %v, want equal", ta, tb)
			}
			x, y := a, b
			if order {
				x, y = b, a
			}
			x.Merge(y)
			if v, _ := x.Get(); v != "from beta" {
				t.Errorf("got %q, want the write of beta (greater id)", v)
			}
		}
	})
	t.Run("a write after seeing a future-stamped write wins", func(t *testing.T) {
		a, b := NewLWWRegister(StringCodec()), NewLWWRegister(StringCodec())
		b.Set("b", "from a clock ahead", &HLC{}, at(1_000_000))
		a.Merge(b)
		ts := a.Set("a", "later", &HLC{}, at(5)) // a's physical clock is behind
		if want := (Timestamp{1_000_000, 1}); ts != want {
			t.Errorf("timestamp %v, want %v", ts, want)
		}
		b.Merge(a)
		if v, _ := b.Get(); v != "later" {
			t.Errorf("got %q, want later", v)
		}
	})
	t.Run("unset", func(t *testing.T) {
		var r LWWRegister[string]
		if _, ok := r.Get(); ok {
			t.Error("zero register is set")
		}
		r.Merge(NewLWWRegister(StringCodec()))
		if _, ok := r.Get(); ok {
			t.Error("merging an unset register set it")
		}
	})
}

func TestMVRegister(t *testing.T) {
	a, b := NewMVRegister(StringCodec()), NewMVRegister(StringCodec())
	a.Set("a", "x")
	b.Set("b", "y")
	sync(a, b)
	if got := a.Values(); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("concurrent writes: %v, want both [x y]", got)
	}
	a.Set("a", "z") // has seen both
	b.Merge(a)
	if got := b.Values(); !slices.Equal(got, []string{"z"}) {
		t.Errorf("a write after seeing both: %v, want [z]", got)
	}
	b.Set("b", "w")
	a.Clear("a") // concurrent with w: w survives
	sync(a, b)
	if got := a.Values(); !slices.Equal(got, []string{"w"}) {
		t.Errorf("clear concurrent with a write: %v, want [w]", got)
	}
}

func TestFlagEnableWins(t *testing.T) {
	a, b := NewFlag(), NewFlag()
	a.Enable("a")
	sync(a, b)
	b.Disable("b")
	a.Enable("a")
	sync(a, b)
	if !a.Value() || !b.Value() {
		t.Error("enable concurrent with disable: off, want on")
	}
	a.Disable("a")
	sync(a, b)
	if a.Value() || b.Value() {
		t.Error("disable after seeing every enable: on, want off")
	}
}

func counterMap() *ORMap[string, *GCounter] { return NewORMap(StringCodec(), NewGCounter) }

func valueOf(m *ORMap[string, *GCounter], k string) string {
	c, ok := m.Get(k)
	if !ok {
		return "absent"
	}
	return fmt.Sprint(c.Value())
}

func TestORMapRemoveAndReAdd(t *testing.T) {
	incr := func(m *ORMap[string, *GCounter], r string, n uint64) {
		m.Update(r, "k", func(c *GCounter) { c.Increment(r, n) })
	}
	for _, tc := range []struct {
		name string
		run  func(a, b *ORMap[string, *GCounter])
		want string
	}{
		{"removed then updated again: the value restarts", func(a, b *ORMap[string, *GCounter]) {
			incr(a, "a", 5)
			sync(a, b)
			a.Remove("a", "k")
			incr(a, "a", 1)
		}, "1"},
		{"concurrent update and remove: the update wins with its value", func(a, b *ORMap[string, *GCounter]) {
			incr(a, "a", 5)
			sync(a, b)
			a.Remove("a", "k")
			incr(b, "b", 1)
		}, "6"},
		{"concurrent updates merge their values", func(a, b *ORMap[string, *GCounter]) {
			incr(a, "a", 5)
			incr(b, "b", 2)
		}, "7"},
		{"remove after seeing every update", func(a, b *ORMap[string, *GCounter]) {
			incr(a, "a", 5)
			incr(b, "b", 2)
			sync(a, b)
			b.Remove("b", "k")
		}, "absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := counterMap(), counterMap()
			tc.run(a, b)
			// b holds a stale copy of k; merge full states in both orders.
			ab, ba := a.Clone(), b.Clone()
			ab.Merge(b)
			ba.Merge(a)
			if x, y := valueOf(ab, "k"), valueOf(ba, "k"); x != tc.want || y != tc.want {
				t.Errorf("a⊔b %s, b⊔a %s, want %s", x, y, tc.want)
			}
		})
	}
}

func TestORMapUpdateWithoutChangeIsNoOp(t *testing.T) {
	m := counterMap()
	m.Update("a", "k", func(c *GCounter) { c.Increment("a", 1) })
	m.TakeDelta()
	m.Update("a", "k", func(c *GCounter) {})
	if m.HasDelta() {
		t.Error("an Update that changed nothing recorded a delta")
	}
	m.Update("a", "new", func(c *GCounter) {})
	if !m.Contains("new") {
		t.Error("an Update of an absent key did not create it")
	}
}

func TestORMapZeroValue(t *testing.T) {
	var m ORMap[string, *GCounter]
	other := counterMap()
	other.Update("a", "k", func(c *GCounter) { c.Increment("a", 2) })
	m.Merge(other)
	if valueOf(&m, "k") != "2" {
		t.Errorf("zero ORMap after merge: %s, want 2", valueOf(&m, "k"))
	}
	defer func() {
		if recover() == nil {
			t.Error("Update on a zero ORMap did not panic")
		}
	}()
	m.Update("a", "k", func(*GCounter) {})
}

func TestLWWMap(t *testing.T) {
	at := func(ns int64) time.Time { return time.Unix(0, ns) }
	a, b := NewLWWMap(StringCodec(), Int64Codec()), NewLWWMap(StringCodec(), Int64Codec())
	ca, cb := &HLC{}, &HLC{}
	a.Put("a", "x", 1, ca, at(10))
	b.Put("b", "x", 2, cb, at(20))
	a.Put("a", "y", 3, ca, at(30))
	sync(a, b)
	if got := maps.Collect(a.All()); !maps.Equal(got, map[string]int64{"x": 2, "y": 3}) {
		t.Errorf("got %v, want x:2 y:3", got)
	}
	b.Remove("b", "y")
	a.Put("a", "x", 4, ca, at(15)) // behind b's write of x, but after seeing it
	sync(a, b)
	if got := maps.Collect(b.All()); !maps.Equal(got, map[string]int64{"x": 4}) {
		t.Errorf("got %v, want x:4", got)
	}
	// a's clock had reached 30 when it wrote y.
	if ts, by := b.Written("x"); by != "a" || ts != (Timestamp{30, 1}) {
		t.Errorf("x written at %v by %q, want {30 1} by a", ts, by)
	}
}

func TestORMultiMap(t *testing.T) {
	a, b := NewORMultiMap(StringCodec(), StringCodec()), NewORMultiMap(StringCodec(), StringCodec())
	a.Put("a", "k", "1")
	a.Put("a", "k", "2")
	b.Put("b", "j", "1")
	sync(a, b)
	b.RemoveKey("b", "k")
	a.Put("a", "k", "3") // concurrent with RemoveKey: survives alone
	a.Remove("a", "j", "1")
	sync(a, b)
	if got := slices.Sorted(a.Get("k")); !slices.Equal(got, []string{"3"}) {
		t.Errorf("k: %v, want [3]", got)
	}
	if a.ContainsKey("j") || a.Len() != 1 {
		t.Errorf("j present or Len %d, want only k", a.Len())
	}
}

func TestPNCounterMapRemoveResets(t *testing.T) {
	a, b := NewPNCounterMap(StringCodec()), NewPNCounterMap(StringCodec())
	a.Increment("a", "k", 10)
	b.Decrement("b", "k", 3)
	sync(a, b)
	if v, _ := b.Get("k"); v != 7 {
		t.Errorf("k = %d, want 7", v)
	}
	a.Remove("a", "k")
	a.Add("a", "k", -1)
	sync(a, b)
	if v, _ := b.Get("k"); v != -1 {
		t.Errorf("k after remove and re-add = %d, want -1", v)
	}
}

func TestHLC(t *testing.T) {
	at := func(ns int64) time.Time { return time.Unix(0, ns) }
	var c HLC
	for _, tc := range []struct {
		name     string
		observed *Timestamp
		physical int64
		want     Timestamp
	}{
		{"physical time ahead", nil, 100, Timestamp{100, 0}},
		{"same physical time", nil, 100, Timestamp{100, 1}},
		{"physical time behind", nil, 50, Timestamp{100, 2}},
		{"observe an older timestamp", &Timestamp{90, 7}, 100, Timestamp{100, 3}},
		{"observe a timestamp ahead", &Timestamp{200, 7}, 150, Timestamp{200, 8}},
		{"observe equal wall, larger logical", &Timestamp{200, 20}, 150, Timestamp{200, 21}},
		{"physical time ahead of all", &Timestamp{200, 20}, 300, Timestamp{300, 0}},
	} {
		var got Timestamp
		if tc.observed == nil {
			got = c.Now(at(tc.physical))
		} else {
			got = c.Update(*tc.observed, at(tc.physical))
		}
		if got != tc.want {
			t.Fatalf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if c.Last() != (Timestamp{300, 0}) {
		t.Errorf("Last %v", c.Last())
	}
	// Logical overflow moves to the next nanosecond.
	c2 := NewHLC(Timestamp{10, 1<<32 - 1})
	if got := c2.Now(at(5)); got != (Timestamp{11, 0}) {
		t.Errorf("after logical overflow: %v, want {11 0}", got)
	}
}

// Every timestamp an HLC issues is greater than the previous one and than
// every timestamp it observed.
func TestHLCMonotonic(t *testing.T) {
	var c HLC
	prev := Timestamp{}
	seed := uint64(1)
	for i := range 10000 {
		seed = seed*6364136223846793005 + 1442695040888963407
		pt := time.Unix(0, int64(seed>>40)%1000)
		var ts Timestamp
		if seed>>20&1 == 0 {
			ts = c.Now(pt)
		} else {
			obs := Timestamp{int64(seed>>30) % 1200, uint32(seed>>50) % 4}
			ts = c.Update(obs, pt)
			if ts.Compare(obs) <= 0 {
				t.Fatalf("step %d: %v not after observed %v", i, ts, obs)
			}
		}
		if ts.Compare(prev) <= 0 {
			t.Fatalf("step %d: %v not after %v", i, ts, prev)
		}
		prev = ts
	}
}
