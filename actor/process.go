package actor

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// Process is what a behaviour sees of its own process while it handles a
// message: its identity, the message's headers and reply handle, and the
// operations that act on behalf of the process. The runtime and the
// actortest harness both implement it.
//
// A Process is only valid on the goroutine handling the current message.
type Process interface {
	// Self is this process's PID.
	Self() *PID
	// Send sends msg to pid (fire and forget).
	Send(pid *PID, msg any)
	// SendWithHeaders sends msg with message headers attached.
	SendWithHeaders(pid *PID, msg any, h Headers)
	// Header returns a header of the message being handled ("" if absent).
	Header(key string) string
	// Spawn starts a child of this process; see System.Spawn for b.
	Spawn(b any, opts ...SpawnOption) (*PID, error)
	// Link links this process with pid (see System.Link).
	Link(pid *PID) error
	// Unlink removes a link.
	Unlink(pid *PID)
	// Monitor monitors pid; a Down arrives as a message (HandleInfo).
	Monitor(pid *PID) (MonitorRef, error)
	// Demonitor removes a monitor; no Down for it arrives afterwards.
	Demonitor(ref MonitorRef)
	// TrapExit turns exit signals from linked processes into Exit messages
	// instead of killing this process.
	TrapExit(on bool)
	// Stop stops this process with reason once the current message is done.
	Stop(reason Reason)
	// ReplyTo is the reply handle of the call being handled (zero for casts);
	// keep it to reply later with Reply.
	ReplyTo() ReplyTo
	// Reply answers a call; msg may be an error, which the caller receives as
	// its error. Replying twice to one call sends nothing the second time.
	Reply(to ReplyTo, msg any)
	// SendAfter sends msg to this process after d on the system's Clock
	// (Erlang's send_after); Stop the Timer to cancel it.
	SendAfter(d time.Duration, msg any) Timer
	// Logger is the system's logger, with this process's pid attached.
	Logger() *zap.Logger
	// Clock is the system's clock.
	Clock() Clock
}

// SpawnOption configures one Spawn.
type SpawnOption interface{ applySpawn(*spawnOpts) error }

type spawnOptFunc func(*spawnOpts) error

func (f spawnOptFunc) applySpawn(o *spawnOpts) error { return f(o) }

type spawnOpts struct {
	link        *PID
	trapExit    bool
	idleTimeout time.Duration
}

// SpawnConfig is what a list of SpawnOptions asks for; test kits read it.
type SpawnConfig struct {
	Link        *PID
	TrapExit    bool
	IdleTimeout time.Duration
}

// ResolveSpawnOptions applies opts and reports the result, or the first
// invalid option's error.
func ResolveSpawnOptions(opts ...SpawnOption) (SpawnConfig, error) {
	var o spawnOpts
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applySpawn(&o); err != nil {
			return SpawnConfig{}, err
		}
	}
	return SpawnConfig{Link: o.link, TrapExit: o.trapExit, IdleTimeout: o.idleTimeout}, nil
}

// WithLink links the new process with pid atomically with its start, like
// Erlang's spawn_link: the link exists before the process runs.
func WithLink(pid *PID) SpawnOption {
	return spawnOptFunc(func(o *spawnOpts) error {
		if pid == nil {
			return fmt.Errorf("%w: WithLink: pid is nil", ErrInvalid)
		}
		o.link = pid
		return nil
	})
}

// WithTrapExit starts the process trapping exits.
func WithTrapExit() SpawnOption {
	return spawnOptFunc(func(o *spawnOpts) error { o.trapExit = true; return nil })
}

// WithIdleTimeout delivers Timeout to a Server's HandleInfo when it has
// received no message for d (measured on the system's Clock). Zero: none.
func WithIdleTimeout(d time.Duration) SpawnOption {
	return spawnOptFunc(func(o *spawnOpts) error {
		if d < 0 {
			return fmt.Errorf("%w: WithIdleTimeout: %v must be >= 0", ErrInvalid, d)
		}
		o.idleTimeout = d
		return nil
	})
}

// Timeout is delivered to HandleInfo after an idle period (WithIdleTimeout).
type Timeout struct{ Idle time.Duration }

// process is the engine actor behind every process Foundation spawns. It
// keeps the hot path short and the struct small (it exists once per process):
// a plain Actor with no options costs 32 bytes and one type switch per
// message.
type process struct {
	sys *System
	b   Actor    // the plain actor; nil for a Server (see x.srv)
	x   *procExt // everything else, allocated on first use
}

// procExt is state few processes need, allocated on first use.
type procExt struct {
	ctx       actor.Context // the context of the message being handled
	srv       Server
	trapExit  bool
	exiting   bool
	reason    Reason
	hasReason bool
	init      chan error // Spawn waits here for a Server's Init
	opts      spawnOpts
	// idle timeout
	idleGen    uint64
	idleArmed  bool
	lastMsg    time.Time
	timer      Timer
	log        *zap.Logger
	linkErr    error
	initFailed bool
	dead       bool            // stopped: the mailbox refuses what is still queued
	terminated bool            // Terminate has run
	pending    map[string]*PID // deferred calls not yet answered
	mctx       context.Context // ContextOf the message being handled, once made
	herr       error           // with an Observer: the error the handler answered a call with, or its crash
	kind       *kindStats      // with an Observer: the process's kind's counters
}

func (p *process) ext() *procExt {
	if p.x == nil {
		p.x = &procExt{}
	}
	return p.x
}

func (p *process) Receive(c actor.Context) {
	m := c.Message()
	switch m.(type) {
	case *actor.Started:
		if p.x == nil {
			p.plain(c) // a plain actor's start needs no process state
			return
		}
		p.x.ctx = c
		p.started()
		return
	case *actor.Stopping, *actor.Stopped, *actor.Restarting,
		*actor.Terminated, *exitSignal, *downSignal, *idleTick:
		p.ext().ctx = c
		p.lifecycle(c, m)
		return
	}
	if o := p.sys.opts.observer; o != nil {
		if h := c.MessageHeader(); h != nil && h.Length() > 0 {
			p.receiveObserved(o, c, m, h)
			return
		}
	}
	if p.x == nil {
		p.plain(c)
		return
	}
	p.x.ctx = c
	p.x.mctx = nil
	if p.x.exiting {
		p.refuse(c)
		return
	}
	p.handle(c, m)
	p.afterHandler()
}

// plain is the hot path: a plain actor without options. It sets up no
// deferred recover (that costs about half of this wrapper's time): a panic
// unwinds to the mailbox (mailbox.go), which recovers it once per run and
// escalates it to the parent process or the system's guardian; both hand it
// to System.crashed (see HandleFailure).
func (p *process) plain(c actor.Context) {
	p.b.Receive(c)
}

// HandleFailure makes every Foundation process the engine supervisor of its
// children: a child whose panic reached the engine exits with that error.
func (p *process) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *PID, _ *actor.RestartStatistics, reason, msg any) {
	p.sys.crashed(sup, child, reason, msg)
}

func (p *process) lifecycle(c actor.Context, m any) {
	switch m := m.(type) {
	case *actor.Stopping:
		p.x.exiting = true
		if p.x.srv == nil {
			p.safeActor(p.b) // a plain actor sees the engine's lifecycle
		}
	case *actor.Stopped:
		p.stopped()
	case *actor.Restarting, *actor.Terminated:
		// Servers see exits through links and monitors; a plain actor gets
		// the engine's messages (Terminated after its own Watch).
		if p.x.srv == nil {
			p.safeActor(p.b)
		}
	case *exitSignal:
		p.exitSignal(m)
	case *downSignal:
		if p.sys.acceptDown(c.Self(), m.down.Ref.id) {
			p.info(m.down)
			p.afterHandler()
		}
	case *idleTick:
		p.idleTick(m)
	}
}

func (p *process) handle(c actor.Context, m any) {
	defer p.recoverPanic()
	if p.x.opts.idleTimeout > 0 {
		p.touch()
	}
	if p.x.srv != nil {
		p.serve(p.x.srv, c, m)
		return
	}
	p.b.Receive(c)
}

func (p *process) recoverPanic() {
	if v := recover(); v != nil {
		err := &PanicError{Value: v}
		log := p.Logger()
		log.Warn("process crashed", zap.Error(err))
		if ce := log.Check(zap.DebugLevel, "process crash stack"); ce != nil {
			ce.Write(zap.ByteString("stack", debug.Stack()))
		}
		p.failCall(err)
		if p.sys.opts.observer != nil {
			p.ext().herr = err
		}
		p.Stop(ErrorReason(err))
	}
}

// refuse answers a call that reaches a process that is already exiting.
func (p *process) refuse(c actor.Context) {
	if s := c.Sender(); s != nil {
		c.Send(s, &actor.DeadLetterResponse{Target: c.Self()})
	}
}

// failCall answers the call being handled with err, when a handler crashed.
func (p *process) failCall(err error) {
	if to := p.ReplyTo(); !to.IsZero() {
		p.Reply(to, fmt.Errorf("%w: %w: %s crashed while handling the call: %w", ErrExited, ErrNoProcess, PIDString(p.x.ctx.Self()), err))
	}
}

func (p *process) started() {
	x := p.x
	srv := x.srv
	if srv == nil {
		p.safeActor(p.b)
		return
	}
	err := p.safeInit(srv)
	if x.init != nil {
		x.init <- err
	}
	if err != nil {
		x.initFailed = true
		p.Stop(ErrorReason(err))
		return
	}
	if x.opts.idleTimeout > 0 {
		p.touch()
	}
}

func (p *process) safeInit(srv Server) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v}
		}
	}()
	return srv.Init(p)
}

// safeActor passes a lifecycle message to a plain Actor, recovering panics.
func (p *process) safeActor(a Actor) {
	defer p.recoverPanic()
	a.Receive(p.x.ctx)
}

func (p *process) stopped() {
	x := p.ext()
	reason := Shutdown
	if x.hasReason {
		reason = x.reason
	}
	if x.timer != nil {
		x.timer.Stop()
	}
	x.dead = true
	self := x.ctx.Self()
	if r, ok := p.sys.exitOverride(self); ok {
		reason = r
	}
	if len(x.pending) > 0 {
		p.failPending(reason)
	}
	// As in OTP, Terminate runs before linked and monitoring processes learn
	// of the exit, so a replacement never overlaps the old process's
	// cleanup; and it does not run when Init failed.
	if x.srv != nil {
		p.terminate(reason)
	} else {
		p.safeActor(p.b)
	}
	p.sys.exited(self, reason)
	if reason.IsError() {
		p.Logger().Info("process exited", zap.Stringer("reason", reason))
	}
	p.sys.live.Add(-1)
}

// terminate runs a Server's Terminate once (not after a failed Init).
func (p *process) terminate(reason Reason) {
	x := p.x
	if x.srv == nil || x.initFailed || x.terminated {
		return
	}
	x.terminated = true
	defer func() {
		if v := recover(); v != nil {
			p.Logger().Warn("Terminate panicked", zap.Any("panic", v))
		}
	}()
	x.srv.Terminate(p, reason)
}

// afterHandler runs Terminate as soon as the handler that decided to stop
// (or crashed) has returned, while the process is still alive and
// registered, as gen_server does; the engine's stop follows.
func (p *process) afterHandler() {
	if x := p.x; x != nil && x.hasReason && x.srv != nil && !x.terminated {
		p.terminate(x.reason)
	}
}

func (p *process) exitSignal(m *exitSignal) {
	x := p.ext()
	if x.exiting {
		return // already on its way out: the first reason stands
	}
	if m.kill {
		p.Stop(Killed)
		return
	}
	if x.trapExit {
		from := m.from
		if from == nil {
			from = &PID{}
		}
		p.info(Exit{From: from, Reason: m.reason})
		p.afterHandler()
		return
	}
	if m.reason.IsNormal() || m.onlyTrapped {
		return
	}
	p.Stop(m.reason)
}

// info delivers a runtime message (Exit, Down, Timeout) to the behaviour.
func (p *process) info(m any) {
	defer p.recoverPanic()
	if p.x.srv != nil {
		p.x.srv.HandleInfo(p, m)
		return
	}
	// A plain actor reads it from its context: redeliver it to self.
	p.sys.tell(p.x.ctx.Self(), infoMsg{m})
}

// infoMsg redelivers Exit/Down/Timeout to a plain Actor as its message.
type infoMsg struct{ m any }

// --- Process interface ---

func (p *process) Self() *PID { return p.x.ctx.Self() }

func (p *process) Send(pid *PID, msg any) { p.x.ctx.Send(pid, msg) }

func (p *process) SendWithHeaders(pid *PID, msg any, h Headers) {
	if len(h) == 0 {
		p.x.ctx.Send(pid, msg)
		return
	}
	p.sys.tellEnvelope(pid, &actor.MessageEnvelope{Header: h.clone(), Message: msg})
}

func (p *process) Header(k string) string {
	h := p.x.ctx.MessageHeader()
	if h == nil {
		return ""
	}
	return h.Get(k)
}

func (p *process) Spawn(b any, opts ...SpawnOption) (*PID, error) {
	return p.sys.spawn(p.x.ctx, "", b, opts)
}

func (p *process) Link(pid *PID) error { return p.sys.Link(p.x.ctx.Self(), pid) }

func (p *process) Unlink(pid *PID) { p.sys.Unlink(p.x.ctx.Self(), pid) }

func (p *process) Monitor(pid *PID) (MonitorRef, error) { return p.sys.Monitor(p.x.ctx.Self(), pid) }

func (p *process) Demonitor(ref MonitorRef) { p.sys.Demonitor(ref) }

func (p *process) TrapExit(on bool) { p.ext().trapExit = on }

func (p *process) Stop(reason Reason) {
	x := p.ext()
	if !x.hasReason {
		x.reason, x.hasReason = reason, true
	}
	x.exiting = true
	// A poison pill queues behind the messages already in the mailbox, which
	// Receive then refuses (callers get ErrNoProcess at once) instead of the
	// engine dropping them silently after an immediate stop.
	p.x.ctx.Poison(p.x.ctx.Self())
}

func (p *process) ReplyTo() ReplyTo {
	s := p.x.ctx.Sender()
	if s == nil {
		return ReplyTo{}
	}
	return ReplyTo{pid: s}
}

func (p *process) Reply(to ReplyTo, msg any) {
	if p.x != nil && p.x.pending != nil {
		delete(p.x.pending, pendingKey(to.pid))
	}
	p.sys.reply(to, msg)
}

func pendingKey(pid *PID) string {
	if pid == nil {
		return ""
	}
	return key(pid) + "#" + strconv.FormatUint(uint64(pid.RequestId), 10)
}

// failPending answers every deferred call still unanswered when the process
// exits, as an OTP caller's monitor would tell it.
func (p *process) failPending(reason Reason) {
	for _, pid := range p.x.pending {
		p.sys.reply(ReplyTo{pid: pid}, fmt.Errorf("%w: %w: %s exited before replying: %v", ErrExited, ErrNoProcess, PIDString(p.x.ctx.Self()), reason))
	}
	p.x.pending = nil
}

func (p *process) Logger() *zap.Logger {
	x := p.ext()
	if x.log == nil {
		x.log = p.sys.log.With(zap.String("pid", PIDString(p.x.ctx.Self())))
	}
	return x.log
}

func (p *process) Clock() Clock { return p.sys.clock }

func (p *process) SendAfter(d time.Duration, msg any) Timer {
	self, sys := p.x.ctx.Self(), p.sys
	return sys.clock.AfterFunc(d, func() { sys.tell(self, msg) })
}

// ProcessOf returns the Process behind a plain Actor's context, so that a
// plain Actor can link, monitor and trap exits. It returns nil for actors not
// spawned by Foundation.
func ProcessOf(c Context) Process {
	if p, ok := c.Actor().(*process); ok {
		p.ext().ctx = c
		return p
	}
	return nil
}

// Info unwraps a runtime message (Exit, Down, Timeout) delivered to a plain
// Actor; ok is false for any other message.
func Info(msg any) (m any, ok bool) {
	if i, is := msg.(infoMsg); is {
		return i.m, true
	}
	return nil, false
}

// --- idle timeout ---

type idleTick struct{ gen uint64 }

func (p *process) touch() {
	x := p.x
	x.lastMsg = p.sys.clock.Now()
	if !x.idleArmed {
		x.idleArmed = true
		p.arm(x.opts.idleTimeout)
	}
}

func (p *process) arm(d time.Duration) {
	x := p.x
	x.idleGen++
	gen, self, sys := x.idleGen, p.x.ctx.Self(), p.sys
	x.timer = p.sys.clock.AfterFunc(d, func() { sys.tell(self, &idleTick{gen: gen}) })
}

func (p *process) idleTick(m *idleTick) {
	x := p.x
	if x == nil || m.gen != x.idleGen || !x.idleArmed {
		return
	}
	idle := p.sys.clock.Now().Sub(x.lastMsg)
	if idle < x.opts.idleTimeout {
		p.arm(x.opts.idleTimeout - idle)
		return
	}
	x.idleArmed = false // re-armed by the next message
	p.info(Timeout{Idle: idle})
	p.afterHandler()
}
