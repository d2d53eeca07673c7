package supervision_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/supervision"
)

// start returns a running system stopped at the end of the test; the test
// fails if anything was logged at ERROR.
func start(t *testing.T, opts ...actor.Option) *actor.System {
	t.Helper()
	s, _ := startWithLogs(t, opts...)
	return s
}

// startWithLogs is start, also returning what the system logs.
func startWithLogs(t *testing.T, opts ...actor.Option) (*actor.System, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	opts = append([]actor.Option{actor.WithLogger(zap.New(core))}, opts...)
	s, err := actor.NewSystem(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		for _, e := range logs.FilterLevelExact(zapcore.ErrorLevel).All() {
			t.Errorf("ERROR logged: %s %v", e.Message, e.ContextMap())
		}
	})
	return s, logs
}

func bg() context.Context { return context.Background() }

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// journal records what workers do, in order: "start:a", "stop:a".
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.lines = append(j.lines, s)
	j.mu.Unlock()
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

func (j *journal) reset() {
	j.mu.Lock()
	j.lines = nil
	j.mu.Unlock()
}

// without returns the lines other than drop.
func without(lines []string, drop ...string) []string {
	return slices.DeleteFunc(lines, func(l string) bool { return slices.Contains(drop, l) })
}

// worker is a test Server that journals its start and stop.
type worker struct {
	actor.ServerBase
	name    string
	j       *journal
	trap    bool  // trap exits and ignore exit signals (to be killed)
	initErr error // Init fails with it
	stopped chan actor.Reason
	inited  bool
}

func (w *worker) Init(p actor.Process) error {
	if w.initErr != nil {
		return w.initErr
	}
	p.TrapExit(w.trap)
	w.inited = true
	if w.j != nil {
		w.j.add("start:" + w.name)
	}
	return nil
}

func (w *worker) HandleCall(p actor.Process, req any) (any, error) {
	switch m := req.(type) {
	case string:
		return "pong:" + m, nil
	case func(actor.Process) (any, error):
		return m(p)
	}
	return nil, actor.ErrUnhandled
}

func (w *worker) HandleCast(p actor.Process, msg any) {
	if f, ok := msg.(func(actor.Process)); ok {
		f(p)
	}
}

func (w *worker) Terminate(_ actor.Process, reason actor.Reason) {
	if w.j != nil && w.inited { // actor calls Terminate after a failed Init too
		w.j.add("stop:" + w.name)
	}
	if w.stopped != nil {
		select {
		case w.stopped <- reason:
		default:
		}
	}
}

// spec is a worker child spec journaling into j.
func spec(name string, j *journal) supervision.ChildSpec {
	return supervision.Worker(name, func() actor.Server { return &worker{name: name, j: j} })
}

func crash(s *actor.System, pid *actor.PID) {
	s.Tell(pid, func(actor.Process) { panic("boom") })
}

func exitNormally(s *actor.System, pid *actor.PID) {
	s.Tell(pid, func(p actor.Process) { p.Stop(actor.Normal) })
}

// children returns id -> pid (nil when not running).
func children(t *testing.T, which func(context.Context) ([]supervision.ChildInfo, error)) map[string]*actor.PID {
	t.Helper()
	cs, err := which(bg())
	if err != nil {
		t.Fatalf("WhichChildren: %v", err)
	}
	out := make(map[string]*actor.PID, len(cs))
	for _, c := range cs {
		out[c.ID] = c.PID
	}
	return out
}

func ids(cs []supervision.ChildInfo) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// events collects the supervision events of sys through a Subscription
// with room for every event a test makes; it fails the test if it dropped
// one.
type events struct {
	sub *supervision.Subscription
	mu  sync.Mutex
	all []supervision.Event
}

func collect(t *testing.T, sys *actor.System) *events {
	t.Helper()
	sub, err := supervision.Subscribe(sys, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sub.Close()
		if n := sub.Dropped(); n > 0 {
			t.Errorf("the test's event subscription dropped %d events", n)
		}
	})
	return &events{sub: sub}
}

// drain moves the events waiting in the subscription to all; e.mu is held.
func (e *events) drain() {
	for {
		select {
		case ev, ok := <-e.sub.C():
			if !ok {
				return
			}
			e.all = append(e.all, ev)
		default:
			return
		}
	}
}

// count counts the events matching f.
func (e *events) count(f func(supervision.Event) bool) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drain()
	n := 0
	for _, ev := range e.all {
		if f(ev) {
			n++
		}
	}
	return n
}

func (e *events) snapshot() []supervision.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drain()
	return slices.Clone(e.all)
}

func terminated(id string) func(supervision.Event) bool {
	return func(ev supervision.Event) bool {
		t, ok := ev.(supervision.ChildTerminated)
		return ok && t.ID == id && !t.BySupervisor
	}
}

func restarted(id string) func(supervision.Event) bool {
	return func(ev supervision.Event) bool {
		r, ok := ev.(supervision.ChildRestarted)
		return ok && r.ID == id
	}
}

func exceeded(ev supervision.Event) bool {
	_, ok := ev.(supervision.IntensityExceeded)
	return ok
}
