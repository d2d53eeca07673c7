package actor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// dispatcher runs mailboxes on a pool of parked worker goroutines instead of
// a new goroutine per scheduling, as the engine's default does. A fresh
// goroutine starts on a minimal stack and grows it (copying frames) on the
// first deep call chain, which on a request/reply round trip costs as much as
// the rest of the trip; a parked worker keeps its grown stack.
//
// Workers are owned by the System: idle ones beyond maxIdle are retired once
// per trim interval, and all of them exit on close.
//
// Starting a worker and closing share mu: a worker is counted in wg under mu
// only while the dispatcher is open, and close marks it closed under mu
// before it waits. So close's Wait never runs concurrently with an Add from
// zero, and no worker starts after close has begun. Handing work to a parked
// worker, the hot path, takes no lock.
type dispatcher struct {
	work       chan func()
	quit       chan struct{}
	wg         sync.WaitGroup
	idle       atomic.Int32
	throughput int
	maxIdle    int32

	mu     sync.Mutex // guards closed and orders wg.Add before close's Wait
	closed bool
}

const dispatcherTrimEvery = time.Second

func newDispatcher(throughput int, maxIdle int32) *dispatcher {
	d := &dispatcher{
		work:       make(chan func()),
		quit:       make(chan struct{}),
		throughput: throughput,
		maxIdle:    maxIdle,
	}
	d.wg.Add(1)
	go d.trim()
	return d
}

// Schedule hands fn to a parked worker, or starts one.
func (d *dispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
		return
	default:
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		// After close nothing of ours runs; keep engine internals working.
		go fn()
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go d.worker(fn)
}

// Throughput is how many messages a mailbox handles before yielding.
func (d *dispatcher) Throughput() int { return d.throughput }

func (d *dispatcher) worker(fn func()) {
	defer d.wg.Done()
	for {
		fn()
		d.idle.Add(1)
		select {
		case fn = <-d.work:
			d.idle.Add(-1)
			if fn == nil {
				return // retired by trim
			}
		case <-d.quit:
			d.idle.Add(-1)
			return
		}
	}
}

func (d *dispatcher) trim() {
	defer d.wg.Done()
	t := time.NewTicker(dispatcherTrimEvery)
	defer t.Stop()
	for {
		select {
		case <-d.quit:
			return
		case <-t.C:
			for n := d.idle.Load() - d.maxIdle; n > 0; n-- {
				select {
				case d.work <- nil:
				default:
					n = 0
				}
			}
		}
	}
}

// close stops every worker and waits for them, or for ctx (a worker stuck in
// a handler cannot be interrupted); mailboxes still scheduled afterwards run
// on plain goroutines.
func (d *dispatcher) close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.quit)
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		select {
		case <-done: // both ready: the handlers did finish
			return nil
		default:
			return ctx.Err()
		}
	}
}
