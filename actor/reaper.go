package actor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// reaper is a registered engine process that counts Terminated signals; Stop
// uses it to wait for every process it stopped.
type reaper struct {
	s    *System
	pid  *PID
	n    atomic.Int64
	done chan struct{}
	once sync.Once
	seen sync.Map
}

func newReaper(s *System) *reaper {
	r := &reaper{s: s, done: make(chan struct{})}
	r.pid, _ = s.as.ProcessRegistry.Add(r, "$reaper"+s.as.ProcessRegistry.NextId())
	return r
}

func (r *reaper) expect(n int) { r.n.Store(int64(n)) }

func (r *reaper) left() int64 { return r.n.Load() }

func (r *reaper) close() { r.s.as.ProcessRegistry.Remove(r.pid) }

func (r *reaper) SendUserMessage(*PID, any) {}

func (r *reaper) SendSystemMessage(_ *PID, m any) {
	t, ok := m.(*actor.Terminated)
	if !ok || t.Who == nil {
		return
	}
	if _, dup := r.seen.LoadOrStore(t.Who.Id, struct{}{}); dup {
		return
	}
	if r.n.Add(-1) == 0 {
		r.once.Do(func() { close(r.done) })
	}
}

func (r *reaper) Stop(*PID) {}

// sendSystem delivers an engine system message to pid, local or remote; a
// dead local pid routes it to the dead-letter process.
func (s *System) sendSystem(pid *PID, m any) {
	proc, _ := s.as.ProcessRegistry.Get(pid)
	proc.SendSystemMessage(pid, m)
}

// exitWaiter is a registered engine process closed by the Terminated signal
// of the one process it watches.
type exitWaiter struct {
	done chan struct{}
	once sync.Once
}

func (w *exitWaiter) SendUserMessage(*PID, any) {}

func (w *exitWaiter) SendSystemMessage(_ *PID, m any) {
	if _, ok := m.(*actor.Terminated); ok {
		w.once.Do(func() { close(w.done) })
	}
}

func (w *exitWaiter) Stop(*PID) {}

// Wait blocks until pid has exited, or ctx ends. It returns at once for a
// dead or unknown pid. It costs the watched process nothing (no message in
// its mailbox), so a supervisor can wait for a child from inside a handler.
func (s *System) Wait(ctx context.Context, pid *PID) error {
	if pid == nil {
		return fmt.Errorf("%w: Wait: pid is nil", ErrInvalid)
	}
	if s.as == nil {
		return s.check()
	}
	w := &exitWaiter{done: make(chan struct{})}
	wpid, _ := s.as.ProcessRegistry.Add(w, "$wait"+s.as.ProcessRegistry.NextId())
	defer s.as.ProcessRegistry.Remove(wpid)
	s.sendSystem(pid, &actor.Watch{Watcher: wpid})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		s.sendSystem(pid, &actor.Unwatch{Watcher: wpid})
		return fmt.Errorf("actor: waiting for %s: %w", PIDString(pid), ctx.Err())
	}
}
