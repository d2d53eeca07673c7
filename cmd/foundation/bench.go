package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foundation-go/foundation/actor"
)

// selfBenchmark measures what this machine carries as one member: request
// and reply calls between local processes, one caller per CPU, for d. It is
// an upper bound of a member's capacity (no network, no serialization,
// no user work); pass --per-member with a figure from a load test of the
// real service when there is one.
func selfBenchmark(ctx context.Context, d time.Duration) (float64, error) {
	if d <= 0 || d > time.Minute {
		return 0, fmt.Errorf("--bench-time %v: want more than 0 and at most 1m", d)
	}
	sys, err := actor.NewSystem()
	if err != nil {
		return 0, err
	}
	if err := sys.Start(ctx); err != nil {
		return 0, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sys.Stop(sctx)
	}()
	workers := runtime.GOMAXPROCS(0)
	var calls atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < workers; i++ {
		pid, err := sys.Spawn(&echo{})
		if err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
				_, err := actor.Call[int](cctx, sys, pid, 1)
				ccancel()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return 0, e
	}
	return float64(calls.Load()) / time.Since(start).Seconds(), nil
}

type echo struct{ actor.ServerBase }

func (echo) HandleCall(_ actor.Process, req any) (any, error) { return req, nil }
