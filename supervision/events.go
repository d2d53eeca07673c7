package supervision

import (
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
)

// Event is a supervisor event. Every supervisor publishes its events, as
// these typed values, on its system's event stream
// (sys.ProtoActor().EventStream) and logs them with the system's logger.
// Subscribe with a predicate to receive only these:
//
//	sub := sys.ProtoActor().EventStream.SubscribeWithPredicate(
//		func(m any) { ... m.(supervision.Event) ... },
//		func(m any) bool { _, ok := m.(supervision.Event); return ok })
//
// The event stream calls subscribers synchronously on the supervisor's
// goroutine: a subscriber must return quickly and must not call the
// supervisor.
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

// emit publishes ev on the event stream and logs it.
func (s *server) emit(ev Event) {
	s.sys.ProtoActor().EventStream.Publish(ev)
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
