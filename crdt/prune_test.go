package crdt

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkChurn runs n replicas through the cluster one after another, as
// members that join, work and leave, while two members stay: "o", which
// prunes each departed member, and "x", which cleans up after it, following
// the protocol in the package documentation. Pruning must not change the
// value, both must converge, and their bookkeeping must stay bounded: it
// may name only "o" and "x", however many members came and went.
func checkChurn[T CRDT[T]](t *testing.T, s spec[T], n int) {
	g := &rnd{r: rand.New(rand.NewPCG(1, 2))}
	w := &world{}
	o, x := s.empty(), s.empty()
	for i := range n {
		id := fmt.Sprintf("t%d", i)
		// The member joins with the current state and works.
		tmp := o.Clone()
		for range 1 + g.intn(4, "ops") {
			s.op(g, w, tmp, id)
		}
		stale, hasStale := tmp.TakeDelta()
		s.op(g, w, o, "o")
		s.op(g, w, x, "x")
		// Before pruning, the owner has every contribution of the member
		// that any live replica holds.
		x.Merge(tmp)
		o.Merge(tmp)
		o.Merge(x)

		before := s.value(o)
		o.Prune("o", id)
		if got := s.value(o); got != before {
			t.Fatalf("member %s: Prune changed the value:\n  before %s\n  after  %s", id, before, got)
		}
		if o.NeedsPruning(id) {
			t.Fatalf("member %s: NeedsPruning after Prune", id)
		}
		// The others clean up before merging anything from the owner, and
		// clean up whatever stale data of the member still reaches them.
		x.PruneCleanup(id)
		if d, ok := o.TakeDelta(); ok {
			x.Merge(d)
		}
		x.Merge(o)
		if hasStale {
			stale.PruneCleanup(id)
			x.Merge(stale)
			o.Merge(stale)
		}
		o.Merge(x)
		o.TakeDelta()
		x.TakeDelta()
		sameState(t, s, "owner vs other after pruning "+id, o, x)
		for name, v := range map[string]T{"o": o, "x": x} {
			if ids := bookkeeping(v); len(slices.DeleteFunc(ids, func(r string) bool { return r == "o" || r == "x" })) > 0 {
				t.Fatalf("after pruning %s, %s still records %v", id, name, ids)
			}
		}
	}
}

// bookkeeping returns the replicas a value records.
func bookkeeping(x any) []string {
	ids := make(map[string]bool)
	x.(interface{ replicaIDs(map[string]bool) }).replicaIDs(ids)
	return slices.Sorted(maps.Keys(ids))
}

func (c causal) replicaIDs(ids map[string]bool) {
	for r := range c.m {
		ids[r] = true
	}
}

func (c counts) replicaIDs(ids map[string]bool) {
	for r := range c {
		ids[r] = true
	}
}

func (g *GCounter) replicaIDs(ids map[string]bool) { g.c.replicaIDs(ids) }
func (c *PNCounter) replicaIDs(ids map[string]bool) {
	c.p.replicaIDs(ids)
	c.n.replicaIDs(ids)
}
func (s *GSet[E]) replicaIDs(ids map[string]bool)        {}
func (r *LWWRegister[V]) replicaIDs(ids map[string]bool) {}
func (r *MVRegister[V]) replicaIDs(ids map[string]bool) {
	r.ctx.replicaIDs(ids)
	for _, e := range r.es {
		ids[e.d.r] = true
	}
}

func (f *Flag) replicaIDs(ids map[string]bool) {
	f.ctx.replicaIDs(ids)
	dotsReplicaIDs(f.ds, ids)
}

func dotsReplicaIDs(ds []dot, ids map[string]bool) {
	for _, d := range ds {
		ids[d.r] = true
	}
}

func (dm dotMap[E]) replicaIDs(ids map[string]bool) {
	for _, ds := range dm {
		dotsReplicaIDs(ds, ids)
	}
}

func (s *ORSet[E]) replicaIDs(ids map[string]bool) {
	s.ctx.replicaIDs(ids)
	s.m.replicaIDs(ids)
}

func (m *ORMultiMap[K, E]) replicaIDs(ids map[string]bool) {
	m.ctx.replicaIDs(ids)
	for _, inner := range m.m {
		inner.replicaIDs(ids)
	}
}

func (m *LWWMap[K, V]) replicaIDs(ids map[string]bool)    { m.m.replicaIDs(ids) }
func (m *PNCounterMap[K]) replicaIDs(ids map[string]bool) { m.m.replicaIDs(ids) }
func (m *ORMap[K, V]) replicaIDs(ids map[string]bool) {
	m.ctx.replicaIDs(ids)
	for _, es := range m.m {
		for _, e := range es {
			ids[e.d.r] = true
			any(e.v).(interface{ replicaIDs(map[string]bool) }).replicaIDs(ids)
		}
	}
}
