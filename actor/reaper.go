package actor

import (
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
