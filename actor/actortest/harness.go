package actortest

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/internal/actorhooks"
)

// Harness runs one actor.Server on the test's goroutine, standing in for the
// runtime: it delivers each message synchronously, records what the Server
// does through its actor.Process, and applies the runtime's lifecycle rules
// (Init first, panics crash the process, Stop ends in Terminate, a stopped
// process receives nothing). Build it with New.
//
// Deliver messages (Init, Call, Cast, Info, Exit, Down, Terminate, and
// Clock.Advance when an idle timeout is set) from one goroutine at a time, as
// the runtime does. The accessors and assertions are safe to call from any
// goroutine.
type Harness struct {
	t     testing.TB
	srv   actor.Server
	p     *process
	self  *actor.PID
	clock *Clock
	log   *zap.Logger
	idle  time.Duration

	mu sync.Mutex

	// lifecycle
	inited     bool
	stopping   bool         // Stop was called; reason is the first reason
	reason     actor.Reason // valid when stopping
	terminated bool         // Terminate has run
	trapExit   bool

	// the message being handled
	hdr     actor.Headers
	replyTo actor.ReplyTo

	// records of what the Server did through its Process
	sent        []Sent
	replies     []Reply
	spawned     []Spawned
	linked      []*actor.PID
	unlinked    []*actor.PID
	monitored   []actor.MonitorRef
	demonitored []actor.MonitorRef

	monitors map[actor.MonitorRef]struct{} // live monitors, for Down
	calls    map[string]*CallResult        // unanswered calls by caller pid
	nCaller  uint64
	nChild   uint64
	nRef     uint64

	// idle timeout, as in the runtime: armed by a message, re-armed for the
	// remainder while messages keep coming, disarmed when Timeout is delivered
	idleGen   uint64
	idleArmed bool
	lastMsg   time.Time
	idleTimer actor.Timer
}

// Option configures a Harness. Build options with the With… functions of
// this package.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	self     *actor.PID
	clock    *Clock
	log      *zap.Logger
	logSet   bool
	idle     time.Duration
	trapExit bool
}

// WithSelf sets the Server's own PID. Default (nil): Address "actortest",
// Id "self". Children and callers get PIDs on the same address.
func WithSelf(pid *actor.PID) Option {
	return optionFunc(func(c *config) error { c.self = pid; return nil })
}

// WithClock sets the clock the Server sees as Process.Clock and the idle
// timeout runs on. Default (nil): a new Clock reading 2000-01-01 00:00:00
// UTC, so that times in logs and golden files are stable.
func WithClock(clk *Clock) Option {
	return optionFunc(func(c *config) error { c.clock = clk; return nil })
}

// WithLogger sets the logger the Server sees as Process.Logger (with a "pid"
// field added); nil means no logging. Default: zaptest.NewLogger(t), which
// prints with the test's output.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) error { c.log, c.logSet = l, true; return nil })
}

// WithIdleTimeout is the harness's actor.WithIdleTimeout: when the Server has
// received no Call or Cast for d, measured on the Clock, Clock.Advance
// delivers actor.Timeout to HandleInfo. As in the runtime, the timeout is
// armed again only by the next Call or Cast. Zero: none; negative is an
// error.
func WithIdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: WithIdleTimeout: %v must be >= 0", actor.ErrInvalid, d)
		}
		c.idle = d
		return nil
	})
}

// WithTrapExit is the harness's actor.WithTrapExit: the Server starts
// trapping exits, before Init.
func WithTrapExit() Option {
	return optionFunc(func(c *config) error { c.trapExit = true; return nil })
}

// New returns a Harness running srv; call Init before delivering messages.
// An invalid option or a nil srv fails the test with t.Fatalf.
func New(t testing.TB, srv actor.Server, opts ...Option) *Harness {
	t.Helper()
	if srv == nil {
		t.Fatalf("actortest.New: srv is nil; want an actor.Server")
		return nil
	}
	var cfg config
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			t.Fatalf("actortest.New: %v", err)
			return nil
		}
	}
	h := &Harness{
		t:        t,
		srv:      srv,
		self:     cfg.self,
		clock:    cfg.clock,
		log:      cfg.log,
		idle:     cfg.idle,
		trapExit: cfg.trapExit,
		monitors: make(map[actor.MonitorRef]struct{}),
		calls:    make(map[string]*CallResult),
	}
	if h.self == nil {
		h.self = &actor.PID{Address: "actortest", Id: "self"}
	}
	if h.clock == nil {
		h.clock = NewClock(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	switch {
	case !cfg.logSet:
		h.log = zaptest.NewLogger(t)
	case h.log == nil:
		h.log = zap.NewNop()
	}
	h.p = &process{h: h, log: h.log.With(zap.String("pid", actor.PIDString(h.self)))}
	return h
}

// Self is the Server's PID.
func (h *Harness) Self() *actor.PID { return h.self }

// Clock is the Server's clock; Advance it to run timers and idle timeouts.
func (h *Harness) Clock() *Clock { return h.clock }

// Init runs the Server's Init, as Spawn does, and returns its error (a panic
// is returned as an error). On error the process stops with
// actor.ErrorReason(err) and Terminate runs, as in the runtime. Init must run
// once, before any message.
func (h *Harness) Init() error {
	h.t.Helper()
	h.mu.Lock()
	if h.inited {
		h.mu.Unlock()
		h.t.Errorf("actortest: Init called twice; the runtime runs Init once")
		return fmt.Errorf("%w: Init already ran", actor.ErrInvalid)
	}
	h.inited = true
	h.mu.Unlock()
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				err = &actor.PanicError{Value: v}
			}
		}()
		err = h.srv.Init(h.p)
	}()
	if err != nil {
		h.stop(actor.ErrorReason(err))
	} else if h.idle > 0 {
		h.mu.Lock()
		if !h.stopping {
			h.touchLocked()
		}
		h.mu.Unlock()
	}
	h.finish()
	return err
}

// CallOption configures one Harness.Call.
type CallOption interface{ applyCall(*callConfig) }

type callConfig struct{ headers actor.Headers }

type callOptionFunc func(*callConfig)

func (f callOptionFunc) applyCall(c *callConfig) { f(c) }

// WithHeaders attaches message headers to a Call, as actor.WithHeaders does
// to a real Call's context; the Server reads them with Process.Header.
func WithHeaders(hdr actor.Headers) CallOption {
	return callOptionFunc(func(c *callConfig) { c.headers = maps.Clone(hdr) })
}

// CallResult is the outcome of one Harness.Call as its caller would see it:
// the reply HandleCall returned, or, when it returned actor.NoReply, the
// first reply sent later with Process.Reply. Safe for concurrent use.
type CallResult struct {
	h     *Harness
	to    actor.ReplyTo
	done  bool
	reply any
	err   error
}

// Reply is the reply, or nil while Pending or when the call failed.
func (r *CallResult) Reply() any {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	return r.reply
}

// Err is the error the caller receives: the handler's error, an error sent
// with Process.Reply, or one wrapping actor.ErrNoProcess when the handler
// panicked, the process was not running, or it exited before answering a
// deferred call.
func (r *CallResult) Err() error {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	return r.err
}

// Pending reports whether the caller is still waiting: HandleCall returned
// actor.NoReply, nothing has replied since, and the process is running.
func (r *CallResult) Pending() bool {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	return !r.done
}

// ReplyTo is the reply handle the Server saw as Process.ReplyTo during the
// call; each call has its own caller PID.
func (r *CallResult) ReplyTo() actor.ReplyTo { return r.to }

// resolveLocked answers the call unless it was answered: the first reply
// wins, as in the runtime. A reply that is an error is the caller's error.
func (r *CallResult) resolveLocked(msg any) {
	if r.done {
		return
	}
	r.done = true
	if err, ok := msg.(error); ok {
		r.err = err
		return
	}
	r.reply = msg
}

// Call runs HandleCall with req, as a call from a fresh caller, and returns
// what that caller receives. A reply of actor.NoReply leaves the result
// Pending until the Server answers with Process.Reply.
func (h *Harness) Call(req any, opts ...CallOption) *CallResult {
	h.t.Helper()
	var cc callConfig
	for _, o := range opts {
		if o != nil {
			o.applyCall(&cc)
		}
	}
	h.mu.Lock()
	h.nCaller++
	caller := &actor.PID{Address: h.self.Address, Id: fmt.Sprintf("caller-%d", h.nCaller)}
	r := &CallResult{h: h, to: actorhooks.NewReplyTo(caller).(actor.ReplyTo)}
	h.mu.Unlock()
	if err := h.admit("Call", describe(req)); err != nil {
		h.mu.Lock()
		r.resolveLocked(err)
		h.mu.Unlock()
		return r
	}
	h.mu.Lock()
	h.calls[actor.PIDString(caller)] = r
	h.mu.Unlock()
	h.handle(cc.headers, r.to, true, func() {
		reply, err := h.srv.HandleCall(h.p, req)
		switch {
		case err != nil:
			h.answer(r.to, err)
		case reply == actor.NoReply:
		default:
			h.answer(r.to, reply)
		}
	})
	return r
}

// Call is Harness.Call for a reply of type R, with actor.Call's errors: the
// handler's error, actor.ErrBadReply when the reply is not an R (a nil reply
// is R's zero value when R can be nil), and actor.ErrTimeout when the reply
// is deferred and nothing has answered yet.
func Call[R any](h *Harness, req any, opts ...CallOption) (R, error) {
	h.t.Helper()
	var zero R
	r := h.Call(req, opts...)
	if r.Pending() {
		return zero, fmt.Errorf("%w: call to %s: HandleCall returned actor.NoReply and nothing has replied; use Harness.Call to follow a deferred reply", actor.ErrTimeout, actor.PIDString(h.self))
	}
	if err := r.Err(); err != nil {
		return zero, err
	}
	m := r.Reply()
	if v, ok := m.(R); ok {
		return v, nil
	}
	if m == nil && nilable(reflect.TypeFor[R]()) {
		return zero, nil
	}
	return zero, fmt.Errorf("%w: call to %s: got %T, want %T", actor.ErrBadReply, actor.PIDString(h.self), m, zero)
}

func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return true
	}
	return false
}

// Cast runs HandleCast with msg, as a message sent with Tell.
func (h *Harness) Cast(msg any) {
	h.t.Helper()
	h.cast("Cast", msg, nil)
}

// CastWithHeaders is Cast with message headers, as sent with TellWithHeaders.
func (h *Harness) CastWithHeaders(msg any, hdr actor.Headers) {
	h.t.Helper()
	h.cast("CastWithHeaders", msg, maps.Clone(hdr))
}

func (h *Harness) cast(what string, msg any, hdr actor.Headers) {
	h.t.Helper()
	if h.admit(what, describe(msg)) != nil {
		return
	}
	h.handle(hdr, actor.ReplyTo{}, true, func() { h.srv.HandleCast(h.p, msg) })
}

// Info runs HandleInfo with msg, as the runtime delivers actor.Exit,
// actor.Down and actor.Timeout. Like those, it does not count as a message
// for the idle timeout. Exit and Down deliver these the way the runtime
// decides to.
func (h *Harness) Info(msg any) {
	h.t.Helper()
	if h.admit("Info", describe(msg)) != nil {
		return
	}
	h.info(msg)
}

func (h *Harness) info(msg any) {
	h.handle(nil, actor.ReplyTo{}, false, func() { h.srv.HandleInfo(h.p, msg) })
}

// Exit delivers an exit signal as if from, a linked process, exited with
// reason, and does what the runtime does with it: a Server trapping exits
// receives actor.Exit in HandleInfo; otherwise actor.Normal is ignored and
// any other reason stops the process with that reason.
func (h *Harness) Exit(from *actor.PID, reason actor.Reason) {
	h.t.Helper()
	if h.admit("Exit", reason.String()) != nil {
		return
	}
	if h.TrapsExit() {
		if from == nil {
			from = &actor.PID{}
		}
		h.info(actor.Exit{From: from, Reason: reason})
		return
	}
	if reason.IsNormal() {
		return
	}
	h.stop(reason)
	h.finish()
}

// Down delivers actor.Down for ref, made by the Server's Process.Monitor, as
// if its target exited with reason. It reports whether the Down was
// delivered: as in the runtime, a ref that was demonitored or already got
// its Down gets nothing.
func (h *Harness) Down(ref actor.MonitorRef, reason actor.Reason) bool {
	h.t.Helper()
	if h.admit("Down", reason.String()) != nil {
		return false
	}
	h.mu.Lock()
	_, live := h.monitors[ref]
	delete(h.monitors, ref)
	h.mu.Unlock()
	if !live {
		return false
	}
	h.info(actor.Down{Ref: ref, PID: ref.Target(), Reason: reason})
	return true
}

// Terminate stops the process from outside with reason, as System.Stop
// (actor.Shutdown) or System.Kill (actor.Killed) would, and runs the
// Server's Terminate. If the Server had already called Stop, its reason
// wins. Terminate after the process terminated fails the test.
func (h *Harness) Terminate(reason actor.Reason) {
	h.t.Helper()
	h.mu.Lock()
	inited, terminated, first := h.inited, h.terminated, h.reason
	h.mu.Unlock()
	switch {
	case !inited:
		h.t.Errorf("actortest: Terminate(%v) before Init: call Harness.Init first", reason)
		return
	case terminated:
		h.t.Errorf("actortest: Terminate(%v) after the process terminated with reason %v; Terminate runs once", reason, first)
		return
	}
	h.stop(reason)
	h.finish()
}

// admit reports, and fails the test, when the process cannot receive a
// message: before Init, or once it has stopped. The error is what a caller
// would receive.
func (h *Harness) admit(what, arg string) error {
	h.t.Helper()
	h.mu.Lock()
	inited, stopping, reason := h.inited, h.stopping, h.reason
	h.mu.Unlock()
	switch {
	case !inited:
		h.t.Errorf("actortest: %s(%s) before Init: the runtime runs Init before any message; call Harness.Init first", what, arg)
		return fmt.Errorf("%w: %s has not started", actor.ErrNoProcess, actor.PIDString(h.self))
	case stopping:
		h.t.Errorf("actortest: %s(%s) after the process stopped with reason %v: a stopped process receives nothing", what, arg, reason)
		return fmt.Errorf("%w: %s stopped with reason %v", actor.ErrNoProcess, actor.PIDString(h.self), reason)
	}
	return nil
}

// handle runs one handler as the runtime's mailbox loop does: with the
// message's headers and reply handle current, the idle timeout touched for
// ordinary messages, a panic turned into a crash, and Terminate run when the
// handler stopped the process.
func (h *Harness) handle(hdr actor.Headers, to actor.ReplyTo, touch bool, fn func()) {
	h.mu.Lock()
	h.hdr, h.replyTo = hdr, to
	if touch && h.idle > 0 {
		h.touchLocked()
	}
	h.mu.Unlock()
	h.protect(fn)
	h.mu.Lock()
	h.hdr, h.replyTo = nil, actor.ReplyTo{}
	h.mu.Unlock()
	h.finish()
}

// protect runs fn; a panic crashes the process as recoverPanic does in the
// runtime: logged, the current call answered with an error wrapping
// actor.ErrNoProcess, and the process stopped with actor.ErrorReason.
func (h *Harness) protect(fn func()) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		err := &actor.PanicError{Value: v}
		h.p.log.Warn("process crashed", zap.Error(err))
		h.mu.Lock()
		to := h.replyTo
		h.mu.Unlock()
		if !to.IsZero() {
			h.answer(to, fmt.Errorf("%w: %w: %s crashed while handling the call: %w", actor.ErrExited, actor.ErrNoProcess, actor.PIDString(h.self), err))
		}
		h.stop(actor.ErrorReason(err))
	}()
	fn()
}

// answer delivers a reply to the caller at to, if it is one of this
// harness's unanswered calls.
func (h *Harness) answer(to actor.ReplyTo, msg any) {
	if to.IsZero() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := actor.PIDString(to.PID())
	if r := h.calls[k]; r != nil {
		r.resolveLocked(msg)
		delete(h.calls, k)
	}
}

// stop records that the process is stopping; the first reason wins.
func (h *Harness) stop(reason actor.Reason) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.stopping {
		h.stopping, h.reason = true, reason
	}
}

// finish runs Terminate once the process is stopping, as the runtime does
// after the message during which Stop was called, and fails the deferred
// calls left unanswered.
func (h *Harness) finish() {
	h.mu.Lock()
	if !h.stopping || h.terminated {
		h.mu.Unlock()
		return
	}
	h.terminated = true
	reason := h.reason
	if h.idleTimer != nil {
		h.idleTimer.Stop()
		h.idleTimer = nil
	}
	h.idleArmed = false
	// Deferred calls still unanswered fail now, before Terminate, as in the
	// runtime: their callers learn at once that the process is gone.
	for k, r := range h.calls {
		r.resolveLocked(fmt.Errorf("%w: %w: %s exited before replying: %v", actor.ErrExited, actor.ErrNoProcess, actor.PIDString(h.self), reason))
		delete(h.calls, k)
	}
	h.mu.Unlock()
	defer func() {
		if v := recover(); v != nil {
			h.p.log.Warn("Terminate panicked", zap.Any("panic", v))
		}
	}()
	h.srv.Terminate(h.p, reason)
}

// --- idle timeout, mirroring the runtime's touch/arm/idleTick ---

func (h *Harness) touchLocked() {
	h.lastMsg = h.clock.Now()
	if !h.idleArmed {
		h.idleArmed = true
		h.armLocked(h.idle)
	}
}

func (h *Harness) armLocked(d time.Duration) {
	h.idleGen++
	gen := h.idleGen
	h.idleTimer = h.clock.AfterFunc(d, func() { h.idleTick(gen) })
}

func (h *Harness) idleTick(gen uint64) {
	h.mu.Lock()
	if gen != h.idleGen || !h.idleArmed || h.stopping {
		h.mu.Unlock()
		return
	}
	idle := h.clock.Now().Sub(h.lastMsg)
	if idle < h.idle {
		h.armLocked(h.idle - idle)
		h.mu.Unlock()
		return
	}
	h.idleArmed = false // armed again by the next Call or Cast
	h.idleTimer = nil
	h.mu.Unlock()
	h.info(actor.Timeout{Idle: idle})
}

// --- records ---

// Sent is one message the Server sent with Process.Send or SendWithHeaders.
type Sent struct {
	To      *actor.PID
	Msg     any
	Headers actor.Headers // nil when sent without headers
}

// Reply is one call to Process.Reply.
type Reply struct {
	To  actor.ReplyTo
	Msg any
}

// Spawned is one successful Process.Spawn. The child does not run: the
// harness runs one Server. Build a Harness for the child to test it.
type Spawned struct {
	PID       *actor.PID
	Behaviour any
	Opts      []actor.SpawnOption
	// Config is what Opts resolve to (link, trap exit, idle timeout).
	Config actor.SpawnConfig
}

// Sent returns every message sent, in order.
func (h *Harness) Sent() []Sent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sent)
}

// Replies returns every call to Process.Reply, in order, including replies
// the runtime would drop (to a caller already answered, or to the zero
// ReplyTo). Replies returned by HandleCall are on the CallResult only.
func (h *Harness) Replies() []Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.replies)
}

// Spawned returns every child spawned, in order.
func (h *Harness) Spawned() []Spawned {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.spawned)
}

// Linked returns the pid of every successful Process.Link, in order.
func (h *Harness) Linked() []*actor.PID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.linked)
}

// Unlinked returns the pid of every Process.Unlink, in order.
func (h *Harness) Unlinked() []*actor.PID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.unlinked)
}

// Monitored returns the ref of every successful Process.Monitor, in order.
// Pass one to Down to deliver its actor.Down.
func (h *Harness) Monitored() []actor.MonitorRef {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.monitored)
}

// Demonitored returns the ref of every Process.Demonitor, in order.
func (h *Harness) Demonitored() []actor.MonitorRef {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.demonitored)
}

// TrapsExit reports whether the Server traps exits now.
func (h *Harness) TrapsExit() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.trapExit
}

// Stopped returns the reason the process stopped with and true, or false
// while it runs. The reason is the first given: to Process.Stop, by a failed
// Init or a panic, by Exit, or to Terminate.
func (h *Harness) Stopped() (actor.Reason, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason, h.stopping
}
