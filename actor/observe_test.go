package actor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
)

// obsRecorder is an Observer that adds a header to every send and records
// what it saw.
type obsRecorder struct {
	mu       sync.Mutex
	sends    []bool // call or tell
	replied  []error
	received []string // kinds
	headers  []actor.Headers
}

func (o *obsRecorder) Send(_ context.Context, _ *actor.PID, _ any, call bool, h actor.Headers) (actor.Headers, any) {
	o.mu.Lock()
	o.sends = append(o.sends, call)
	o.mu.Unlock()
	out := actor.Headers{"x-observed": "1"}
	for k, v := range h {
		out[k] = v
	}
	return out, "token"
}

func (o *obsRecorder) Replied(tok any, _ *actor.PID, _ any, err error) {
	if tok != "token" {
		panic("token lost")
	}
	o.mu.Lock()
	o.replied = append(o.replied, err)
	o.mu.Unlock()
}

type spanKey struct{}

func (o *obsRecorder) Receive(_ *actor.PID, kind string, _ any, _ any, h actor.Headers) (context.Context, any) {
	o.mu.Lock()
	o.received = append(o.received, kind)
	o.headers = append(o.headers, h)
	o.mu.Unlock()
	return context.WithValue(actor.WithHeaders(context.Background(), h), spanKey{}, "span"), nil
}

func (o *obsRecorder) Received(any) {}

// ctxServer answers a call with what ContextOf shows.
type ctxServer struct{ actor.ServerBase }

func (ctxServer) ActorKind() string { return "ctx-server" }

func (ctxServer) HandleCall(p actor.Process, _ any) (any, error) {
	ctx := actor.ContextOf(p)
	span, _ := ctx.Value(spanKey{}).(string)
	return actor.HeadersFrom(ctx)["user"] + "|" + actor.HeadersFrom(ctx)["x-observed"] + "|" + span, nil
}

func TestObserverSeesCallsAndHandlerContext(t *testing.T) {
	o := &obsRecorder{}
	s := start(t, actor.WithObserver(o))
	pid, err := s.Spawn(ctxServer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := actor.WithHeaders(context.Background(), actor.Headers{"user": "ada"})
	got, err := actor.Call[string](ctx, s, pid, "q")
	if err != nil {
		t.Fatal(err)
	}
	if got != "ada|1|span" {
		t.Fatalf("handler saw %q, want ada|1|span", got)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sends) != 1 || !o.sends[0] || len(o.replied) != 1 || o.replied[0] != nil {
		t.Fatalf("sends %v replied %v", o.sends, o.replied)
	}
	if len(o.received) != 1 || o.received[0] != "ctx-server" {
		t.Fatalf("received kinds %v", o.received)
	}
}

func TestContextOfWithoutObserver(t *testing.T) {
	s := start(t)
	pid, err := s.Spawn(ctxServer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := actor.WithHeaders(context.Background(), actor.Headers{"user": "bob"})
	got, err := actor.Call[string](ctx, s, pid, "q")
	if err != nil || got != "bob||" {
		t.Fatalf("got %q, %v; want bob||", got, err)
	}
	// No headers: ContextOf is Background.
	got, err = actor.Call[string](context.Background(), s, pid, "q")
	if err != nil || got != "||" {
		t.Fatalf("got %q, %v; want ||", got, err)
	}
}

func TestSendCarriesHeaders(t *testing.T) {
	o := &obsRecorder{}
	s := start(t, actor.WithObserver(o))
	got := make(chan string, 1)
	pid, err := s.Spawn(func(c actor.Context) {
		if _, ok := c.Message().(string); ok {
			got <- actor.HeadersFrom(actor.ContextOf(actor.ProcessOf(c)))["user"]
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := actor.WithHeaders(context.Background(), actor.Headers{"user": "cy"})
	if err := s.Send(ctx, pid, "hello"); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "cy" {
			t.Fatalf("handler saw user %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	if err := s.Send(ctx, nil, "x"); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("nil pid: %v", err)
	}
}

func TestHeadersTooLarge(t *testing.T) {
	s := start(t)
	pid, err := s.Spawn(ctxServer{})
	if err != nil {
		t.Fatal(err)
	}
	big := actor.Headers{"blob": strings.Repeat("x", actor.MaxHeaderBytes)}
	ctx := actor.WithHeaders(context.Background(), big)
	if _, err := actor.Call[string](ctx, s, pid, "q"); !errors.Is(err, actor.ErrHeadersTooLarge) {
		t.Fatalf("Call: %v, want ErrHeadersTooLarge", err)
	}
	if err := s.Send(ctx, pid, "q"); !errors.Is(err, actor.ErrHeadersTooLarge) {
		t.Fatalf("Send: %v, want ErrHeadersTooLarge", err)
	}
	// The system still works, and a call just within the bound goes.
	ok := actor.Headers{"blob": strings.Repeat("x", actor.MaxHeaderBytes-len("blob"))}
	if _, err := actor.Call[string](actor.WithHeaders(context.Background(), ok), s, pid, "q"); err != nil {
		t.Fatal(err)
	}
}

func TestKindsAndProcesses(t *testing.T) {
	s := start(t, actor.WithObserver(&obsRecorder{}))
	parent, err := s.Spawn(ctxServer{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := actor.Call[string](context.Background(), s, parent, "q"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Register("named", parent); err != nil {
		t.Fatal(err)
	}
	var ks actor.KindStats
	for _, k := range s.Kinds() {
		if k.Kind == "ctx-server" {
			ks = k
		}
	}
	if ks.Messages < 10 || ks.Calls != 10 || ks.Processes != 1 {
		t.Fatalf("kind stats %+v, want >= 10 messages, 10 calls, 1 process", ks)
	}
	var found bool
	for _, p := range s.Processes() {
		if p.PID.Id == parent.Id {
			found = true
			if p.Kind != "ctx-server" || len(p.Names) != 1 || p.Names[0] != "named" || p.Parent != "" {
				t.Fatalf("process info %+v", p)
			}
		}
	}
	if !found {
		t.Fatal("Processes does not list the server")
	}
	if actor.KindOf(ctxServer{}) != "ctx-server" || actor.KindOf(&recorder{}) != "*actor_test.recorder" {
		t.Fatal("KindOf")
	}
}

// errObserver is an ErrorObserver: it records how each observed handler
// ended, "ok" or its error.
type errObserver struct {
	obsRecorder
	ended chan string
}

func (o *errObserver) Receive(self *actor.PID, kind string, b any, msg any, h actor.Headers) (context.Context, any) {
	ctx, _ := o.obsRecorder.Receive(self, kind, b, msg, h)
	return ctx, "receive-token"
}

func (o *errObserver) Received(tok any) { o.ended <- fmt.Sprintf("%v ok", tok) }

func (o *errObserver) ReceivedError(tok any, err error) { o.ended <- fmt.Sprintf("%v %v", tok, err) }

// failingServer answers "fail" with an error, panics on "crash", and
// answers anything else.
type failingServer struct{ actor.ServerBase }

func (failingServer) HandleCall(_ actor.Process, req any) (any, error) {
	switch req {
	case "fail":
		return nil, errors.New("no such order")
	case "crash":
		panic("boom")
	}
	return "done", nil
}

// An ErrorObserver learns the error a handler answered a call with, and a
// crash; a handler that succeeded ends with Received.
func TestErrorObserverSeesHandlerErrors(t *testing.T) {
	o := &errObserver{ended: make(chan string, 8)}
	s := start(t, actor.WithObserver(o))
	pid, err := s.Spawn(failingServer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := actor.WithHeaders(context.Background(), actor.Headers{"user": "ada"})
	next := func() string {
		select {
		case v := <-o.ended:
			return v
		case <-time.After(5 * time.Second):
			t.Fatal("the observer saw no end of the handler")
			return ""
		}
	}
	if _, err := actor.Call[string](ctx, s, pid, "ok"); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "receive-token ok" {
		t.Fatalf("after a reply: %q, want receive-token ok", got)
	}
	if _, err := actor.Call[string](ctx, s, pid, "fail"); err == nil || !strings.Contains(err.Error(), "no such order") {
		t.Fatalf("Call fail: %v", err)
	}
	if got := next(); got != "receive-token no such order" {
		t.Fatalf("after an error: %q, want receive-token no such order", got)
	}
	// The next handler that succeeds ends with Received again.
	if _, err := actor.Call[string](ctx, s, pid, "ok"); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "receive-token ok" {
		t.Fatalf("after a reply following an error: %q", got)
	}
	if _, err := actor.Call[string](ctx, s, pid, "crash"); err == nil {
		t.Fatal("Call crash: no error")
	}
	if got := next(); !strings.HasPrefix(got, "receive-token ") || !strings.Contains(got, "boom") {
		t.Fatalf("after a crash: %q, want the panic", got)
	}
}
