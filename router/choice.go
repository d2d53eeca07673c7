package router

import (
	"math"
	"math/bits"
	"time"

	"github.com/foundation-go/foundation/actor"
)

// The pure choices behind every strategy: inputs in, a choice out; no
// goroutines, no clock, no randomness of their own (random draws are
// arguments). The strategies (strategy.go) gather the inputs and the
// routers and pools (router.go, race.go, pool.go) apply the choices.

// roundRobinIndex is the routee for the counter-th message among n.
// The counter is taken modulo 2^32 (a 32-bit division is the cheaper), so
// once every 4 G messages one routee's turn repeats.
func roundRobinIndex(counter uint64, n int) int {
	return int(uint32(counter) % uint32(n))
}

// randomIndex maps a uniform 64-bit draw x to [0, n) by multiply-shift
// (Lemire): no division, bias below n/2^64.
func randomIndex(x uint64, n int) int {
	hi, _ := bits.Mul64(x, uint64(n))
	return int(hi)
}

// unitFloat maps a uniform 64-bit draw to [0, 1).
func unitFloat(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// fmix64 is MurmurHash3's 64-bit finalizer: a bijection in which every input
// bit flips each output bit with probability close to 1/2.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// keyHash is the hash of a consistent-hash key: FNV-1a, finalized. It is the
// same in every process (no per-process seed), so that every member routing
// the same key over the same routees picks the same one.
func keyHash(key string) uint64 { return fmix64(fnvString(fnvOffset, key)) }

// pidHash is a routee's identity hash, over its address and id.
func pidHash(pid *actor.PID) uint64 {
	h := fnvString(fnvOffset, pid.Address)
	h ^= 0xff
	h *= fnvPrime
	return fmix64(fnvString(h, pid.Id))
}

// rendezvousIndex is highest-random-weight (rendezvous) hashing: the routee
// whose score fmix64(key ^ routee) is the highest, ties broken by the lower
// routee hash so that the choice does not depend on the routees' order.
// Adding a routee moves to it only the keys it now wins (a 1/(n+1) share);
// removing one moves only the keys it had, each to its runner-up.
func rendezvousIndex(key uint64, routees []uint64) int {
	best, bestScore := 0, fmix64(key^routees[0])
	for i := 1; i < len(routees); i++ {
		s := fmix64(key ^ routees[i])
		if s > bestScore || (s == bestScore && routees[i] < routees[best]) {
			best, bestScore = i, s
		}
	}
	return best
}

// smallestIndex is the routee with the fewest queued messages among n,
// scanning from start (a rotating start spreads ties instead of always
// favouring the first routee) and stopping at the first empty mailbox.
// depth(i) < 0 means unknown (a remote routee): chosen only if no depth is
// known, in which case start is. As Akka's SmallestMailboxRoutingLogic, an
// idle routee wins at once; unlike it, ties do not always go to the first.
func smallestIndex(n, start int, depth func(i int) int) int {
	best, bestDepth := -1, 0
	for j := 0; j < n; j++ {
		i := start + j
		if i >= n {
			i -= n
		}
		d := depth(i)
		switch {
		case d < 0:
			continue
		case d == 0:
			return i
		case best < 0 || d < bestDepth:
			best, bestDepth = i, d
		}
	}
	if best < 0 {
		return start
	}
	return best
}

// adaptiveWeights writes into w the weight of each routee from its load:
// 1/(1+load) for a known load (a negative load counts as 0, +Inf weighs 0),
// and for an unknown load (NaN) the mean weight of the known ones, or 1 if
// none is known — as Akka's adaptive balancer gives nodes without metrics
// the mean weight. len(w) == len(loads); w may be loads itself.
func adaptiveWeights(loads, w []float64) {
	sum, known := 0.0, 0
	for i, l := range loads {
		switch {
		case math.IsNaN(l):
			continue
		case l < 0:
			l = 0
		}
		w[i] = 1 / (1 + l)
		sum += w[i]
		known++
	}
	mean := 1.0
	if known > 0 {
		mean = sum / float64(known)
	}
	for i, l := range loads {
		if math.IsNaN(l) {
			w[i] = mean
		}
	}
}

// weightedIndex picks an index with probability proportional to its weight,
// for a uniform draw u in [0, 1). If every weight is 0 the pick is uniform.
func weightedIndex(w []float64, u float64) int {
	total := 0.0
	for _, x := range w {
		total += x
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return min(int(u*float64(len(w))), len(w)-1)
	}
	t := u * total
	for i, x := range w {
		if t < x {
			return i
		}
		t -= x
	}
	// Rounding left t just above the last weight: the last routee with a
	// weight takes it.
	for i := len(w) - 1; i >= 0; i-- {
		if w[i] > 0 {
			return i
		}
	}
	return len(w) - 1
}

// raceState is where a scatter-gather or tail-chopping call stands.
type raceState struct {
	n         int           // routees to try, in order
	sent      int           // attempts started
	failed    int           // attempts that answered with an error
	sinceLast time.Duration // since the last attempt started
}

// raceStep is what to do next.
type raceStep struct {
	launch int           // start this many more attempts now, the next in order
	wait   time.Duration // then decide again after this long unless a reply comes first; 0: no timer
	done   bool          // every attempt failed: give up
}

// raceNext decides the next step of a call that sends to routees in order,
// one more every interval, until the first success (tail-chopping). An
// attempt that fails does not wait out its interval: when nothing is in
// flight, the next one starts at once. interval <= 0 starts every attempt
// at once (scatter-gather-first-completed). Broadcast needs no such choice:
// it is every routee, once.
func raceNext(s raceState, interval time.Duration) raceStep {
	switch {
	case s.failed >= s.n:
		return raceStep{done: true}
	case s.sent >= s.n:
		return raceStep{} // all sent: wait for replies
	case interval <= 0:
		return raceStep{launch: s.n - s.sent}
	case s.sent == 0 || s.failed == s.sent || s.sinceLast >= interval:
		st := raceStep{launch: 1}
		if s.sent+1 < s.n {
			st.wait = interval
		}
		return st
	}
	return raceStep{wait: interval - s.sinceLast}
}

// shrinkVictims chooses which k of the routees a shrinking pool stops: those
// with the fewest queued messages (unknown depths, < 0, count as empty),
// ties going to the later routees (the most recently started). It returns
// their indexes in descending order of preference.
func shrinkVictims(depths []int, k int) []int {
	k = min(max(k, 0), len(depths))
	idx := make([]int, len(depths))
	for i := range idx {
		idx[i] = i
	}
	d := func(i int) int { return max(depths[i], 0) }
	// Selection of the k best by (depth ascending, index descending); n is
	// a pool's size, small.
	for j := 0; j < k; j++ {
		best := j
		for i := j + 1; i < len(idx); i++ {
			a, b := idx[i], idx[best]
			if d(a) < d(b) || (d(a) == d(b) && a > b) {
				best = i
			}
		}
		idx[j], idx[best] = idx[best], idx[j]
	}
	return idx[:k]
}
