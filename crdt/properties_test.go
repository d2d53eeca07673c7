package crdt

import (
	"fmt"
	"slices"
	"testing"
)

// Property tests of every type: the lattice laws, delta delivery in any
// order against full-state merging, encoding round trips and pruning under
// churn (see harness_test.go).

func gcounterSpec() spec[*GCounter] {
	return spec[*GCounter]{
		empty: NewGCounter,
		op: func(g *rnd, _ *world, x *GCounter, r string) {
			x.Increment(r, uint64(g.intn(4, "n")))
		},
		value: func(x *GCounter) string { return fmt.Sprint(x.Value()) },
	}
}

func TestGCounterProperties(t *testing.T) { runProperties(t, gcounterSpec()) }

func pncounterSpec() spec[*PNCounter] {
	return spec[*PNCounter]{
		empty: NewPNCounter,
		op: func(g *rnd, _ *world, x *PNCounter, r string) {
			n := uint64(g.intn(4, "n"))
			if g.intn(2, "dec") == 0 {
				x.Increment(r, n)
			} else {
				x.Decrement(r, n)
			}
		},
		value: func(x *PNCounter) string { return fmt.Sprint(x.Value()) },
	}
}

func TestPNCounterProperties(t *testing.T) { runProperties(t, pncounterSpec()) }

func gsetSpec() spec[*GSet[string]] {
	return spec[*GSet[string]]{
		empty: func() *GSet[string] { return NewGSet(StringCodec()) },
		op: func(g *rnd, _ *world, x *GSet[string], r string) {
			x.Add(r, pick(g, "e", elems))
		},
		value: func(x *GSet[string]) string { return sortedStrings(x.All()) },
	}
}

func TestGSetProperties(t *testing.T) { runProperties(t, gsetSpec()) }

func orsetSpec() spec[*ORSet[string]] {
	return spec[*ORSet[string]]{
		empty: func() *ORSet[string] { return NewORSet(StringCodec()) },
		op: func(g *rnd, _ *world, x *ORSet[string], r string) {
			switch g.intn(7, "op") {
			case 0, 1, 2:
				x.Add(r, pick(g, "e", elems))
			case 3, 4, 5:
				x.Remove(r, pick(g, "e", elems))
			case 6:
				x.Clear(r)
			}
		},
		value: func(x *ORSet[string]) string { return sortedStrings(x.All()) },
	}
}

func TestORSetProperties(t *testing.T) { runProperties(t, orsetSpec()) }

func lwwRegisterSpec() spec[*LWWRegister[string]] {
	return spec[*LWWRegister[string]]{
		empty: func() *LWWRegister[string] { return NewLWWRegister(StringCodec()) },
		op: func(g *rnd, w *world, x *LWWRegister[string], r string) {
			x.Set(r, pick(g, "v", elems), w.clock(r), w.physical(g))
		},
		value: func(x *LWWRegister[string]) string {
			v, ok := x.Get()
			ts, by := x.Written()
			return fmt.Sprint(v, ok, ts, by)
		},
	}
}

func TestLWWRegisterProperties(t *testing.T) { runProperties(t, lwwRegisterSpec()) }

func mvRegisterSpec() spec[*MVRegister[int64]] {
	return spec[*MVRegister[int64]]{
		empty: func() *MVRegister[int64] { return NewMVRegister(Int64Codec()) },
		op: func(g *rnd, _ *world, x *MVRegister[int64], r string) {
			if g.intn(5, "clear") == 0 {
				x.Clear(r)
				return
			}
			x.Set(r, int64(g.intn(5, "v"))-2)
		},
		value: func(x *MVRegister[int64]) string {
			return fmt.Sprint(slices.Sorted(slices.Values(x.Values())))
		},
	}
}

func TestMVRegisterProperties(t *testing.T) { runProperties(t, mvRegisterSpec()) }

func flagSpec() spec[*Flag] {
	return spec[*Flag]{
		empty: NewFlag,
		op: func(g *rnd, _ *world, x *Flag, r string) {
			if g.intn(2, "on") == 0 {
				x.Enable(r)
			} else {
				x.Disable(r)
			}
		},
		value: func(x *Flag) string { return fmt.Sprint(x.Value()) },
	}
}

func TestFlagProperties(t *testing.T) { runProperties(t, flagSpec()) }

// An ORMap of ORSets: nested dot-based values.
func setMapSpec() spec[*ORMap[string, *ORSet[string]]] {
	newSet := func() *ORSet[string] { return NewORSet(StringCodec()) }
	return spec[*ORMap[string, *ORSet[string]]]{
		empty: func() *ORMap[string, *ORSet[string]] { return NewORMap(StringCodec(), newSet) },
		op: func(g *rnd, _ *world, x *ORMap[string, *ORSet[string]], r string) {
			k := pick(g, "k", elems[:3])
			switch g.intn(5, "op") {
			case 0, 1:
				e := pick(g, "e", elems)
				x.Update(r, k, func(s *ORSet[string]) { s.Add(r, e) })
			case 2, 3:
				e := pick(g, "e", elems)
				x.Update(r, k, func(s *ORSet[string]) { s.Remove(r, e) })
			case 4:
				x.Remove(r, k)
			}
		},
		value: func(x *ORMap[string, *ORSet[string]]) string {
			return printMap(func(yield func(string, string) bool) {
				for k, s := range x.All() {
					if !yield(k, sortedStrings(s.All())) {
						return
					}
				}
			})
		},
	}
}

func TestORMapProperties(t *testing.T) { runProperties(t, setMapSpec()) }

// An ORMap of GCounters: values with per-replica totals, pruned by the
// value type's own Prune.
func counterMapSpec() spec[*ORMap[int64, *GCounter]] {
	return spec[*ORMap[int64, *GCounter]]{
		empty: func() *ORMap[int64, *GCounter] { return NewORMap(Int64Codec(), NewGCounter) },
		op: func(g *rnd, _ *world, x *ORMap[int64, *GCounter], r string) {
			k := int64(g.intn(3, "k"))
			if g.intn(4, "remove") == 0 {
				x.Remove(r, k)
				return
			}
			n := uint64(g.intn(3, "n"))
			x.Update(r, k, func(c *GCounter) { c.Increment(r, n) })
		},
		value: func(x *ORMap[int64, *GCounter]) string {
			return printMap(func(yield func(int64, uint64) bool) {
				for k, c := range x.All() {
					if !yield(k, c.Value()) {
						return
					}
				}
			})
		},
	}
}

func TestORMapOfCountersProperties(t *testing.T) { runProperties(t, counterMapSpec()) }

func lwwMapSpec() spec[*LWWMap[string, string]] {
	return spec[*LWWMap[string, string]]{
		empty: func() *LWWMap[string, string] { return NewLWWMap(StringCodec(), StringCodec()) },
		op: func(g *rnd, w *world, x *LWWMap[string, string], r string) {
			k := pick(g, "k", elems[:3])
			if g.intn(4, "remove") == 0 {
				x.Remove(r, k)
				return
			}
			x.Put(r, k, pick(g, "v", elems), w.clock(r), w.physical(g))
		},
		value: func(x *LWWMap[string, string]) string { return printMap(x.All()) },
	}
}

func TestLWWMapProperties(t *testing.T) { runProperties(t, lwwMapSpec()) }

func multiMapSpec() spec[*ORMultiMap[string, int64]] {
	return spec[*ORMultiMap[string, int64]]{
		empty: func() *ORMultiMap[string, int64] { return NewORMultiMap(StringCodec(), Int64Codec()) },
		op: func(g *rnd, _ *world, x *ORMultiMap[string, int64], r string) {
			k := pick(g, "k", elems[:3])
			e := int64(g.intn(4, "e"))
			switch g.intn(7, "op") {
			case 0, 1, 2:
				x.Put(r, k, e)
			case 3, 4, 5:
				x.Remove(r, k, e)
			case 6:
				x.RemoveKey(r, k)
			}
		},
		value: func(x *ORMultiMap[string, int64]) string {
			return printMap(func(yield func(string, []int64) bool) {
				for k := range x.Keys() {
					if !yield(k, slices.Sorted(x.Get(k))) {
						return
					}
				}
			})
		},
	}
}

func TestORMultiMapProperties(t *testing.T) { runProperties(t, multiMapSpec()) }

func pnCounterMapSpec() spec[*PNCounterMap[string]] {
	return spec[*PNCounterMap[string]]{
		empty: func() *PNCounterMap[string] { return NewPNCounterMap(StringCodec()) },
		op: func(g *rnd, _ *world, x *PNCounterMap[string], r string) {
			k := pick(g, "k", elems[:3])
			switch g.intn(5, "op") {
			case 0, 1:
				x.Increment(r, k, uint64(g.intn(3, "n")))
			case 2, 3:
				x.Decrement(r, k, uint64(g.intn(3, "n")))
			case 4:
				x.Remove(r, k)
			}
		},
		value: func(x *PNCounterMap[string]) string { return printMap(x.All()) },
	}
}

func TestPNCounterMapProperties(t *testing.T) { runProperties(t, pnCounterMapSpec()) }
