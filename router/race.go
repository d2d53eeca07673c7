package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/foundation-go/foundation/actor"
)

type raceResult[R any] struct {
	v   R
	err error
}

// race calls targets in order as raceNext decides, and returns the first
// success. It owns the goroutines it starts: each makes one actor.Call and
// puts its result in a buffered channel (so it never blocks); race cancels
// the calls still in flight and waits for all of them before it returns.
func race[R any](ctx context.Context, r *Router, msg any, targets []*actor.PID, interval time.Duration, what string) (R, error) {
	var zero R
	if err := ctx.Err(); err != nil {
		return zero, ctxErr(what, err)
	}
	n := len(targets)
	var wg sync.WaitGroup
	defer wg.Wait() // runs last: after cancel
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()

	results := make(chan raceResult[R], n)
	tick := make(chan struct{}, 1)
	var timer actor.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()

	st := raceState{n: n}
	var last time.Time
	var errs []error
	for {
		if st.sent > 0 {
			st.sinceLast = r.clock.Now().Sub(last)
		}
		step := raceNext(st, interval)
		if step.done {
			return zero, fmt.Errorf("%w: %s over %d routees: %w", ErrAllFailed, what, n, errors.Join(errs...))
		}
		for range step.launch {
			pid := targets[st.sent]
			st.sent++
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := actor.Call[R](cctx, r.sys, pid, msg)
				results <- raceResult[R]{v, err}
			}()
		}
		if step.launch > 0 {
			last = r.clock.Now()
		}
		if step.wait > 0 {
			if timer != nil {
				timer.Stop()
			}
			timer = r.clock.AfterFunc(step.wait, func() {
				select {
				case tick <- struct{}{}:
				default:
				}
			})
		}
		select {
		case res := <-results:
			if res.err == nil {
				return res.v, nil
			}
			if err := ctx.Err(); err != nil {
				return zero, ctxErr(what, err) // the call failed because ctx ended
			}
			st.failed++
			errs = append(errs, res.err)
		case <-tick:
		case <-ctx.Done():
			return zero, ctxErr(what, ctx.Err())
		}
	}
}
