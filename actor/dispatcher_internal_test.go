package actor

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestDispatcherCloseRacesSchedule races close against a goroutine whose
// every Schedule may have to start a worker. With one P the scheduler
// preempts that goroutine at arbitrary points, sometimes between deciding to
// start a worker and counting it; a worker counted after close has begun
// waiting is an Add from zero concurrent with Wait, which -race reports (and
// the WaitGroup may panic: "reused before previous Wait has returned"). The
// interleaving is rare, so this test is a stress test: it cannot fail on
// every run of a broken dispatcher, and it runs for a bounded time.
func TestDispatcherCloseRacesSchedule(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	budget := time.Now().Add(3 * time.Second)
	for round := 0; round < 300 && time.Now().Before(budget); round++ {
		d := newDispatcher(1, 0)
		var stop atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			for !stop.Load() {
				d.Schedule(func() {})
			}
		}()
		runtime.Gosched() // let the scheduling goroutine run until it is preempted
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := d.close(ctx)
		cancel()
		stop.Store(true)
		<-done
		if err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
}

// TestDispatcherCloseWaitsForWorkers: close waits for a worker busy in a
// handler (or returns ctx's error), is idempotent, and a Schedule after it
// still runs its function.
func TestDispatcherCloseWaitsForWorkers(t *testing.T) {
	d := newDispatcher(1, 0)
	entered, release := make(chan struct{}), make(chan struct{})
	d.Schedule(func() { close(entered); <-release })
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close with a busy worker = %v, want context.DeadlineExceeded", err)
	}
	ran := make(chan struct{})
	d.Schedule(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("a function scheduled after close did not run")
	}
	close(release)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := d.close(ctx2); err != nil {
		t.Fatalf("second close after the worker finished = %v, want nil", err)
	}
}
