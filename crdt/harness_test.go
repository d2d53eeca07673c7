package crdt

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// This file is the generic harness of the property and pruning tests: a
// spec per type says how to make an empty value, apply a random operation
// and print the observable value; the checks are written once.

// rnd draws random choices from rapid (property tests) or from a seeded
// generator (churn tests).
type rnd struct {
	t *rapid.T
	r *rand.Rand
}

func (g *rnd) intn(n int, label string) int {
	if g.t != nil {
		return rapid.IntRange(0, n-1).Draw(g.t, label)
	}
	return g.r.IntN(n)
}

// world is the environment of the replicas: each replica's HLC and a
// physical clock that tests move (or not) between operations.
type world struct {
	clocks map[string]*HLC
}

func (w *world) clock(replica string) *HLC {
	if w.clocks == nil {
		w.clocks = make(map[string]*HLC)
	}
	c := w.clocks[replica]
	if c == nil {
		c = &HLC{}
		w.clocks[replica] = c
	}
	return c
}

// physical returns a physical time from a small range, so that writes of
// different replicas often get equal timestamps.
func (w *world) physical(g *rnd) time.Time { return time.Unix(0, int64(g.intn(4, "physical"))) }

type spec[T CRDT[T]] struct {
	empty func() T
	// op applies one random operation of replica to x.
	op func(g *rnd, w *world, x T, replica string)
	// value prints x's observable value canonically.
	value func(x T) string
}

// tb is what the checks need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

var elems = []string{"a", "b", "c", "d", "e"}

func pick[E any](g *rnd, label string, xs []E) E { return xs[g.intn(len(xs), label)] }

func enc[T CRDT[T]](tb tb, x T) []byte {
	tb.Helper()
	b, err := x.MarshalBinary()
	if err != nil {
		tb.Fatalf("MarshalBinary: %v", err)
	}
	return b
}

// sameState fails unless a and b encode equally and have equal values.
func sameState[T CRDT[T]](tb tb, s spec[T], what string, a, b T) {
	tb.Helper()
	if va, vb := s.value(a), s.value(b); va != vb {
		tb.Fatalf("%s: values differ:\n  %s\n  %s", what, va, vb)
	}
	if ea, eb := enc(tb, a), enc(tb, b); !bytes.Equal(ea, eb) {
		tb.Fatalf("%s: encodings differ:\n  % x\n  % x", what, ea, eb)
	}
}

func roundTrip[T CRDT[T]](tb tb, s spec[T], x T) T {
	tb.Helper()
	b := enc(tb, x)
	y := s.empty()
	if err := y.UnmarshalBinary(b); err != nil {
		tb.Fatalf("UnmarshalBinary(MarshalBinary(x)): %v\n% x", err, b)
	}
	if b2 := enc(tb, y); !bytes.Equal(b, b2) {
		tb.Fatalf("re-encoding differs:\n  % x\n  % x", b, b2)
	}
	if s.value(x) != s.value(y) {
		tb.Fatalf("decoded value %s, want %s", s.value(y), s.value(x))
	}
	return y
}

var replicaIDs = []string{"a", "b", "c", "d"}

// history runs replicas through random operations, full-state merges,
// delta extractions and delta deliveries (in any order, with duplicates,
// some of them through an encode/decode round trip). It returns the
// replicas and every delta taken, the pending ones included.
func history[T CRDT[T]](t tb, g *rnd, s spec[T]) ([]T, []T) {
	w := &world{}
	n := 1 + g.intn(len(replicaIDs), "replicas")
	reps := make([]T, n)
	for i := range reps {
		reps[i] = s.empty()
	}
	var deltas []T
	steps := g.intn(51, "steps")
	for range steps {
		r := g.intn(n, "replica")
		switch g.intn(10, "action") {
		case 0, 1, 2, 3, 4:
			s.op(g, w, reps[r], replicaIDs[r])
		case 5, 6:
			if d, ok := reps[r].TakeDelta(); ok {
				deltas = append(deltas, d)
			}
		case 7:
			reps[r].Merge(reps[g.intn(n, "from")])
		case 8:
			if len(deltas) > 0 {
				reps[r].Merge(deltas[g.intn(len(deltas), "delta")])
			}
		case 9:
			if len(deltas) > 0 {
				i := g.intn(len(deltas), "delta")
				deltas[i] = roundTrip(t, s, deltas[i])
			}
		}
	}
	for _, x := range reps {
		if d, ok := x.TakeDelta(); ok {
			deltas = append(deltas, d)
		}
	}
	return reps, deltas
}

// checkLaws: Merge is commutative, associative and idempotent, on states
// and deltas alike, and never modifies its argument.
func checkLaws[T CRDT[T]](t *rapid.T, s spec[T]) {
	reps, deltas := history(t, &rnd{t: t}, s)
	pool := append(slices.Clone(reps), deltas...)
	g := &rnd{t: t}
	a := pool[g.intn(len(pool), "a")]
	b := pool[g.intn(len(pool), "b")]
	c := pool[g.intn(len(pool), "c")]
	bBefore := enc(t, b)

	ab := a.Clone()
	ab.Merge(b)
	if !bytes.Equal(bBefore, enc(t, b)) {
		t.Fatalf("Merge modified its argument")
	}
	ba := b.Clone()
	ba.Merge(a)
	sameState(t, s, "a⊔b vs b⊔a", ab, ba)

	abc := ab.Clone()
	abc.Merge(c)
	bc := b.Clone()
	bc.Merge(c)
	a_bc := a.Clone()
	a_bc.Merge(bc)
	sameState(t, s, "(a⊔b)⊔c vs a⊔(b⊔c)", abc, a_bc)

	aa := a.Clone()
	aa.Merge(a.Clone())
	sameState(t, s, "a⊔a vs a", aa, a)
	aa.Merge(aa)
	sameState(t, s, "a.Merge(a) vs a", aa, a)
}

// checkDeltas: joining every delta, in any order and with duplicates, into
// an empty replica or into any replica, gives the join of all full states.
func checkDeltas[T CRDT[T]](t *rapid.T, s spec[T]) {
	reps, deltas := history(t, &rnd{t: t}, s)
	want := s.empty()
	for _, x := range reps {
		want.Merge(x)
	}
	deliver := func(into T) {
		var order []int
		for i := range deltas {
			for range 1 + rapid.IntRange(0, 2).Draw(t, "copies") {
				order = append(order, i)
			}
		}
		for _, i := range rapid.Permutation(order).Draw(t, "order") {
			into.Merge(deltas[i])
		}
	}
	got := s.empty()
	deliver(got)
	sameState(t, s, "empty ⊔ all deltas vs ⊔ full states", got, want)
	x := reps[rapid.IntRange(0, len(reps)-1).Draw(t, "replica")]
	deliver(x)
	sameState(t, s, "replica ⊔ all deltas vs ⊔ full states", x, want)
}

// checkRoundTrip: every state and delta decodes to itself.
func checkRoundTrip[T CRDT[T]](t *rapid.T, s spec[T]) {
	reps, deltas := history(t, &rnd{t: t}, s)
	for _, x := range append(reps, deltas...) {
		roundTrip(t, s, x)
	}
}

func runProperties[T CRDT[T]](t *testing.T, s spec[T]) {
	t.Run("laws", func(t *testing.T) { rapid.Check(t, func(t *rapid.T) { checkLaws(t, s) }) })
	t.Run("deltas", func(t *testing.T) { rapid.Check(t, func(t *rapid.T) { checkDeltas(t, s) }) })
	t.Run("encoding", func(t *testing.T) { rapid.Check(t, func(t *rapid.T) { checkRoundTrip(t, s) }) })
	t.Run("churn", func(t *testing.T) { checkChurn(t, s, 1000) })
}

// --- value printers ---

func sortedStrings(seq func(func(string) bool)) string {
	return fmt.Sprint(slices.Sorted(seq))
}

func printMap[K comparable, V any](seq func(func(K, V) bool)) string {
	m := maps.Collect(seq)
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%v:%v", k, v))
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, " ") + "}"
}
