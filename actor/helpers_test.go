package actor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/actor"
)

// start returns a running system stopped at the end of the test; the test
// fails if anything logged at ERROR.
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
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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

// recorder is a Server that records every info message and cast it gets.
type recorder struct {
	actor.ServerBase
	trap bool
	mu   sync.Mutex
	got  []any
	term chan actor.Reason
}

func newRecorder(trap bool) *recorder {
	return &recorder{trap: trap, term: make(chan actor.Reason, 1)}
}

func (r *recorder) Init(p actor.Process) error {
	p.TrapExit(r.trap)
	return nil
}

func (r *recorder) HandleCall(p actor.Process, req any) (any, error) {
	switch m := req.(type) {
	case string:
		return "echo:" + m, nil
	case func(actor.Process) (any, error):
		return m(p)
	}
	return nil, actor.ErrUnhandled
}

func (r *recorder) HandleCast(p actor.Process, msg any) {
	if f, ok := msg.(func(actor.Process)); ok {
		f(p)
		return
	}
	r.add(msg)
}

func (r *recorder) HandleInfo(p actor.Process, msg any) { r.add(msg) }

func (r *recorder) Terminate(p actor.Process, reason actor.Reason) { r.term <- reason }

func (r *recorder) add(m any) {
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
}

func (r *recorder) messages() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.got...)
}

func (r *recorder) wait(t *testing.T) actor.Reason {
	t.Helper()
	select {
	case reason := <-r.term:
		return reason
	case <-time.After(5 * time.Second):
		t.Fatal("process did not terminate")
		return actor.Reason{}
	}
}
