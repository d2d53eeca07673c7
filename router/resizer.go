package router

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Observation is what a pool shows its Resizer each time it consults it.
type Observation struct {
	// Now is the time on the pool's clock.
	Now time.Time
	// Mailboxes holds, for each current routee, the user messages queued
	// in its mailbox (actor.System.MailboxLen: a routee busy with a batch
	// counts the batch), or -1 when unknown. Its length is the pool's
	// current size.
	Mailboxes []int
	// Routed counts the messages routed to the pool since it started
	// (a broadcast or a scatter-gather counts once).
	Routed uint64
}

// Resizer decides the size of a Pool (Akka's Resizer).
//
// Resize is called by the pool's resizer goroutine only, one call at a time:
// on every tick of PoolConfig.ResizeInterval and, for resizers that ask for
// it (DefaultResizer.MessagesPerResize), every so many routed messages. It
// must not block. It returns the size the pool should have and the Resizer
// to consult next time: a resizer with state (OptimalSizeExploringResizer)
// returns an updated copy and leaves the receiver as it was, so Resize is a
// pure function of (resizer, observation) that tests drive with tables.
// The pool starts or stops routees to reach the size (never below 0).
//
// Resizers may also implement Validate() error, checked by NewPool, and
// Bounds() (lower, upper int), which NewPool uses for PoolConfig.Size's
// default and range.
type Resizer interface {
	Resize(obs Observation) (size int, next Resizer)
}

// Off disables a rate or a probability of a resizer whose zero value means
// its default: RampupRate, BackoffThreshold, BackoffRate,
// ChanceOfScalingDownWhenFull, ExplorationProbability. Any negative value
// counts as 0.
const Off = -1.0

func rate(v, def float64) float64 {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

func checkRate(field string, v float64, maxV float64) error {
	if math.IsNaN(v) || (v > 0 && v > maxV) || (v < 0 && v != Off) {
		if maxV == math.Inf(1) {
			return fmt.Errorf("%w: %s is %v; want >= 0 (0: the default), or Off", ErrInvalidResizer, field, v)
		}
		return fmt.Errorf("%w: %s is %v; want 0..%v (0: the default), or Off", ErrInvalidResizer, field, v, maxV)
	}
	return nil
}

// DefaultResizer grows a pool under pressure and shrinks it when idle:
// Akka's DefaultResizer, with its defaults. Each consultation counts the
// routees under pressure (mailbox >= PressureThreshold); if all are, the
// pool grows by ceil(RampupRate × size); if fewer than BackoffThreshold of
// them are, it shrinks by floor(BackoffRate × size) (at least 1); the result
// stays within [Lower, Upper]. The pool consults it every MessagesPerResize
// messages (Akka's trigger) and on every tick of PoolConfig.ResizeInterval,
// so that an idle pool, which gets no messages, shrinks too.
//
// Resize is pure and DefaultResizer has no state: it returns itself.
type DefaultResizer struct {
	// Lower is the fewest routees. Zero: 1. It must be >= 1.
	Lower int
	// Upper is the most routees. Zero: 10 (Akka's), or Lower if that is
	// higher. It must be >= Lower.
	Upper int
	// PressureThreshold: a routee with at least this many queued messages
	// is under pressure. Zero: 1 (busy, or with a message waiting: a
	// Foundation mailbox counts the batch being handled).
	PressureThreshold int
	// RampupRate is the share of the size added when every routee is
	// under pressure, rounded up. Zero: 0.2. Off: never grow.
	RampupRate float64
	// BackoffThreshold: the pool shrinks when fewer than this share of its
	// routees are under pressure. Zero: 0.3. Off: never shrink.
	BackoffThreshold float64
	// BackoffRate is the share of the size removed when backing off
	// (rounded down, at least 1). Zero: 0.1. Off: never shrink.
	BackoffRate float64
	// MessagesPerResize: the pool consults the resizer every this many
	// routed messages, besides its ticks. Zero: 100 (Akka's is 10; routing
	// here runs on the callers' goroutines and each consultation wakes the
	// pool's resizer goroutine, so a flood would wake it too often).
	MessagesPerResize int
}

var _ Resizer = DefaultResizer{}

func (r DefaultResizer) resolved() DefaultResizer {
	if r.Lower == 0 {
		r.Lower = 1
	}
	if r.Upper == 0 {
		r.Upper = max(10, r.Lower)
	}
	if r.PressureThreshold == 0 {
		r.PressureThreshold = 1
	}
	r.RampupRate = rate(r.RampupRate, 0.2)
	r.BackoffThreshold = rate(r.BackoffThreshold, 0.3)
	r.BackoffRate = rate(r.BackoffRate, 0.1)
	if r.MessagesPerResize == 0 {
		r.MessagesPerResize = 100
	}
	return r
}

// Validate reports the first field out of range, naming it and what is
// allowed. It does not modify r.
func (r DefaultResizer) Validate() error {
	switch {
	case r.Lower < 0:
		return fmt.Errorf("%w: DefaultResizer.Lower is %d; want >= 1 (0: 1)", ErrInvalidResizer, r.Lower)
	case r.Upper < 0:
		return fmt.Errorf("%w: DefaultResizer.Upper is %d; want >= Lower (0: 10)", ErrInvalidResizer, r.Upper)
	case r.PressureThreshold < 0:
		return fmt.Errorf("%w: DefaultResizer.PressureThreshold is %d; want >= 1 (0: 1)", ErrInvalidResizer, r.PressureThreshold)
	case r.MessagesPerResize < 0:
		return fmt.Errorf("%w: DefaultResizer.MessagesPerResize is %d; want >= 1 (0: 100)", ErrInvalidResizer, r.MessagesPerResize)
	}
	if err := checkRate("DefaultResizer.RampupRate", r.RampupRate, math.Inf(1)); err != nil {
		return err
	}
	if err := checkRate("DefaultResizer.BackoffThreshold", r.BackoffThreshold, 1); err != nil {
		return err
	}
	if err := checkRate("DefaultResizer.BackoffRate", r.BackoffRate, 1); err != nil {
		return err
	}
	if c := r.resolved(); c.Upper < c.Lower {
		return fmt.Errorf("%w: DefaultResizer.Upper is %d; want >= Lower (%d)", ErrInvalidResizer, c.Upper, c.Lower)
	}
	return nil
}

// Bounds returns the lower and upper bounds, defaults applied.
func (r DefaultResizer) Bounds() (lower, upper int) {
	c := r.resolved()
	return c.Lower, c.Upper
}

func (r DefaultResizer) messagesPerResize() int { return r.resolved().MessagesPerResize }

// Resize returns the new size for obs (Akka's DefaultResizer.capacity plus
// the current size) and r itself.
func (r DefaultResizer) Resize(obs Observation) (int, Resizer) {
	c := r.resolved()
	size := len(obs.Mailboxes)
	pressure := 0
	for _, d := range obs.Mailboxes {
		if d >= c.PressureThreshold {
			pressure++
		}
	}
	delta := 0
	if size > 0 && pressure >= size {
		delta += int(math.Ceil(c.RampupRate * float64(size)))
	}
	if size > 0 && c.BackoffThreshold > 0 && c.BackoffRate > 0 &&
		float64(pressure)/float64(size) < c.BackoffThreshold {
		delta += int(math.Floor(-c.BackoffRate * float64(size)))
	}
	return min(max(size+delta, c.Lower), c.Upper), r
}

// OptimalSizeExploringResizer looks for the pool size with the best
// throughput: Akka's OptimalSizeExploringResizer, with its defaults. At
// most once per ActionInterval it records, for the current size, the time
// the pool took per message processed while every routee was busy (a
// weighted moving average); then, if every routee is busy, it either
// explores (with ExplorationProbability: a random step of up to
// ExploreStepSize × size, downwards with ChanceOfScalingDownWhenFull) or
// moves half way towards the best size recorded among the nearby ones
// (NumAdjacentSizes). When routees have been idle for
// DownsizeAfterUnderutilizedFor, it shrinks to DownsizeRatio × the most
// routees that were busy at once in that time.
//
// Resize is pure: the resizer carries its state (the performance log, the
// last check, its random generator seeded with Seed) and returns an
// updated copy, leaving the receiver unchanged. Build one as a literal; the
// zero value is Akka's configuration. Consult it more often than
// ActionInterval (PoolConfig.ResizeInterval, default 1 s).
type OptimalSizeExploringResizer struct {
	// Lower is the fewest routees. Zero: 1. It must be >= 1.
	Lower int
	// Upper is the most routees. Zero: 30 (Akka's), or Lower if that is
	// higher. It must be >= Lower.
	Upper int
	// ActionInterval is the least time between two actions. Zero: 5 s.
	ActionInterval time.Duration
	// ChanceOfScalingDownWhenFull is the probability that an exploration
	// step goes down rather than up. Zero: 0.2. Off: always up.
	ChanceOfScalingDownWhenFull float64
	// ExplorationProbability is the probability of exploring rather than
	// optimizing at an action. Zero: 0.4. Off: never explore.
	ExplorationProbability float64
	// ExploreStepSize bounds an exploration step: a random 1 ..
	// ceil(ExploreStepSize × size) - 1 routees, at least 1. Zero: 0.1.
	ExploreStepSize float64
	// NumAdjacentSizes is how many recorded sizes, half on each side of the
	// current one, optimization compares. Zero: 16.
	NumAdjacentSizes int
	// WeightOfLatestMetric is the weight of the newest measurement in a
	// size's moving average. Zero: 0.5. It must be in (0, 1].
	WeightOfLatestMetric float64
	// DownsizeAfterUnderutilizedFor is how long some routee must have been
	// idle at every action before the pool shrinks. Zero: 72 h (Akka's).
	DownsizeAfterUnderutilizedFor time.Duration
	// DownsizeRatio: an underutilized pool shrinks to this share of the
	// most routees busy at once during the streak. Zero: 0.8. It must be
	// in (0, 1].
	DownsizeRatio float64
	// Seed seeds the random choices of exploration, so that a run can be
	// replayed. Zero: a fixed seed.
	Seed uint64

	st *exploreState // nil: nothing observed yet
}

var _ Resizer = OptimalSizeExploringResizer{}

// exploreState is the resizer's memory. It is never modified once built:
// Resize builds a new one.
type exploreState struct {
	perf       map[int]time.Duration // size -> time per message processed while fully utilized
	streak     bool                  // some routee was idle at every check since streakFrom
	streakFrom time.Time
	streakMax  int // most routees busy at once during the streak
	checked    bool
	checkTime  time.Time
	routed     uint64 // Observation.Routed at the last check
	queued     int    // messages queued at the last check
	rng        uint64 // splitmix64 state
}

func (r OptimalSizeExploringResizer) resolved() OptimalSizeExploringResizer {
	if r.Lower == 0 {
		r.Lower = 1
	}
	if r.Upper == 0 {
		r.Upper = max(30, r.Lower)
	}
	if r.ActionInterval == 0 {
		r.ActionInterval = 5 * time.Second
	}
	r.ChanceOfScalingDownWhenFull = rate(r.ChanceOfScalingDownWhenFull, 0.2)
	r.ExplorationProbability = rate(r.ExplorationProbability, 0.4)
	if r.ExploreStepSize == 0 {
		r.ExploreStepSize = 0.1
	}
	if r.NumAdjacentSizes == 0 {
		r.NumAdjacentSizes = 16
	}
	if r.WeightOfLatestMetric == 0 {
		r.WeightOfLatestMetric = 0.5
	}
	if r.DownsizeAfterUnderutilizedFor == 0 {
		r.DownsizeAfterUnderutilizedFor = 72 * time.Hour
	}
	if r.DownsizeRatio == 0 {
		r.DownsizeRatio = 0.8
	}
	return r
}

// Validate reports the first field out of range, naming it and what is
// allowed. It does not modify r.
func (r OptimalSizeExploringResizer) Validate() error {
	const t = "OptimalSizeExploringResizer."
	switch {
	case r.Lower < 0:
		return fmt.Errorf("%w: %sLower is %d; want >= 1 (0: 1)", ErrInvalidResizer, t, r.Lower)
	case r.Upper < 0:
		return fmt.Errorf("%w: %sUpper is %d; want >= Lower (0: 30)", ErrInvalidResizer, t, r.Upper)
	case r.ActionInterval < 0:
		return fmt.Errorf("%w: %sActionInterval is %v; want > 0 (0: 5s)", ErrInvalidResizer, t, r.ActionInterval)
	case r.NumAdjacentSizes < 0:
		return fmt.Errorf("%w: %sNumAdjacentSizes is %d; want >= 2 (0: 16)", ErrInvalidResizer, t, r.NumAdjacentSizes)
	case r.DownsizeAfterUnderutilizedFor < 0:
		return fmt.Errorf("%w: %sDownsizeAfterUnderutilizedFor is %v; want > 0 (0: 72h)", ErrInvalidResizer, t, r.DownsizeAfterUnderutilizedFor)
	case math.IsNaN(r.ExploreStepSize) || r.ExploreStepSize < 0:
		return fmt.Errorf("%w: %sExploreStepSize is %v; want > 0 (0: 0.1)", ErrInvalidResizer, t, r.ExploreStepSize)
	case math.IsNaN(r.WeightOfLatestMetric) || r.WeightOfLatestMetric < 0 || r.WeightOfLatestMetric > 1:
		return fmt.Errorf("%w: %sWeightOfLatestMetric is %v; want in (0, 1] (0: 0.5)", ErrInvalidResizer, t, r.WeightOfLatestMetric)
	case math.IsNaN(r.DownsizeRatio) || r.DownsizeRatio < 0 || r.DownsizeRatio > 1:
		return fmt.Errorf("%w: %sDownsizeRatio is %v; want in (0, 1] (0: 0.8)", ErrInvalidResizer, t, r.DownsizeRatio)
	}
	if err := checkRate(t+"ChanceOfScalingDownWhenFull", r.ChanceOfScalingDownWhenFull, 1); err != nil {
		return err
	}
	if err := checkRate(t+"ExplorationProbability", r.ExplorationProbability, 1); err != nil {
		return err
	}
	if c := r.resolved(); c.Upper < c.Lower {
		return fmt.Errorf("%w: %sUpper is %d; want >= Lower (%d)", ErrInvalidResizer, t, c.Upper, c.Lower)
	}
	return nil
}

// Bounds returns the lower and upper bounds, defaults applied.
func (r OptimalSizeExploringResizer) Bounds() (lower, upper int) {
	c := r.resolved()
	return c.Lower, c.Upper
}

// PerformanceLog returns, for each pool size measured while fully
// utilized, the time the pool took per message processed (lower is
// better). It is a copy.
func (r OptimalSizeExploringResizer) PerformanceLog() map[int]time.Duration {
	if r.st == nil {
		return map[int]time.Duration{}
	}
	return maps.Clone(r.st.perf)
}

// Resize records obs and returns the new size and the updated resizer; r is
// unchanged. Between actions (less than ActionInterval since the last) it
// only keeps the size within [Lower, Upper].
func (r OptimalSizeExploringResizer) Resize(obs Observation) (int, Resizer) {
	c := r.resolved()
	size := len(obs.Mailboxes)
	clamp := func(n int) int { return min(max(n, c.Lower), c.Upper) }
	old := r.st
	if old == nil {
		seed := r.Seed
		if seed == 0 {
			seed = 0x853c49e6748fea9b
		}
		old = &exploreState{rng: seed}
	}
	if old.checked && obs.Now.Sub(old.checkTime) < c.ActionInterval {
		return clamp(size), r
	}
	st := c.report(old, obs)
	change := 0
	switch {
	case st.streak && obs.Now.Sub(st.streakFrom) >= c.DownsizeAfterUnderutilizedFor:
		change = min(int(float64(st.streakMax)*c.DownsizeRatio)-size, 0)
	case len(st.perf) == 0 || st.streak:
	default:
		var u float64
		st.rng, u = nextFloat(st.rng)
		if u < c.ExplorationProbability {
			change = c.explore(st, size)
		} else {
			change = c.optimize(st.perf, size)
		}
	}
	next := r
	next.st = st
	return clamp(size + change), next
}

// report is Akka's updatedStats: the new state after observing obs.
func (c OptimalSizeExploringResizer) report(old *exploreState, obs Observation) *exploreState {
	st := *old
	size := len(obs.Mailboxes)
	queued, busy := 0, 0
	for _, d := range obs.Mailboxes {
		if d > 0 {
			queued += d
			busy++
		}
	}
	full := size > 0 && busy == size
	if full {
		if !old.streak && old.checked {
			// Messages processed since the last check: those routed, plus
			// the shrinking of the queues.
			processed := int64(obs.Routed-old.routed) + int64(old.queued-queued)
			if elapsed := obs.Now.Sub(old.checkTime); processed > 0 && elapsed > 0 {
				last := elapsed / time.Duration(processed)
				if prev, ok := old.perf[size]; ok {
					w := c.WeightOfLatestMetric
					last = time.Duration(float64(prev)*(1-w) + float64(last)*w)
				}
				st.perf = maps.Clone(old.perf)
				if st.perf == nil {
					st.perf = map[int]time.Duration{}
				}
				st.perf[size] = last
			}
		}
		st.streak, st.streakMax, st.streakFrom = false, 0, time.Time{}
	} else {
		if !old.streak {
			st.streak, st.streakFrom, st.streakMax = true, obs.Now, 0
		}
		st.streakMax = max(st.streakMax, busy)
	}
	st.checked, st.checkTime, st.routed, st.queued = true, obs.Now, obs.Routed, queued
	return &st
}

// explore is a random step: up, or down with ChanceOfScalingDownWhenFull.
// It advances st's generator.
func (c OptimalSizeExploringResizer) explore(st *exploreState, size int) int {
	limit := int(math.Ceil(float64(size) * c.ExploreStepSize))
	step := 0
	if limit > 0 {
		var x uint64
		st.rng, x = splitmix64(st.rng)
		step = randomIndex(x, limit)
	}
	step = max(1, step)
	var u float64
	st.rng, u = nextFloat(st.rng)
	if u < c.ChanceOfScalingDownWhenFull {
		return -step
	}
	return step
}

// optimize moves half way towards the size with the lowest time per message
// among the NumAdjacentSizes recorded sizes nearest to size (half below,
// half at or above), rounding away from the current size.
func (c OptimalSizeExploringResizer) optimize(perf map[int]time.Duration, size int) int {
	each := c.NumAdjacentSizes / 2
	var below, above []int
	for s := range perf {
		if s < size {
			below = append(below, s)
		} else {
			above = append(above, s)
		}
	}
	slices.Sort(below)
	slices.Reverse(below) // nearest first
	slices.Sort(above)    // nearest first
	left, right := size, size
	if k := min(each, len(below)); k > 0 {
		left = below[k-1]
	}
	if k := min(each, len(above)); k > 0 {
		right = above[k-1]
	}
	best, bestT := -1, time.Duration(0)
	for s, t := range perf {
		if s < left || s > right {
			continue
		}
		if best < 0 || t < bestT || (t == bestT && s < best) {
			best, bestT = s, t
		}
	}
	if best < 0 {
		return 0
	}
	move := float64(best-size) / 2
	if move < 0 {
		return int(math.Floor(move))
	}
	return int(math.Ceil(move))
}

// splitmix64 advances a SplitMix64 generator: (next state, output).
func splitmix64(s uint64) (uint64, uint64) {
	s += 0x9e3779b97f4a7c15
	z := s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return s, z ^ (z >> 31)
}

func nextFloat(s uint64) (uint64, float64) {
	s, x := splitmix64(s)
	return s, unitFloat(x)
}
