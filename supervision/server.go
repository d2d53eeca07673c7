package supervision

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
)

// killWait bounds the wait for a killed child to finish. actor.Kill cannot
// interrupt a Go handler: a child stuck in one finishes only when the
// handler returns. After killWait the supervisor logs a warning and goes on
// without it, rather than stalling its whole subtree. It is a safety net,
// not a policy, so it is measured on the wall clock even when the system
// has a manual Clock.
const killWait = 5 * time.Second

// child is the supervisor's record of one child.
type child struct {
	spec      ChildSpec
	pid       *actor.PID // nil: not running
	startedAt time.Time
	streak    int
	pending   uint64 // generation of the delayed restart it waits for; 0: none
	seq       uint64 // dynamic: StartChild order
}

// cause is the exit that led to a restart, for events.
type cause struct {
	id     string
	reason actor.Reason
}

// delayed is a restart waiting for its delay.
type delayed struct {
	timer actor.Timer
	kids  []*child
	why   cause
}

// Messages a supervisor sends itself.
type (
	// delayElapsed: the restart delay of generation gen is over.
	delayElapsed struct{ gen uint64 }
	// retryStart: a restart of c failed; try again (OTP try_again_restart),
	// after the messages already queued, so that a stop request is not
	// starved by a child that never starts.
	retryStart struct {
		c   *child
		why cause
	}
)

// server is the supervisor process: an actor.Server that traps exits and
// applies the decisions of decide. Static and Dynamic supervisors share it.
//
// Children are spawned at the top level of the engine, linked to the
// supervisor, not as engine children of the supervisor process: the engine
// stops its children by itself, unordered and without timeouts, before the
// parent's Terminate runs. As top-level linked processes they are stopped by
// the supervisor, in reverse start order with their shutdown timeouts, in
// every case it is given the chance: intensity exceeded, an exit signal from
// its parent, Stop, and even its own engine stop (Terminate does it).
type server struct {
	actor.ServerBase

	sys     *actor.System
	pol     policy
	specs   []ChildSpec     // static: the children to start in Init
	maxKids int             // dynamic: 0 for no cap
	ctx     context.Context // Start's context, during Init only
	parent  *actor.PID      // an exit signal from it stops the supervisor

	self  *actor.PID
	log   *zap.Logger
	clock actor.Clock

	kids  []*child            // static, in start order
	byID  map[string]*child   // static
	dyn   map[uint64]*child   // dynamic, by seq
	byPID map[string]*child   // running children by pid id (all are local)
	seq   uint64              // dynamic
	gen   uint64              // delayed restart generations
	later map[uint64]*delayed // pending delayed restarts by generation

	history []time.Time
	done    bool // terminating for good: no more restarts
}

// ActorKind names supervisors' kind for telemetry (actor.KindNamer), so
// that an inspector can draw the supervision tree.
func (s *server) ActorKind() string { return SupervisorKind }

var _ actor.Server = (*server)(nil)

func spawnStatic(ctx context.Context, sys *actor.System, spec Spec, parent *actor.PID) (*actor.PID, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return spawnServer(sys, &server{
		sys:    sys,
		pol:    newPolicy(spec.Strategy, false, spec.MaxRestarts, spec.Period, spec.Delay),
		specs:  slices.Clone(spec.Children),
		ctx:    ctx,
		parent: parent,
	}, parent)
}

func spawnDynamic(sys *actor.System, spec DynamicSpec, parent *actor.PID) (*actor.PID, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return spawnServer(sys, &server{
		sys:     sys,
		pol:     newPolicy(OneForOne, true, spec.MaxRestarts, spec.Period, spec.Delay),
		maxKids: spec.MaxChildren,
		parent:  parent,
	}, parent)
}

func spawnServer(sys *actor.System, srv *server, parent *actor.PID) (*actor.PID, error) {
	opts := []actor.SpawnOption{actor.WithTrapExit()}
	if parent != nil {
		opts = append(opts, actor.WithLink(parent))
	}
	pid, err := sys.Spawn(srv, opts...)
	if err != nil {
		// Spawn wraps Init's error in actor.ErrInitFailed and the pid of a
		// process that no longer exists; the StartError says it better.
		if se := (*StartError)(nil); errors.As(err, &se) {
			return nil, se
		}
		return nil, err
	}
	return pid, nil
}

// Init starts the children in order; if one fails, those already started
// are terminated in reverse order and Init fails with a *StartError.
func (s *server) Init(p actor.Process) error {
	s.self, s.log, s.clock = p.Self(), p.Logger(), p.Clock()
	p.TrapExit(true)
	s.byPID = make(map[string]*child)
	s.later = make(map[uint64]*delayed)
	if s.pol.dynamic {
		s.dyn = make(map[uint64]*child)
		return nil
	}
	ctx, specs := s.ctx, s.specs
	s.ctx, s.specs = nil, nil
	s.byID = make(map[string]*child, len(specs))
	for _, cs := range specs {
		c := &child{spec: cs}
		var err error
		if ctx != nil {
			err = ctx.Err()
		}
		if err == nil {
			err = s.start(ctx, c)
		}
		if err != nil {
			s.emit(ChildStartFailed{Supervisor: s.self, ID: cs.ID, Err: err})
			s.done = true
			s.terminateAll()
			return &StartError{ID: cs.ID, Err: err}
		}
		s.kids = append(s.kids, c)
		s.byID[cs.ID] = c
		if c.pid != nil {
			s.emit(ChildStarted{Supervisor: s.self, ID: cs.ID, PID: c.pid})
		}
	}
	return nil
}

// start runs c's StartFunc and records the child it started.
func (s *server) start(ctx context.Context, c *child) error {
	pid, err := runStart(c.spec.Start, StartContext{ctx: ctx, sys: s.sys, sup: s.self, id: c.spec.ID})
	if err != nil {
		return err
	}
	if pid == nil {
		return nil // ignore
	}
	// A safety net for a StartFunc that did not link; linking twice is one
	// link. A child already dead makes Link deliver Exit(noproc), which the
	// supervisor handles as the child's exit.
	if err := s.sys.Link(s.self, pid); err != nil && !errors.Is(err, actor.ErrNoProcess) {
		return fmt.Errorf("StartFunc returned %s, which cannot be linked to its supervisor: %w", pid, err)
	}
	c.pid, c.startedAt = pid, s.clock.Now()
	s.byPID[pid.Id] = c
	return nil
}

func runStart(f StartFunc, sc StartContext) (pid *actor.PID, err error) {
	defer func() {
		if v := recover(); v != nil {
			pid, err = nil, fmt.Errorf("StartFunc panicked: %v", v)
		}
	}()
	return f(sc)
}

// HandleInfo handles exit signals, trapped as Exit messages.
func (s *server) HandleInfo(p actor.Process, msg any) {
	ex, ok := msg.(actor.Exit)
	if !ok {
		return
	}
	if ex.From != nil {
		if c := s.byPID[ex.From.Id]; c != nil {
			s.childExited(p, c, ex.Reason)
			return
		}
	}
	// An exit signal from the parent stops the supervisor, as in OTP. So
	// does one with no sender (actor.System.Exit: the owner's request, and
	// how Stop works), unless its reason is normal.
	anonymous := ex.From == nil || ex.From.Id == ""
	fromParent := s.parent != nil && ex.From != nil && ex.From.Id == s.parent.Id
	if fromParent || (anonymous && !ex.Reason.IsNormal()) {
		s.shutdown(p, ex.Reason)
		return
	}
	// A late exit of a child already terminated or replaced.
	if ce := s.log.Check(zap.DebugLevel, "supervisor ignored an exit signal from a process that is not its child"); ce != nil {
		ce.Write(zap.Stringer("from", ex.From), zap.Stringer("reason", ex.Reason))
	}
}

// HandleCast handles the messages the supervisor sends itself.
func (s *server) HandleCast(p actor.Process, msg any) {
	switch m := msg.(type) {
	case delayElapsed:
		d := s.later[m.gen]
		if d == nil {
			return
		}
		delete(s.later, m.gen)
		if s.done {
			return
		}
		kids := make([]*child, 0, len(d.kids))
		for _, k := range d.kids {
			if k.pending == m.gen {
				kids = append(kids, k)
			}
		}
		s.startAll(p, kids, d.why)
	case retryStart:
		c := m.c
		if s.done || c.pid != nil || c.pending != 0 || !s.has(c) || !s.sys.Running() {
			return
		}
		s.react(p, c, exitEvent{startFailed: true}, m.why)
	}
}

// shutdown terminates every child and exits with reason.
func (s *server) shutdown(p actor.Process, reason actor.Reason) {
	if s.done {
		return
	}
	s.done = true
	s.terminateAll()
	p.Stop(reason)
}

// Terminate stops the children that are still running: the supervisor was
// stopped by the engine (actor.System.Stop) or crashed.
func (s *server) Terminate(_ actor.Process, _ actor.Reason) {
	if s.byPID == nil || s.done {
		return // Init did not run, or the children are already stopped
	}
	s.done = true
	s.terminateAll()
}

func (s *server) childExited(p actor.Process, c *child, reason actor.Reason) {
	old := c.pid
	delete(s.byPID, old.Id)
	c.pid = nil
	s.emit(ChildTerminated{Supervisor: s.self, ID: c.spec.ID, PID: old, Reason: reason})
	if s.done || !s.sys.Running() {
		if s.pol.dynamic || c.spec.Restart == Temporary {
			s.remove(c)
		}
		return
	}
	s.react(p, c, exitEvent{reason: reason}, cause{id: c.spec.ID, reason: reason})
}

// react asks decide what to do about c and does it.
func (s *server) react(p actor.Process, c *child, ev exitEvent, why cause) {
	kids := []*child{c}
	if !s.pol.dynamic {
		kids = s.kids
	}
	views := make([]childView, len(kids))
	for i, k := range kids {
		if k == c {
			ev.child = i
		}
		views[i] = childView{id: k.spec.ID, restart: k.spec.Restart, running: k.pid != nil, startedAt: k.startedAt, streak: k.streak}
	}
	pl := decide(s.pol, views, ev, s.history, s.clock.Now())
	s.history = pl.history
	pick := func(ix []int) []*child {
		out := make([]*child, len(ix))
		for j, i := range ix {
			out[j] = kids[i]
		}
		return out
	}
	term, rm, start := pick(pl.terminate), pick(pl.remove), pick(pl.start)
	if !pl.restart {
		for _, k := range rm {
			s.remove(k)
		}
		return
	}
	c.streak = pl.streak
	if pl.giveUp {
		s.emit(IntensityExceeded{Supervisor: s.self, ID: why.id, Reason: why.reason, MaxRestarts: s.pol.maxRestarts, Period: s.pol.period})
		s.shutdown(p, actor.Shutdown)
		return
	}
	for _, k := range term {
		s.terminate(k)
	}
	for _, k := range rm {
		s.remove(k)
	}
	if pl.delay > 0 {
		s.schedule(start, pl.delay, why)
		return
	}
	s.startAll(p, start, why)
}

// startAll restarts kids in order. If one fails, the rest are left for the
// retry, which restarts them according to the strategy.
func (s *server) startAll(p actor.Process, kids []*child, why cause) {
	for i, k := range kids {
		if k.pid != nil || !s.has(k) {
			continue
		}
		k.pending = 0
		if err := s.start(nil, k); err != nil {
			for _, rest := range kids[i+1:] {
				rest.pending = 0
			}
			s.emit(ChildStartFailed{Supervisor: s.self, ID: k.spec.ID, Err: err})
			p.Send(s.self, retryStart{c: k, why: why})
			return
		}
		if k.pid == nil {
			if s.pol.dynamic {
				s.remove(k)
			}
			continue
		}
		s.emit(ChildRestarted{Supervisor: s.self, ID: k.spec.ID, PID: k.pid, Cause: why.id, Reason: why.reason, Restarts: len(s.history)})
	}
}

// schedule restarts kids after delay, on the system clock.
func (s *server) schedule(kids []*child, delay time.Duration, why cause) {
	s.gen++
	gen := s.gen
	for _, k := range kids {
		k.pending = gen
	}
	sys, self := s.sys, s.self
	s.later[gen] = &delayed{
		kids:  kids,
		why:   why,
		timer: s.clock.AfterFunc(delay, func() { sys.Tell(self, delayElapsed{gen: gen}) }),
	}
}

func (s *server) has(c *child) bool {
	if s.pol.dynamic {
		return s.dyn[c.seq] == c
	}
	return s.byID[c.spec.ID] == c
}

// remove deletes c's spec.
func (s *server) remove(c *child) {
	if c.pid != nil {
		delete(s.byPID, c.pid.Id)
	}
	if s.pol.dynamic {
		delete(s.dyn, c.seq)
		return
	}
	if s.byID[c.spec.ID] == c {
		delete(s.byID, c.spec.ID)
	}
	s.kids = slices.DeleteFunc(s.kids, func(k *child) bool { return k == c })
}

// --- stopping children ---

// terminate stops one running child: OTP supervisor:shutdown/2.
func (s *server) terminate(c *child) {
	c.pending = 0
	pid := c.pid
	if pid == nil {
		return
	}
	delete(s.byPID, pid.Id)
	c.pid = nil
	reason := s.stopChild(pid, c.spec.shutdown())
	s.emit(ChildTerminated{Supervisor: s.self, ID: c.spec.ID, PID: pid, Reason: reason, BySupervisor: true})
}

// stopChild asks pid to stop with exit signal shutdown, waits up to timeout
// and kills it if it has not stopped. It returns the reason it was stopped
// with. The link is removed first, so the child's exit sends no Exit.
//
// OTP's supervisor:shutdown/2 waits with a monitor and a receive with
// timeout; a Foundation Monitor would deliver its Down to this supervisor's
// mailbox, which is busy with the very message waiting. An actor.ExitWatch
// costs the mailbox nothing.
func (s *server) stopChild(pid *actor.PID, timeout time.Duration) actor.Reason {
	s.sys.Unlink(s.self, pid)
	done, release := s.watch(pid) // before the signal: the child is not yet stopping
	defer release()
	if timeout == BrutalKill {
		return s.kill(pid, done)
	}
	_ = s.sys.ExitFrom(s.self, pid, actor.Shutdown) // ErrNoProcess: already gone, done is closed
	if s.await(done, timeout) {
		return actor.Shutdown
	}
	return s.kill(pid, done)
}

func (s *server) kill(pid *actor.PID, done <-chan struct{}) actor.Reason {
	_ = s.sys.Kill(pid)
	select {
	case <-done:
		return actor.Killed
	default:
	}
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("killed child did not finish (stuck in a handler); going on without waiting for it",
			zap.Stringer("child_pid", pid), zap.Duration("waited", killWait))
	}
	return actor.Killed
}

// await waits for done up to d on the system clock; Infinity waits forever.
func (s *server) await(done <-chan struct{}, d time.Duration) bool {
	select {
	case <-done:
		return true
	default:
	}
	if d == Infinity {
		<-done
		return true
	}
	expired := make(chan struct{})
	t := s.clock.AfterFunc(d, func() { close(expired) })
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-expired:
		return false
	}
}

// terminateAll stops every child: a static supervisor's one at a time in
// reverse start order, a dynamic supervisor's all at once (as OTP does for
// simple_one_for_one), each with its own shutdown timeout.
func (s *server) terminateAll() {
	for gen, d := range s.later {
		d.timer.Stop()
		delete(s.later, gen)
	}
	if !s.pol.dynamic {
		for i := len(s.kids) - 1; i >= 0; i-- {
			s.terminate(s.kids[i])
		}
		return
	}
	type stopping struct {
		c       *child
		pid     *actor.PID
		done    <-chan struct{}
		release func()
		timeout time.Duration
	}
	kids := s.dynamicKids()
	all := make([]stopping, 0, len(s.byPID))
	for _, c := range kids {
		c.pending = 0
		if c.pid == nil {
			continue
		}
		pid := c.pid
		delete(s.byPID, pid.Id)
		c.pid = nil
		s.sys.Unlink(s.self, pid)
		st := stopping{c: c, pid: pid, timeout: c.spec.shutdown()}
		st.done, st.release = s.watch(pid)
		if st.timeout == BrutalKill {
			_ = s.sys.Kill(pid)
		} else {
			_ = s.sys.ExitFrom(s.self, pid, actor.Shutdown)
		}
		all = append(all, st)
	}
	t0 := s.clock.Now()
	for _, st := range all {
		reason := actor.Shutdown
		done := st.done
		switch {
		case st.timeout == BrutalKill:
			reason = s.kill(st.pid, done)
		case st.timeout == Infinity:
			<-done
		case !s.await(done, st.timeout-s.clock.Now().Sub(t0)):
			reason = s.kill(st.pid, done)
		}
		st.release()
		s.emit(ChildTerminated{Supervisor: s.self, ID: st.c.spec.ID, PID: st.pid, Reason: reason, BySupervisor: true})
	}
}

// watch starts waiting for pid's exit (actor.System.WatchExit) and returns
// the channel closed when it has finished and the function that releases
// the watch. WatchExit fails only for a nil pid or a system never started,
// neither of which a running supervisor sees; should it fail, the child is
// treated as gone rather than waited for forever.
func (s *server) watch(pid *actor.PID) (done <-chan struct{}, release func()) {
	w, err := s.sys.WatchExit(pid)
	if err != nil {
		s.log.Warn("cannot watch a child for its exit; not waiting for it", zap.Stringer("child_pid", pid), zap.Error(err))
		gone := make(chan struct{})
		close(gone)
		return gone, func() {}
	}
	return w.Done(), w.Close
}

// dynamicKids is the dynamic children in StartChild order.
func (s *server) dynamicKids() []*child {
	kids := make([]*child, 0, len(s.dyn))
	for _, c := range s.dyn {
		kids = append(kids, c)
	}
	slices.SortFunc(kids, func(a, b *child) int { return cmp.Compare(a.seq, b.seq) })
	return kids
}

// --- requests ---

type (
	startChildReq     struct{ spec ChildSpec }
	terminateChildReq struct{ id string }
	terminatePIDReq   struct{ pid *actor.PID }
	restartChildReq   struct{ id string }
	restartPIDReq     struct{ pid *actor.PID }
	deleteChildReq    struct{ id string }
	whichChildrenReq  struct{}
	countChildrenReq  struct{}

	pidReply struct{ pid *actor.PID }
	okReply  struct{}
)

// HandleCall serves the handles' requests.
func (s *server) HandleCall(p actor.Process, req any) (any, error) {
	switch r := req.(type) {
	case startChildReq:
		return s.startChild(r.spec)
	case terminateChildReq:
		c, err := s.static(r.id)
		if err != nil {
			return nil, err
		}
		s.terminate(c)
		if c.spec.Restart == Temporary {
			s.remove(c)
		}
		return okReply{}, nil
	case terminatePIDReq:
		c, err := s.dynamic(r.pid)
		if err != nil {
			return nil, err
		}
		s.terminate(c)
		s.remove(c)
		return okReply{}, nil
	case restartChildReq:
		c, err := s.static(r.id)
		if err != nil {
			return nil, err
		}
		if c.pid != nil {
			return nil, fmt.Errorf("%w: %q is running as %s", ErrRunning, r.id, c.pid)
		}
		if c.pending != 0 {
			return nil, fmt.Errorf("%w: %q", ErrRestarting, r.id)
		}
		if err := s.start(nil, c); err != nil {
			s.emit(ChildStartFailed{Supervisor: s.self, ID: c.spec.ID, Err: err})
			return nil, &StartError{ID: c.spec.ID, Err: err}
		}
		if c.pid != nil {
			s.emit(ChildStarted{Supervisor: s.self, ID: c.spec.ID, PID: c.pid})
		}
		return pidReply{c.pid}, nil
	case restartPIDReq:
		c, err := s.dynamic(r.pid)
		if err != nil {
			return nil, err
		}
		s.terminate(c)
		if err := s.start(nil, c); err != nil {
			s.remove(c)
			s.emit(ChildStartFailed{Supervisor: s.self, ID: c.spec.ID, Err: err})
			return nil, &StartError{ID: c.spec.ID, Err: err}
		}
		if c.pid == nil {
			s.remove(c)
			return pidReply{}, nil
		}
		s.emit(ChildStarted{Supervisor: s.self, ID: c.spec.ID, PID: c.pid})
		return pidReply{c.pid}, nil
	case deleteChildReq:
		c, err := s.static(r.id)
		if err != nil {
			return nil, err
		}
		if c.pid != nil {
			return nil, fmt.Errorf("%w: %q is running as %s; terminate it first", ErrRunning, r.id, c.pid)
		}
		if c.pending != 0 {
			return nil, fmt.Errorf("%w: %q", ErrRestarting, r.id)
		}
		s.remove(c)
		return okReply{}, nil
	case whichChildrenReq:
		kids := s.kids
		if s.pol.dynamic {
			kids = s.dynamicKids()
		}
		out := make([]ChildInfo, len(kids))
		for i, k := range kids {
			out[i] = ChildInfo{ID: k.spec.ID, PID: k.pid, Type: k.spec.Type, Restart: k.spec.Restart, Restarting: k.pending != 0}
		}
		return out, nil
	case countChildrenReq:
		var n Counts
		count := func(k *child) {
			n.Specs++
			if k.pid != nil {
				n.Active++
			}
			if k.spec.Type == SupervisorChild {
				n.Supervisors++
			} else {
				n.Workers++
			}
		}
		if s.pol.dynamic {
			for _, k := range s.dyn {
				count(k)
			}
		} else {
			for _, k := range s.kids {
				count(k)
			}
		}
		return n, nil
	}
	return s.ServerBase.HandleCall(p, req)
}

func (s *server) startChild(spec ChildSpec) (any, error) {
	if err := spec.validate("ChildSpec", !s.pol.dynamic); err != nil {
		return nil, err
	}
	c := &child{spec: spec}
	if s.pol.dynamic {
		if s.maxKids > 0 && len(s.dyn) >= s.maxKids {
			return nil, fmt.Errorf("%w: the supervisor has its maximum of %d children", ErrMaxChildren, s.maxKids)
		}
		s.seq++
		c.seq = s.seq
	} else if old := s.byID[spec.ID]; old != nil {
		if old.pid != nil {
			return nil, fmt.Errorf("%w: %q is running as %s", ErrAlreadyStarted, spec.ID, old.pid)
		}
		return nil, fmt.Errorf("%w: %q is not running; use RestartChild or DeleteChild", ErrAlreadyPresent, spec.ID)
	}
	if err := s.start(nil, c); err != nil {
		s.emit(ChildStartFailed{Supervisor: s.self, ID: spec.ID, Err: err})
		return nil, &StartError{ID: spec.ID, Err: err}
	}
	switch {
	case s.pol.dynamic && c.pid == nil:
		return pidReply{}, nil // ignored: nothing to keep
	case s.pol.dynamic:
		s.dyn[c.seq] = c
	default:
		s.kids = append(s.kids, c)
		s.byID[spec.ID] = c
	}
	if c.pid != nil {
		s.emit(ChildStarted{Supervisor: s.self, ID: spec.ID, PID: c.pid})
	}
	return pidReply{c.pid}, nil
}

func (s *server) static(id string) (*child, error) {
	if s.pol.dynamic {
		return nil, fmt.Errorf("%w: a Dynamic supervisor's children are named by PID (see DynamicAt)", ErrUnsupported)
	}
	c := s.byID[id]
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return c, nil
}

func (s *server) dynamic(pid *actor.PID) (*child, error) {
	if !s.pol.dynamic {
		return nil, fmt.Errorf("%w: a static supervisor's children are named by ID (see SupervisorAt)", ErrUnsupported)
	}
	if pid == nil {
		return nil, fmt.Errorf("%w: pid is nil", ErrNotFound)
	}
	c := s.byPID[pid.Id]
	if c == nil {
		return nil, fmt.Errorf("%w: %s is not a running child", ErrNotFound, pid)
	}
	return c, nil
}
