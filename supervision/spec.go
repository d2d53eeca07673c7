package supervision

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/foundation-go/foundation/actor"
)

// Strategy is how a static supervisor reacts when a child it must restart
// exits. The zero value is OneForOne, OTP's default.
type Strategy uint8

const (
	// OneForOne restarts only the child that exited (OTP one_for_one).
	OneForOne Strategy = iota
	// OneForAll terminates every other child (in reverse start order) and
	// then restarts all of them in start order (OTP one_for_all).
	OneForAll
	// RestForOne terminates the children started after the one that exited
	// (in reverse start order) and restarts it and them in start order (OTP
	// rest_for_one).
	RestForOne
)

func (s Strategy) String() string {
	switch s {
	case OneForOne:
		return "one_for_one"
	case OneForAll:
		return "one_for_all"
	case RestForOne:
		return "rest_for_one"
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// Restart says when a child that exited is restarted. The zero value is
// Permanent, OTP's default.
type Restart uint8

const (
	// Permanent: always restarted.
	Permanent Restart = iota
	// Transient: restarted only after an abnormal exit, that is with a reason
	// other than actor.Normal and actor.Shutdown.
	Transient
	// Temporary: never restarted; its spec is deleted when it exits.
	Temporary
)

func (r Restart) String() string {
	switch r {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Temporary:
		return "temporary"
	}
	return fmt.Sprintf("Restart(%d)", uint8(r))
}

// ChildType says whether a child is a worker or a supervisor. The zero value
// is WorkerChild, OTP's default. It sets the default Shutdown and is
// reported by WhichChildren and CountChildren.
type ChildType uint8

const (
	// WorkerChild is any process that is not a supervisor (OTP worker).
	WorkerChild ChildType = iota
	// SupervisorChild is a supervisor: a subtree (OTP supervisor).
	SupervisorChild
)

func (t ChildType) String() string {
	switch t {
	case WorkerChild:
		return "worker"
	case SupervisorChild:
		return "supervisor"
	}
	return fmt.Sprintf("ChildType(%d)", uint8(t))
}

// Shutdown values of ChildSpec besides a positive timeout.
const (
	// BrutalKill kills the child at once with actor.Kill (OTP brutal_kill).
	BrutalKill time.Duration = -1
	// Infinity waits for the child to stop however long it takes (OTP
	// infinity). Meant for supervisor children, which need the time to stop
	// their own subtree.
	Infinity time.Duration = math.MaxInt64
)

// Defaults applied to zero values; they are OTP's.
const (
	// DefaultMaxRestarts is the restart intensity: 1 restart ...
	DefaultMaxRestarts = 1
	// DefaultPeriod ... within 5 s. A supervisor whose children restart more
	// often gives up and exits with reason actor.Shutdown.
	DefaultPeriod = 5 * time.Second
	// DefaultWorkerShutdown is how long a worker has to stop after it is
	// asked to, before it is killed.
	DefaultWorkerShutdown = 5 * time.Second
)

// NoRestarts is Spec.MaxRestarts for a supervisor that allows no restart at
// all: the first child that needs one makes it give up (OTP intensity 0).
const NoRestarts = -1

// StartFunc starts one child and returns its PID. It runs on the
// supervisor's goroutine, so it must not wait for the supervisor. The process
// it returns must be linked to the supervisor: StartContext.Spawn does that
// (the supervisor links it anyway, as a safety net).
//
// Returning (nil, nil) means "ignore": the child is not started, which is
// not an error (OTP's ignore). A static supervisor keeps the spec, not
// running; a dynamic one forgets it.
type StartFunc func(sc StartContext) (*actor.PID, error)

// StartContext is what a StartFunc gets: the system, the supervisor and the
// child being started. It is only valid during the call.
type StartContext struct {
	ctx context.Context
	sys *actor.System
	sup *actor.PID
	id  string
}

// Context is the context of the Start that is starting the tree, or
// context.Background for a restart or a StartChild.
func (c StartContext) Context() context.Context {
	if c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// System is the actor system the supervisor runs in.
func (c StartContext) System() *actor.System { return c.sys }

// Supervisor is the PID of the supervisor starting the child.
func (c StartContext) Supervisor() *actor.PID { return c.sup }

// ID is the ID of the child being started.
func (c StartContext) ID() string { return c.id }

// Spawn spawns b (see actor.System.Spawn) linked to the supervisor, like
// OTP's start_link: the link exists before the process runs. A Server's Init
// error is returned.
func (c StartContext) Spawn(b any, opts ...actor.SpawnOption) (*actor.PID, error) {
	o := make([]actor.SpawnOption, 0, len(opts)+1)
	o = append(o, opts...)
	o = append(o, actor.WithLink(c.sup))
	return c.sys.Spawn(b, o...)
}

// ChildSpec describes one child: how to start it, when to restart it and
// how to stop it. Zero values are OTP's defaults.
type ChildSpec struct {
	// ID names the child within its supervisor. Required and unique for a
	// static supervisor; optional for a Dynamic one, where it only labels
	// events and WhichChildren.
	ID string
	// Start starts the child. Required. See StartFunc.
	Start StartFunc
	// Restart is when the child is restarted. Zero: Permanent.
	Restart Restart
	// Shutdown is how long the child has to stop after the supervisor sends
	// it exit signal actor.Shutdown, before it is killed; or BrutalKill, or
	// Infinity. Zero: 5 s for a worker, Infinity for a supervisor.
	Shutdown time.Duration
	// Type is WorkerChild or SupervisorChild. Zero: WorkerChild.
	Type ChildType
}

// Worker is the spec of a permanent worker with OTP's defaults that runs the
// Server newServer returns; newServer is called for every (re)start, so each
// incarnation starts from fresh state.
func Worker(id string, newServer func() actor.Server) ChildSpec {
	return ChildSpec{
		ID: id,
		Start: func(sc StartContext) (*actor.PID, error) {
			return sc.Spawn(newServer())
		},
	}
}

// Subtree is the spec of a permanent supervisor child running spec: a
// subtree of the supervision tree. Its Shutdown is Infinity.
func Subtree(id string, spec Spec) ChildSpec {
	return ChildSpec{
		ID:   id,
		Type: SupervisorChild,
		Start: func(sc StartContext) (*actor.PID, error) {
			return spawnStatic(sc.Context(), sc.sys, spec, sc.sup)
		},
	}
}

// DynamicSubtree is the spec of a permanent Dynamic supervisor child. Its
// Shutdown is Infinity.
func DynamicSubtree(id string, spec DynamicSpec) ChildSpec {
	return ChildSpec{
		ID:   id,
		Type: SupervisorChild,
		Start: func(sc StartContext) (*actor.PID, error) {
			return spawnDynamic(sc.sys, spec, sc.sup)
		},
	}
}

// RestartDelay waits before restarting, for crash loops that should not
// spin. The zero value restarts at once, as OTP does.
type RestartDelay struct {
	// Initial is the delay before a restart. Zero: none.
	Initial time.Duration
	// Max makes the delay exponential: it doubles with each consecutive
	// restart of the same child, from Initial up to Max. A child that ran for
	// at least the supervisor's Period before exiting starts over at Initial.
	// Zero: the delay is fixed at Initial.
	Max time.Duration
}

// after is the delay before the streak-th consecutive restart (streak >= 1).
func (d RestartDelay) after(streak int) time.Duration {
	if d.Initial <= 0 {
		return 0
	}
	if d.Max <= 0 {
		return d.Initial
	}
	out := d.Initial
	for i := 1; i < streak && out < d.Max; i++ {
		out *= 2
	}
	return min(out, d.Max)
}

func (d RestartDelay) validate(where string) error {
	if d.Initial < 0 {
		return fmt.Errorf("%w: %s.Delay.Initial is %v; want >= 0", ErrInvalidSpec, where, d.Initial)
	}
	if d.Max < 0 {
		return fmt.Errorf("%w: %s.Delay.Max is %v; want >= 0", ErrInvalidSpec, where, d.Max)
	}
	if d.Max > 0 && d.Max < d.Initial {
		return fmt.Errorf("%w: %s.Delay.Max is %v; want 0 (fixed delay) or >= Initial (%v)", ErrInvalidSpec, where, d.Max, d.Initial)
	}
	if d.Max > 0 && d.Initial == 0 {
		return fmt.Errorf("%w: %s.Delay.Max is %v but Initial is 0; want Initial > 0 for an exponential delay", ErrInvalidSpec, where, d.Max)
	}
	return nil
}

// Spec describes a static supervisor: a strategy, a restart intensity and
// its children in start order. Zero values are OTP's defaults.
type Spec struct {
	// Strategy is OneForOne, OneForAll or RestForOne. Zero: OneForOne.
	Strategy Strategy
	// MaxRestarts is the restart intensity: at most this many restarts
	// within Period; one more and the supervisor terminates all its children
	// and exits with reason actor.Shutdown, for its own supervisor to handle.
	// Zero: DefaultMaxRestarts (1, OTP's default). NoRestarts: none allowed.
	MaxRestarts int
	// Period is the intensity window. Zero: DefaultPeriod (5 s, OTP's).
	Period time.Duration
	// Delay is waited before restarting. Zero: restart at once.
	Delay RestartDelay
	// Children are started in this order and stopped in reverse order.
	Children []ChildSpec
}

// Validate reports the first problem with s, naming the field and what is
// allowed. It does not modify s.
func (s Spec) Validate() error {
	if s.Strategy > RestForOne {
		return fmt.Errorf("%w: Spec.Strategy is %d; want OneForOne, OneForAll or RestForOne", ErrInvalidSpec, s.Strategy)
	}
	if err := validateIntensity("Spec", s.MaxRestarts, s.Period, s.Delay); err != nil {
		return err
	}
	seen := make(map[string]struct{}, len(s.Children))
	for i, c := range s.Children {
		if err := c.validate(fmt.Sprintf("Spec.Children[%d]", i), true); err != nil {
			return err
		}
		if _, dup := seen[c.ID]; dup {
			return fmt.Errorf("%w: Spec.Children[%d].ID %q is used twice; want unique IDs", ErrInvalidSpec, i, c.ID)
		}
		seen[c.ID] = struct{}{}
	}
	return nil
}

// DynamicSpec describes a Dynamic supervisor (OTP simple_one_for_one): it
// starts with no children; StartChild adds them, each with its own spec, and
// each is restarted on its own (one for one). Zero values are OTP's defaults.
type DynamicSpec struct {
	// MaxRestarts: as in Spec. Zero: DefaultMaxRestarts (1).
	MaxRestarts int
	// Period: as in Spec. Zero: DefaultPeriod (5 s).
	Period time.Duration
	// Delay: as in Spec. Zero: restart at once.
	Delay RestartDelay
	// MaxChildren caps the children; StartChild beyond it is ErrMaxChildren.
	// Zero: no cap.
	MaxChildren int
}

// Validate reports the first problem with s, naming the field and what is
// allowed.
func (s DynamicSpec) Validate() error {
	if err := validateIntensity("DynamicSpec", s.MaxRestarts, s.Period, s.Delay); err != nil {
		return err
	}
	if s.MaxChildren < 0 {
		return fmt.Errorf("%w: DynamicSpec.MaxChildren is %d; want >= 0 (0: no cap)", ErrInvalidSpec, s.MaxChildren)
	}
	return nil
}

func validateIntensity(where string, maxRestarts int, period time.Duration, delay RestartDelay) error {
	if maxRestarts < NoRestarts {
		return fmt.Errorf("%w: %s.MaxRestarts is %d; want >= 0, or NoRestarts", ErrInvalidSpec, where, maxRestarts)
	}
	if period < 0 {
		return fmt.Errorf("%w: %s.Period is %v; want >= 0 (0: %v)", ErrInvalidSpec, where, period, DefaultPeriod)
	}
	return delay.validate(where)
}

func (c ChildSpec) validate(where string, needID bool) error {
	if needID && c.ID == "" {
		return fmt.Errorf("%w: %s.ID is empty; a static supervisor's children need an ID", ErrInvalidSpec, where)
	}
	if c.Start == nil {
		return fmt.Errorf("%w: %s.Start is nil; want a StartFunc (see Worker and Subtree)", ErrInvalidSpec, where)
	}
	if c.Restart > Temporary {
		return fmt.Errorf("%w: %s.Restart is %d; want Permanent, Transient or Temporary", ErrInvalidSpec, where, c.Restart)
	}
	if c.Type > SupervisorChild {
		return fmt.Errorf("%w: %s.Type is %d; want WorkerChild or SupervisorChild", ErrInvalidSpec, where, c.Type)
	}
	if c.Shutdown < BrutalKill {
		return fmt.Errorf("%w: %s.Shutdown is %v; want a positive timeout, BrutalKill or Infinity", ErrInvalidSpec, where, c.Shutdown)
	}
	return nil
}

// shutdown is the child's shutdown with the default resolved.
func (c ChildSpec) shutdown() time.Duration {
	if c.Shutdown != 0 {
		return c.Shutdown
	}
	if c.Type == SupervisorChild {
		return Infinity
	}
	return DefaultWorkerShutdown
}

func newPolicy(strategy Strategy, dynamic bool, maxRestarts int, period time.Duration, delay RestartDelay) policy {
	switch {
	case maxRestarts == 0:
		maxRestarts = DefaultMaxRestarts
	case maxRestarts < 0:
		maxRestarts = 0
	}
	if period == 0 {
		period = DefaultPeriod
	}
	return policy{strategy: strategy, dynamic: dynamic, maxRestarts: maxRestarts, period: period, delay: delay}
}
