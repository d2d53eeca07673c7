// Package backoff computes the waits between retries of a failing
// activity and logs each run of its failures once, for the discovery
// providers that talk to a back-end (consul, dns, etcd, k8s).
package backoff

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// Delay returns the wait after the n-th failure in a row (n ≥ 1; smaller
// counts as 1): lo doubled for each further failure, capped at hi, then
// shortened by up to half according to r in [0, 1), so that members that
// failed together do not retry together. r = 0 gives the whole step; pass
// rand.Float64() in production and a fixed r in tests.
func Delay(lo, hi time.Duration, n int, r float64) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	r = min(max(r, 0), 1)
	return d - time.Duration(float64(d/2)*r)
}

// Episode logs a run of failures of one activity once: a warning at its
// first failure and an info line when the activity works again, with the
// number of failures and how long they lasted. The zero Episode with Log
// and What set is ready; it is safe for concurrent use.
type Episode struct {
	// Log receives the two lines. Nil: nothing is logged.
	Log *zap.Logger
	// What names the activity, prefixed by the provider: "consul:
	// renewing the TTL check", "dns: lookup".
	What string

	mu       sync.Mutex
	failures int
	since    time.Time
	last     error
}

// Fail records a failure. The first of a run logs a warning carrying err
// and fields; Fail reports whether it was the first.
func (e *Episode) Fail(err error, fields ...zap.Field) (first bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = err
	e.failures++
	if e.failures > 1 {
		return false
	}
	e.since = time.Now()
	if e.Log != nil {
		if err != nil {
			fields = append(fields, zap.Error(err))
		}
		e.Log.Warn(e.What+" failing; retrying with backoff (logged once until it works again)", fields...)
	}
	return true
}

// OK records a success. It ends a run of failures with an info line
// carrying fields, the failure count and the run's duration.
func (e *Episode) OK(fields ...zap.Field) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failures == 0 {
		return
	}
	if e.Log != nil {
		e.Log.Info(e.What+" working again",
			append(fields, zap.Int("failures", e.failures), zap.Duration("after", time.Since(e.since)))...)
	}
	e.failures = 0
}

// Failures returns the length of the current run of failures (0: the
// activity works).
func (e *Episode) Failures() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failures
}

// Err returns the last failure's error, kept after a success; nil if
// there was none.
func (e *Episode) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}
