package supervision

import (
	"context"
	"errors"
	"fmt"

	"github.com/foundation-go/foundation/actor"
)

// Option configures Start and StartDynamic. Options are sealed: build them
// with the With… functions of this package.
type Option interface{ apply(*startOpts) error }

type startOpts struct{ parent *actor.PID }

type optionFunc func(*startOpts) error

func (f optionFunc) apply(o *startOpts) error { return f(o) }

// WithParent links the supervisor to pid, its parent, from the moment it
// starts (OTP's start_link): when pid exits, whatever the reason, the
// supervisor terminates its children and exits with the same reason; when
// the supervisor exits, pid receives the exit signal. Default: no parent;
// the supervisor runs until Stop, actor.System.Exit or actor.System.Stop.
func WithParent(pid *actor.PID) Option {
	return optionFunc(func(o *startOpts) error {
		if pid == nil {
			return fmt.Errorf("%w: WithParent: pid is nil", ErrInvalidSpec)
		}
		o.parent = pid
		return nil
	})
}

// ChildInfo describes one child, as WhichChildren reports it.
type ChildInfo struct {
	ID      string
	PID     *actor.PID // nil when not running
	Type    ChildType
	Restart Restart
	// Restarting: a delayed restart is pending (see RestartDelay).
	Restarting bool
}

// Counts is what CountChildren reports (OTP count_children).
type Counts struct {
	Specs       int // child specs, running or not
	Active      int // children running
	Supervisors int // specs of type SupervisorChild
	Workers     int // specs of type WorkerChild
}

// Supervisor is a handle on a static supervisor (OneForOne, OneForAll,
// RestForOne) running as a process. It is a small value; copy it freely. It
// is safe for concurrent use: every method is a call to the supervisor,
// which handles one at a time. A call whose ctx ends first returns
// actor.ErrTimeout or actor.ErrCanceled, but the supervisor still completes
// the operation.
type Supervisor struct {
	sys *actor.System
	pid *actor.PID
}

// Start starts a static supervisor and its children, in spec order, and
// returns once all of them have started. If one fails, those already
// started are stopped in reverse order and Start returns a *StartError
// (ErrStartFailed) naming the child, wrapping its cause. ctx is checked
// before each child and passed to the StartFuncs (StartContext.Context).
func Start(ctx context.Context, sys *actor.System, spec Spec, opts ...Option) (*Supervisor, error) {
	o, err := startOptions(ctx, sys, opts)
	if err != nil {
		return nil, err
	}
	pid, err := spawnStatic(ctx, sys, spec, o.parent)
	if err != nil {
		return nil, err
	}
	return &Supervisor{sys: sys, pid: pid}, nil
}

// SupervisorAt is a handle on the static supervisor at pid, for example a
// subtree found with WhichChildren. WhichChildren, CountChildren and Stop
// work on either kind of supervisor; the other methods fail with
// ErrUnsupported if pid is a Dynamic supervisor. Calls to a process that is
// not a supervisor fail with actor.ErrUnhandled.
func SupervisorAt(sys *actor.System, pid *actor.PID) *Supervisor {
	return &Supervisor{sys: sys, pid: pid}
}

func startOptions(ctx context.Context, sys *actor.System, opts []Option) (startOpts, error) {
	var o startOpts
	if sys == nil {
		return o, fmt.Errorf("%w: the actor system is nil", ErrInvalidSpec)
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return o, err
		}
	}
	return o, ctx.Err()
}

// PID is the supervisor's process.
func (s *Supervisor) PID() *actor.PID { return s.pid }

// StartChild adds spec as the last child and starts it (OTP start_child).
// It fails with ErrAlreadyStarted or ErrAlreadyPresent if the ID is taken,
// and with a *StartError if the child fails to start (its spec is then not
// kept). The PID is nil if the StartFunc chose to ignore the start.
func (s *Supervisor) StartChild(ctx context.Context, spec ChildSpec) (*actor.PID, error) {
	r, err := actor.Call[pidReply](ctx, s.sys, s.pid, startChildReq{spec: spec})
	return r.pid, err
}

// TerminateChild stops the child id (asked to shut down, then killed after
// its Shutdown) and keeps its spec, not running, for RestartChild; a
// Temporary child's spec is deleted (OTP terminate_child). Terminating a
// child that is not running does nothing; an unknown id is ErrNotFound.
func (s *Supervisor) TerminateChild(ctx context.Context, id string) error {
	_, err := actor.Call[okReply](ctx, s.sys, s.pid, terminateChildReq{id: id})
	return err
}

// RestartChild starts the child id again after TerminateChild, or after it
// exited and was not restarted (OTP restart_child). It is ErrRunning if the
// child runs, ErrRestarting if a delayed restart is pending, ErrNotFound if
// there is no such spec.
func (s *Supervisor) RestartChild(ctx context.Context, id string) (*actor.PID, error) {
	r, err := actor.Call[pidReply](ctx, s.sys, s.pid, restartChildReq{id: id})
	return r.pid, err
}

// DeleteChild deletes the spec of the child id, which must not be running
// (OTP delete_child): ErrRunning, ErrRestarting or ErrNotFound otherwise.
func (s *Supervisor) DeleteChild(ctx context.Context, id string) error {
	_, err := actor.Call[okReply](ctx, s.sys, s.pid, deleteChildReq{id: id})
	return err
}

// WhichChildren lists the children in start order (OTP which_children).
func (s *Supervisor) WhichChildren(ctx context.Context) ([]ChildInfo, error) {
	return actor.Call[[]ChildInfo](ctx, s.sys, s.pid, whichChildrenReq{})
}

// CountChildren counts the children (OTP count_children).
func (s *Supervisor) CountChildren(ctx context.Context) (Counts, error) {
	return actor.Call[Counts](ctx, s.sys, s.pid, countChildrenReq{})
}

// Stop stops the supervisor: its children stop in reverse start order, each
// within its Shutdown, then the supervisor exits with reason
// actor.Shutdown. Stop returns when the supervisor's process has finished,
// or with ctx's error. Stopping a supervisor that has exited is not an
// error. A supervisor that is the child of another is restarted by it if it
// is Permanent; use the parent's TerminateChild to stop a subtree for good.
func (s *Supervisor) Stop(ctx context.Context) error { return stop(ctx, s.sys, s.pid) }

// Dynamic is a handle on a Dynamic supervisor (OTP simple_one_for_one,
// Elixir DynamicSupervisor): children are added at run time with their own
// specs, named by PID, restarted one for one, and stopped all at once when
// the supervisor stops. Copy it freely; it is safe for concurrent use. As in
// OTP, a dynamic child is deleted when it terminates or is not restarted:
// TerminateChild stops and deletes, and DeleteChild always fails.
type Dynamic struct {
	sys *actor.System
	pid *actor.PID
}

// StartDynamic starts a Dynamic supervisor with no children.
func StartDynamic(ctx context.Context, sys *actor.System, spec DynamicSpec, opts ...Option) (*Dynamic, error) {
	o, err := startOptions(ctx, sys, opts)
	if err != nil {
		return nil, err
	}
	pid, err := spawnDynamic(sys, spec, o.parent)
	if err != nil {
		return nil, err
	}
	return &Dynamic{sys: sys, pid: pid}, nil
}

// DynamicAt is a handle on the Dynamic supervisor at pid. Its methods fail
// with ErrUnsupported if pid is a static supervisor.
func DynamicAt(sys *actor.System, pid *actor.PID) *Dynamic {
	return &Dynamic{sys: sys, pid: pid}
}

// PID is the supervisor's process.
func (d *Dynamic) PID() *actor.PID { return d.pid }

// StartChild starts a child from spec (its ID is optional) and returns its
// PID: nil if the StartFunc chose to ignore the start, in which case nothing
// is kept. It is ErrMaxChildren when the supervisor is full and a
// *StartError if the child fails to start.
func (d *Dynamic) StartChild(ctx context.Context, spec ChildSpec) (*actor.PID, error) {
	r, err := actor.Call[pidReply](ctx, d.sys, d.pid, startChildReq{spec: spec})
	return r.pid, err
}

// TerminateChild stops the child pid (asked to shut down, then killed after
// its Shutdown) and deletes it. It is ErrNotFound if pid is not a running
// child.
func (d *Dynamic) TerminateChild(ctx context.Context, pid *actor.PID) error {
	_, err := actor.Call[okReply](ctx, d.sys, d.pid, terminatePIDReq{pid: pid})
	return err
}

// RestartChild stops the running child pid and starts it again from its
// spec, returning the new PID. (OTP's simple_one_for_one has no restart of
// a terminated child, since terminated dynamic children are deleted; this
// is the restart-in-place users otherwise write by hand.) A restart asked
// for here does not count against the intensity.
func (d *Dynamic) RestartChild(ctx context.Context, pid *actor.PID) (*actor.PID, error) {
	r, err := actor.Call[pidReply](ctx, d.sys, d.pid, restartPIDReq{pid: pid})
	return r.pid, err
}

// DeleteChild is OTP's delete_child on a simple_one_for_one supervisor: it
// always fails with ErrUnsupported (OTP answers {error, simple_one_for_one}),
// because a dynamic child's spec is deleted when the child terminates. Use
// TerminateChild.
func (d *Dynamic) DeleteChild(_ context.Context, pid *actor.PID) error {
	return fmt.Errorf("%w: DeleteChild(%s): a Dynamic supervisor deletes a child when it terminates (OTP: {error, simple_one_for_one}); use TerminateChild",
		ErrUnsupported, pid)
}

// WhichChildren lists the children in the order they were started.
func (d *Dynamic) WhichChildren(ctx context.Context) ([]ChildInfo, error) {
	return actor.Call[[]ChildInfo](ctx, d.sys, d.pid, whichChildrenReq{})
}

// CountChildren counts the children.
func (d *Dynamic) CountChildren(ctx context.Context) (Counts, error) {
	return actor.Call[Counts](ctx, d.sys, d.pid, countChildrenReq{})
}

// Stop stops the supervisor: all children are asked to shut down at once
// and each is killed after its own Shutdown; then the supervisor exits with
// reason actor.Shutdown. See Supervisor.Stop.
func (d *Dynamic) Stop(ctx context.Context) error { return stop(ctx, d.sys, d.pid) }

func stop(ctx context.Context, sys *actor.System, pid *actor.PID) error {
	if sys == nil || pid == nil || sys.ProtoActor() == nil {
		return nil
	}
	// Watch before the signal, so that Stop returns only after the
	// supervisor's Terminate has finished.
	w, err := sys.WatchExit(pid)
	if err != nil {
		return fmt.Errorf("supervision: stop %s: %w", pid, err)
	}
	defer w.Close()
	if err := sys.Exit(pid, actor.Shutdown); err != nil {
		switch {
		case errors.Is(err, actor.ErrNoProcess):
			return nil
		case !errors.Is(err, actor.ErrStopped):
			return fmt.Errorf("supervision: stop %s: %w", pid, err)
		}
		// The system is stopping, and stops the supervisor: wait for it.
	}
	select {
	case <-w.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("supervision: stop %s: %w", pid, ctx.Err())
	}
}
