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

// ExitWatch watches one process for its exit; System.WatchExit starts it.
// It costs the watched process nothing (no message in its mailbox, no
// goroutine), so a process can wait for another from inside a handler, as a
// supervisor waits for the child it stops.
type ExitWatch struct {
	s      *System
	target *PID
	pid    *PID // the registered waiter; nil when target was already gone
	w      *exitWaiter
	once   sync.Once
}

// WatchExit starts watching pid and returns at once. The watch's Done
// channel is closed when pid has finished: its Terminate (or a plain actor's
// Stopped) has run and its links and monitors have fired. For a pid that is
// already dead or unknown, Done is closed at once.
//
// Call WatchExit before asking a process to stop and wait on Done after: a
// process that is already stopping is no longer registered while its
// Terminate runs, so a watch started then may report it gone while Terminate
// is still running. Close the watch when done with it. It is ErrInvalid for
// a nil pid and ErrStopped before Start.
func (s *System) WatchExit(pid *PID) (*ExitWatch, error) {
	if pid == nil {
		return nil, fmt.Errorf("%w: WatchExit: pid is nil", ErrInvalid)
	}
	if s.as == nil {
		return nil, s.check()
	}
	w := &ExitWatch{s: s, target: pid, w: &exitWaiter{done: make(chan struct{})}}
	proc, ok := s.as.ProcessRegistry.Get(pid)
	if !ok && s.isLocal(pid) {
		close(w.w.done) // not registered: gone, or never was
		return w, nil
	}
	w.pid, _ = s.as.ProcessRegistry.Add(w.w, "$wait"+s.as.ProcessRegistry.NextId())
	proc.SendSystemMessage(pid, &actor.Watch{Watcher: w.pid})
	return w, nil
}

// Done is closed when the watched process has finished. It is not closed
// by Close.
func (w *ExitWatch) Done() <-chan struct{} { return w.w.done }

// Close ends the watch and releases it. It is idempotent and safe to call
// whether or not Done was closed.
func (w *ExitWatch) Close() {
	w.once.Do(func() {
		if w.pid == nil {
			return
		}
		select {
		case <-w.w.done:
		default:
			w.s.sendSystem(w.target, &actor.Unwatch{Watcher: w.pid})
		}
		w.s.as.ProcessRegistry.Remove(w.pid)
	})
}

// Wait blocks until pid has exited, or ctx ends. It returns at once for a
// dead or unknown pid. It costs the watched process nothing (no message in
// its mailbox). A process that has already begun to stop may be reported
// gone while its Terminate still runs; to wait for a process you are about
// to stop, use WatchExit before stopping it.
func (s *System) Wait(ctx context.Context, pid *PID) error {
	if pid == nil {
		return fmt.Errorf("%w: Wait: pid is nil", ErrInvalid)
	}
	w, err := s.WatchExit(pid)
	if err != nil {
		return err
	}
	defer w.Close()
	select {
	case <-w.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("actor: waiting for %s: %w", PIDString(pid), ctx.Err())
	}
}
