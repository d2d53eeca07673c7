package router

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
)

func TestRoundRobinIndex(t *testing.T) {
	for _, tc := range []struct {
		counter uint64
		n, want int
	}{
		{0, 1, 0}, {5, 1, 0},
		{0, 4, 0}, {1, 4, 1}, {3, 4, 3}, {4, 4, 0}, {7, 4, 3},
		{1<<32 - 1, 4, 3}, {1 << 32, 4, 0}, // the counter is taken modulo 2^32
		{10, 3, 1},
	} {
		if got := roundRobinIndex(tc.counter, tc.n); got != tc.want {
			t.Errorf("roundRobinIndex(%d, %d) = %d; want %d", tc.counter, tc.n, got, tc.want)
		}
	}
}

func TestRandomIndex(t *testing.T) {
	for _, tc := range []struct {
		x       uint64
		n, want int
	}{
		{0, 4, 0},
		{math.MaxUint64, 4, 3},
		{1 << 63, 4, 2},
		{1<<62 - 1, 4, 0},
		{1 << 62, 4, 1},
		{math.MaxUint64, 1, 0},
		{1 << 63, 3, 1},
	} {
		if got := randomIndex(tc.x, tc.n); got != tc.want {
			t.Errorf("randomIndex(%#x, %d) = %d; want %d", tc.x, tc.n, got, tc.want)
		}
	}
}

func TestUnitFloat(t *testing.T) {
	for _, tc := range []struct {
		x    uint64
		want float64
	}{{0, 0}, {1 << 63, 0.5}, {math.MaxUint64, 1 - 1.0/(1<<53)}} {
		if got := unitFloat(tc.x); got != tc.want {
			t.Errorf("unitFloat(%#x) = %v; want %v", tc.x, got, tc.want)
		}
	}
}

// The hashes are part of the routing contract across processes (every
// member must pick the same routee for a key): pin them.
func TestHashesAreStable(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want uint64
	}{
		{"", fmix64(fnvOffset)},
		{"user-42", 0xa39532c7ab051e8d}, // FNV-1a 64 then fmix64, computed independently
	} {
		if got := keyHash(tc.key); got != tc.want {
			t.Errorf("keyHash(%q) = %#x; want %#x", tc.key, got, tc.want)
		}
	}
	a := pidHash(&actor.PID{Address: "10.0.0.1:4000", Id: "worker"})
	b := pidHash(&actor.PID{Address: "10.0.0.1:400", Id: "0worker"})
	if a == b {
		t.Error("pidHash does not separate address and id")
	}
}

func TestRendezvousIndex(t *testing.T) {
	hs := []uint64{pidHash(pid("a")), pidHash(pid("b")), pidHash(pid("c"))}
	for _, tc := range []struct {
		name    string
		key     uint64
		routees []uint64
		want    int
	}{
		{"one routee", 123, hs[:1], 0},
		// Hand-computed: the highest fmix64(key^routee) wins.
		{"highest score", 0, []uint64{1, 2, 3}, argmax(0, []uint64{1, 2, 3})},
		{"ties go to the lower routee hash", 0, []uint64{7, 7, 5}, argmax(0, []uint64{7, 7, 5})},
	} {
		if got := rendezvousIndex(tc.key, tc.routees); got != tc.want {
			t.Errorf("%s: rendezvousIndex = %d; want %d", tc.name, got, tc.want)
		}
	}
	// The choice follows the routee, not its position.
	for k := range uint64(200) {
		key := keyHash(fmt.Sprint(k))
		i := rendezvousIndex(key, hs)
		rev := slices.Clone(hs)
		slices.Reverse(rev)
		if j := rendezvousIndex(key, rev); rev[j] != hs[i] {
			t.Fatalf("key %d: order changed the choice", k)
		}
	}
}

func argmax(key uint64, hs []uint64) int {
	best := 0
	for i := range hs {
		si, sb := fmix64(key^hs[i]), fmix64(key^hs[best])
		if si > sb || (si == sb && hs[i] < hs[best]) {
			best = i
		}
	}
	return best
}

func pid(id string) *actor.PID { return &actor.PID{Address: "nonhost", Id: id} }

func pids(n int) []*actor.PID {
	out := make([]*actor.PID, n)
	for i := range out {
		out[i] = pid(fmt.Sprintf("routee-%d", i))
	}
	return out
}

// Rendezvous spreads keys evenly, and a membership change moves only the
// share of the routee added or removed.
func TestRendezvousSpreadAndMinimalDisruption(t *testing.T) {
	const keys = 20_000
	hashesOf := func(ps []*actor.PID) []uint64 {
		h := make([]uint64, len(ps))
		for i, p := range ps {
			h[i] = pidHash(p)
		}
		return h
	}
	owner := func(ps []*actor.PID) []string {
		h := hashesOf(ps)
		out := make([]string, keys)
		for k := range keys {
			out[k] = ps[rendezvousIndex(keyHash(fmt.Sprintf("key-%d", k)), h)].Id
		}
		return out
	}
	ps := pids(8)
	before := owner(ps)
	counts := map[string]int{}
	for _, o := range before {
		counts[o]++
	}
	for id, c := range counts {
		if share := float64(c) / keys; share < 0.125*0.9 || share > 0.125*1.1 {
			t.Errorf("%s owns %.3f of the keys; want 0.125 ± 10%%", id, share)
		}
	}

	added := append(slices.Clone(ps), pid("new"))
	after := owner(added)
	moved := 0
	for k := range keys {
		if before[k] != after[k] {
			moved++
			if after[k] != "new" {
				t.Fatalf("key %d moved from %s to %s, not to the new routee", k, before[k], after[k])
			}
		}
	}
	if share := float64(moved) / keys; share < 0.9/9 || share > 1.1/9 {
		t.Errorf("adding a 9th routee moved %.3f of the keys; want about 1/9", share)
	}

	removed := slices.Delete(slices.Clone(ps), 3, 4)
	after = owner(removed)
	for k := range keys {
		if before[k] != after[k] && before[k] != ps[3].Id {
			t.Fatalf("key %d moved from %s, which was not removed", k, before[k])
		}
		if after[k] == ps[3].Id {
			t.Fatalf("key %d still owned by the removed routee", k)
		}
	}
}

func TestSmallestIndex(t *testing.T) {
	for _, tc := range []struct {
		name   string
		depths []int
		start  int
		want   int
		probes int // depths read before choosing
	}{
		{"idle start wins at once", []int{0, 0, 0}, 1, 1, 1},
		{"first idle from start", []int{3, 2, 0, 0}, 0, 2, 3},
		{"wraps around", []int{0, 5, 5}, 1, 0, 3},
		{"fewest when none idle", []int{4, 2, 3}, 0, 1, 3},
		{"ties go to the first from start", []int{2, 5, 2}, 1, 2, 3},
		{"unknown skipped", []int{-1, 3, -1}, 0, 1, 3},
		{"all unknown: start", []int{-1, -1, -1}, 2, 2, 3},
		{"one routee", []int{9}, 0, 0, 1},
	} {
		probes := 0
		got := smallestIndex(len(tc.depths), tc.start, func(i int) int { probes++; return tc.depths[i] })
		if got != tc.want || probes != tc.probes {
			t.Errorf("%s: smallestIndex = %d after %d probes; want %d after %d", tc.name, got, probes, tc.want, tc.probes)
		}
	}
}

func TestAdaptiveWeights(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name  string
		loads []float64
		want  []float64
	}{
		{"1/(1+load)", []float64{0, 1, 3}, []float64{1, 0.5, 0.25}},
		{"negative counts as 0", []float64{-5, 1}, []float64{1, 0.5}},
		{"infinite load weighs 0", []float64{math.Inf(1), 0}, []float64{0, 1}},
		{"unknown gets the mean of the known", []float64{0, nan, 1}, []float64{1, 0.75, 0.5}},
		{"none known: all 1", []float64{nan, nan}, []float64{1, 1}},
	} {
		w := make([]float64, len(tc.loads))
		adaptiveWeights(tc.loads, w)
		if !slices.Equal(w, tc.want) {
			t.Errorf("%s: weights %v; want %v", tc.name, w, tc.want)
		}
		inPlace := slices.Clone(tc.loads)
		adaptiveWeights(inPlace, inPlace)
		if !slices.Equal(inPlace, tc.want) {
			t.Errorf("%s: weights in place %v; want %v", tc.name, inPlace, tc.want)
		}
	}
}

func TestWeightedIndex(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    []float64
		u    float64
		want int
	}{
		{"first band", []float64{1, 1, 2}, 0, 0},
		{"second band", []float64{1, 1, 2}, 0.25, 1},
		{"last band", []float64{1, 1, 2}, 0.5, 2},
		{"top of the range", []float64{1, 1, 2}, 0.999999, 2},
		{"zero weight never chosen", []float64{0, 1, 0}, 0.99, 1},
		{"all zero: uniform", []float64{0, 0, 0, 0}, 0.5, 2},
		{"all zero, top", []float64{0, 0}, 0.99, 1},
	} {
		if got := weightedIndex(tc.w, tc.u); got != tc.want {
			t.Errorf("%s: weightedIndex(%v, %v) = %d; want %d", tc.name, tc.w, tc.u, got, tc.want)
		}
	}
}

func TestRaceNext(t *testing.T) {
	const iv = 100 * time.Millisecond
	for _, tc := range []struct {
		name     string
		s        raceState
		interval time.Duration
		want     raceStep
	}{
		// Scatter-gather: everything at once, then wait for replies.
		{"scatter: all at once", raceState{n: 4}, 0, raceStep{launch: 4}},
		{"scatter: all sent", raceState{n: 4, sent: 4, failed: 2}, 0, raceStep{}},
		{"scatter: all failed", raceState{n: 4, sent: 4, failed: 4}, 0, raceStep{done: true}},
		// Tail-chopping: one, then one more per interval.
		{"chop: first", raceState{n: 3}, iv, raceStep{launch: 1, wait: iv}},
		{"chop: before the interval", raceState{n: 3, sent: 1, sinceLast: 30 * time.Millisecond}, iv, raceStep{wait: 70 * time.Millisecond}},
		{"chop: interval passed", raceState{n: 3, sent: 1, sinceLast: iv}, iv, raceStep{launch: 1, wait: iv}},
		{"chop: last one needs no timer", raceState{n: 3, sent: 2, sinceLast: iv}, iv, raceStep{launch: 1}},
		{"chop: a failure does not wait out the interval", raceState{n: 3, sent: 1, failed: 1, sinceLast: time.Millisecond}, iv, raceStep{launch: 1, wait: iv}},
		{"chop: a failure with another in flight waits", raceState{n: 3, sent: 2, failed: 1, sinceLast: 10 * time.Millisecond}, iv, raceStep{wait: 90 * time.Millisecond}},
		{"chop: all sent", raceState{n: 2, sent: 2, sinceLast: time.Hour}, iv, raceStep{}},
		{"chop: all failed", raceState{n: 2, sent: 2, failed: 2}, iv, raceStep{done: true}},
		{"chop: single routee", raceState{n: 1}, iv, raceStep{launch: 1}},
	} {
		if got := raceNext(tc.s, tc.interval); got != tc.want {
			t.Errorf("%s: raceNext(%+v, %v) = %+v; want %+v", tc.name, tc.s, tc.interval, got, tc.want)
		}
	}
}

func TestShrinkVictims(t *testing.T) {
	for _, tc := range []struct {
		name   string
		depths []int
		k      int
		want   []int
	}{
		{"emptiest first", []int{5, 0, 3, 1}, 2, []int{1, 3}},
		{"ties: the latest started", []int{0, 0, 0, 0}, 2, []int{3, 2}},
		{"unknown counts as empty", []int{2, -1, 2}, 1, []int{1}},
		{"none", []int{1, 2}, 0, []int{}},
		{"more than there are", []int{1, 2}, 5, []int{0, 1}},
	} {
		if got := shrinkVictims(tc.depths, tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("%s: shrinkVictims(%v, %d) = %v; want %v", tc.name, tc.depths, tc.k, got, tc.want)
		}
	}
}
