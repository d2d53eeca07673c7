package telemetry

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// latencyStats is a lock-free latency histogram with power-of-two buckets
// from 1µs (bucket i holds durations below 2^i µs), for the performance
// summary, the dashboard and the advisor: atomic adds per observation.
// Every call is counted; the histogram may hold only a sample of them
// (timing costs two clock reads), which is enough for percentiles. The
// exported histograms for Prometheus are OpenTelemetry's, of every call.
type latencyStats struct {
	calls   atomic.Uint64
	errors  atomic.Uint64
	buckets [26]atomic.Uint64
}

// add counts a call, failed or not.
func (l *latencyStats) add(failed bool) {
	l.calls.Add(1)
	if failed {
		l.errors.Add(1)
	}
}

// took records the duration of a call counted with add.
func (l *latencyStats) took(d time.Duration) {
	us := uint64(d / time.Microsecond)
	i := bits.Len64(us)
	if i >= len(l.buckets) {
		i = len(l.buckets) - 1
	}
	l.buckets[i].Add(1)
}

// latencySnapshot is a copy of a latencyStats' counts.
type latencySnapshot struct {
	calls   uint64
	errors  uint64
	buckets [26]uint64
}

func (l *latencyStats) snapshot() latencySnapshot {
	var s latencySnapshot
	for i := range l.buckets {
		s.buckets[i] = l.buckets[i].Load()
	}
	s.calls = l.calls.Load()
	s.errors = l.errors.Load()
	return s
}

// sub returns the counts of s since an earlier snapshot.
func (s latencySnapshot) sub(earlier latencySnapshot) latencySnapshot {
	var d latencySnapshot
	for i := range s.buckets {
		d.buckets[i] = s.buckets[i] - earlier.buckets[i]
	}
	d.calls = s.calls - earlier.calls
	d.errors = s.errors - earlier.errors
	return d
}

// count is the number of calls.
func (s latencySnapshot) count() uint64 { return s.calls }

// quantile estimates the q-quantile (0..1) of the timed calls as the
// upper bound of the bucket it falls in; 0 when none.
func (s latencySnapshot) quantile(q float64) time.Duration {
	var n uint64
	for _, b := range s.buckets {
		n += b
	}
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n-1)) + 1
	var seen uint64
	for i, b := range s.buckets {
		if seen += b; seen >= rank {
			return time.Duration(uint64(1)<<i) * time.Microsecond
		}
	}
	return time.Duration(uint64(1)<<(len(s.buckets)-1)) * time.Microsecond
}

// counters are the Telemetry's own cheap counters.
type counters struct {
	actorCalls latencyStats
	grainCalls latencyStats
}
