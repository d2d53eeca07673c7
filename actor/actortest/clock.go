package actortest

import (
	"container/heap"
	"sync"
	"time"

	"github.com/foundation-go/foundation/actor"
)

// Clock is a manual actor.Clock: time stands still until Advance moves it,
// and timers run inside Advance, on the caller's goroutine, in due order.
// Pass it to actor.WithClock to drive a real System's idle timeouts from a
// test, or to WithClock to drive a Harness.
//
// A Clock is safe for concurrent use. Timer callbacks run without the
// Clock's lock held, so they may call AfterFunc, Stop and Now.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64 // orders timers due at the same instant: first scheduled runs first
	timers timerHeap
}

var _ actor.Clock = (*Clock)(nil)

// NewClock returns a Clock that reads start until advanced.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run d after Now, during a later Advance (d <= 0:
// the next Advance, even Advance(0)). Stop on the returned Timer reports
// whether it prevented f from running.
func (c *Clock) AfterFunc(d time.Duration, f func()) actor.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 {
		d = 0
	}
	c.seq++
	t := &timer{c: c, due: c.now.Add(d), seq: c.seq, f: f}
	heap.Push(&c.timers, t)
	return t
}

// Advance moves the clock forward by d (d < 0 counts as 0) and runs every
// timer due up to the new time, in due order; timers due at the same instant
// run in the order they were scheduled. While a timer runs, Now reads its due
// time. Timers scheduled by callbacks run too if they fall due within the
// window. Advance returns when no timer due by the new time is left.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].due.After(end) {
			if end.After(c.now) {
				c.now = end
			}
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.timers).(*timer)
		if t.due.After(c.now) {
			c.now = t.due
		}
		c.mu.Unlock()
		if t.f != nil {
			t.f()
		}
	}
}

// Pending reports how many timers are scheduled and have neither run nor
// been stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// timer is one AfterFunc; index is its place in the heap, -1 once it ran or
// was stopped.
type timer struct {
	c     *Clock
	due   time.Time
	seq   uint64
	f     func()
	index int
}

// Stop reports whether it removed the timer before it ran.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.index)
	return true
}

// timerHeap is a container/heap of timers ordered by (due, seq).
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
