package router_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/actor"
)

// wait bounds every poll in these tests.
const wait = 10 * time.Second

// start returns a running system stopped at the end of the test; the test
// fails if anything was logged at ERROR.
func start(t *testing.T, opts ...actor.Option) *actor.System {
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
	return s
}

func bg() context.Context { return context.Background() }

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", wait, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// worker is a routee: calls are answered with its name (or with what the
// request says), casts are counted; both wait while its gate is closed.
type worker struct {
	actor.ServerBase
	name  string
	gate  *gate
	casts *atomic.Int64
	calls atomic.Int64
	mute  bool // never answers a call
}

type (
	fail  struct{ err error }       // answer the call with err
	slow  struct{ d time.Duration } // answer after d (real time)
	never struct{}                  // never answer
	crash struct{}                  // panic
	key   string                    // a ConsistentHashable message
)

func (k key) ConsistentHashKey() string { return string(k) }

func (w *worker) HandleCall(p actor.Process, req any) (any, error) {
	w.calls.Add(1)
	w.gate.pass()
	if w.mute {
		return actor.NoReply, nil
	}
	switch m := req.(type) {
	case fail:
		return nil, m.err
	case slow:
		time.Sleep(m.d)
	case never:
		return actor.NoReply, nil
	case crash:
		panic("crash")
	}
	return w.name, nil
}

func (w *worker) HandleCast(p actor.Process, msg any) {
	w.gate.pass()
	if _, ok := msg.(crash); ok {
		panic("crash")
	}
	if w.casts != nil {
		w.casts.Add(1)
	}
}

// gate blocks workers until opened; a nil gate is open.
type gate struct {
	mu   sync.Mutex
	ch   chan struct{}
	open bool
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) pass() {
	if g != nil {
		<-g.ch
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		g.open = true
		close(g.ch)
	}
}

// spawnWorkers starts n named workers sharing g; it returns their PIDs and
// cast counters.
func spawnWorkers(t *testing.T, s *actor.System, n int, g *gate) ([]*actor.PID, []*atomic.Int64) {
	t.Helper()
	pids := make([]*actor.PID, n)
	counts := make([]*atomic.Int64, n)
	for i := range n {
		counts[i] = &atomic.Int64{}
		pid, err := s.Spawn(&worker{name: fmt.Sprintf("w%d", i), gate: g, casts: counts[i]})
		if err != nil {
			t.Fatal(err)
		}
		pids[i] = pid
	}
	if g != nil {
		t.Cleanup(g.release) // so that the system can stop them
	}
	return pids, counts
}

func total(counts []*atomic.Int64) int64 {
	var n int64
	for _, c := range counts {
		n += c.Load()
	}
	return n
}
