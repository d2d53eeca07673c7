package supervision

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/eventstream"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
)

// Event is a supervisor event. Every supervisor logs its events with the
// system's logger and delivers them to the Subscriptions of its system
// (Subscribe), without ever waiting for a subscriber.
type Event interface {
	// SupervisorPID is the supervisor the event is about.
	SupervisorPID() *actor.PID
	event()
}

// ChildStarted: a child was started, at the supervisor's start or by
// StartChild or RestartChild. Logged at DEBUG.
type ChildStarted struct {
	Supervisor *actor.PID
	ID         string
	PID        *actor.PID
}

// ChildRestarted: a child was restarted by the supervisor's strategy. Cause
// is the child whose exit caused it (the same child under one_for_one) and
// Reason its exit reason; Restarts is how many restarts the supervisor's
// intensity window holds now. Logged at INFO.
type ChildRestarted struct {
	Supervisor *actor.PID
	ID         string
	PID        *actor.PID
	Cause      string
	Reason     actor.Reason
	Restarts   int
}

// ChildTerminated: a child's process is gone, with Reason: it exited by
// itself, or the supervisor terminated it (actor.Shutdown, or actor.Killed
// when it had to be killed). Logged at INFO for an abnormal exit of its
// own, DEBUG otherwise.
type ChildTerminated struct {
	Supervisor *actor.PID
	ID         string
	PID        *actor.PID
	Reason     actor.Reason
	// BySupervisor: the supervisor terminated it (TerminateChild, a
	// one_for_all or rest_for_one restart, or the supervisor's own stop).
	BySupervisor bool
}

// ChildStartFailed: starting a child failed. At a restart the supervisor
// retries, each retry counting against its intensity, as OTP does. Logged
// at WARN.
type ChildStartFailed struct {
	Supervisor *actor.PID
	ID         string
	Err        error
}

// IntensityExceeded: more than MaxRestarts restarts within Period. The
// supervisor terminates all its children and exits with reason
// actor.Shutdown; its own supervisor then applies its strategy. ID is the
// child whose exit was one too many. Logged at WARN.
type IntensityExceeded struct {
	Supervisor  *actor.PID
	ID          string
	Reason      actor.Reason
	MaxRestarts int
	Period      time.Duration
}

func (e ChildStarted) SupervisorPID() *actor.PID      { return e.Supervisor }
func (e ChildRestarted) SupervisorPID() *actor.PID    { return e.Supervisor }
func (e ChildTerminated) SupervisorPID() *actor.PID   { return e.Supervisor }
func (e ChildStartFailed) SupervisorPID() *actor.PID  { return e.Supervisor }
func (e IntensityExceeded) SupervisorPID() *actor.PID { return e.Supervisor }

func (ChildStarted) event()      {}
func (ChildRestarted) event()    {}
func (ChildTerminated) event()   {}
func (ChildStartFailed) event()  {}
func (IntensityExceeded) event() {}

// SupervisorKind is the kind of every supervisor process
// (actor.KindOf, actor.System.Processes).
const SupervisorKind = "supervisor"

// defaultEventBuffer is a Subscription's buffer when Subscribe is given 0:
// room for a burst of restarts (a one_for_all restart of 100 children is
// 200 events) while the reader catches up.
const defaultEventBuffer = 256

// Subscription receives the events of every supervisor of one actor system,
// in order per supervisor, through a buffered channel. Supervisors never
// wait for a subscriber: an event that finds the buffer full is dropped for
// this subscription (others still get it) and counted by Dropped, as
// hashicorp/raft's observers do. Make one with Subscribe and Close it when
// done. It is safe for concurrent use.
type Subscription struct {
	es  *eventstream.EventStream
	sub *eventstream.Subscription
	c   chan Event

	// mu is held for reading while an event is offered (a non-blocking
	// send) and for writing by Close, which closes c: the engine's event
	// stream may still call a subscription that is being removed.
	mu      sync.RWMutex
	closed  bool
	dropped atomic.Uint64
}

// published is how a supervisor puts an event on the engine's event stream:
// a private type, so that only Subscriptions, which never block, receive
// it.
type published struct{ ev Event }

// Subscribe subscribes to the events of every supervisor of sys, present
// and future. buffer is how many events may wait in C for the reader;
// 0 means 256. It is ErrInvalidSpec for a nil sys or a negative buffer and
// actor.ErrStopped before sys has started.
func Subscribe(sys *actor.System, buffer int) (*Subscription, error) {
	if sys == nil {
		return nil, fmt.Errorf("%w: Subscribe: the actor system is nil", ErrInvalidSpec)
	}
	if buffer < 0 {
		return nil, fmt.Errorf("%w: Subscribe: buffer %d must be >= 0 (0 means %d)", ErrInvalidSpec, buffer, defaultEventBuffer)
	}
	as := sys.ProtoActor()
	if as == nil {
		return nil, fmt.Errorf("%w: Subscribe: the actor system is not started", actor.ErrStopped)
	}
	if buffer == 0 {
		buffer = defaultEventBuffer
	}
	s := &Subscription{es: as.EventStream, c: make(chan Event, buffer)}
	s.sub = as.EventStream.SubscribeWithPredicate(s.offer, func(m any) bool { _, ok := m.(published); return ok })
	return s, nil
}

// offer runs on the publishing supervisor's goroutine: it never blocks.
func (s *Subscription) offer(m any) {
	ev := m.(published).ev
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	select {
	case s.c <- ev:
	default:
		s.dropped.Add(1)
	}
}

// C is the channel the events arrive on. Close closes it.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped is how many events this subscription lost because its buffer was
// full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C; events still buffered can be
// read. It is idempotent.
func (s *Subscription) Close() {
	s.es.Unsubscribe(s.sub)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.c)
	}
}

// emit delivers ev to the system's Subscriptions, without waiting for any,
// and logs it.
func (s *server) emit(ev Event) {
	s.sys.ProtoActor().EventStream.Publish(published{ev})
	switch e := ev.(type) {
	case ChildStarted:
		if ce := s.log.Check(zap.DebugLevel, "child started"); ce != nil {
			ce.Write(zap.String("child", e.ID), zap.Stringer("child_pid", e.PID))
		}
	case ChildRestarted:
		if ce := s.log.Check(zap.InfoLevel, "child restarted"); ce != nil {
			ce.Write(zap.String("child", e.ID), zap.Stringer("child_pid", e.PID),
				zap.String("cause", e.Cause), zap.Stringer("reason", e.Reason), zap.Int("restarts", e.Restarts))
		}
	case ChildTerminated:
		lvl := zap.DebugLevel
		if !e.BySupervisor && !e.Reason.IsNormal() && e.Reason != actor.Shutdown {
			lvl = zap.InfoLevel
		}
		if ce := s.log.Check(lvl, "child terminated"); ce != nil {
			ce.Write(zap.String("child", e.ID), zap.Stringer("child_pid", e.PID),
				zap.Stringer("reason", e.Reason), zap.Bool("by_supervisor", e.BySupervisor))
		}
	case ChildStartFailed:
		s.log.Warn("child failed to start", zap.String("child", e.ID), zap.Error(e.Err))
	case IntensityExceeded:
		s.log.Warn("restart intensity exceeded; terminating all children and exiting with reason shutdown",
			zap.String("child", e.ID), zap.Stringer("reason", e.Reason),
			zap.Int("max_restarts", e.MaxRestarts), zap.Duration("period", e.Period))
	}
}
