package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/actor/actortest"
)

// idler counts idle Timeouts and schedules a message to itself on request.
type idler struct {
	actor.ServerBase
	timeouts chan time.Duration
	ticks    chan any
}

func (i *idler) HandleCall(p actor.Process, req any) (any, error) {
	if d, ok := req.(time.Duration); ok {
		p.SendAfter(d, "tick")
		return true, nil
	}
	return "ok", nil
}

func (i *idler) HandleCast(p actor.Process, msg any) { i.ticks <- msg }

func (i *idler) HandleInfo(p actor.Process, msg any) {
	if t, ok := msg.(actor.Timeout); ok {
		i.timeouts <- t.Idle
	}
}

func TestIdleTimeoutWithInjectedClock(t *testing.T) {
	clk := actortest.NewClock(time.Unix(0, 0))
	s := start(t, actor.WithClock(clk))
	srv := &idler{timeouts: make(chan time.Duration, 4), ticks: make(chan any, 4)}
	pid, err := s.Spawn(srv, actor.WithIdleTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clk.Advance(59 * time.Second)
	// Activity at 59s pushes the deadline to 1m59s.
	if _, err := actor.Call[string](ctx, s, pid, "x"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second) // 1m29s: the first timer fires, finds activity, re-arms
	if _, err := actor.Call[string](ctx, s, pid, "sync"); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-srv.timeouts:
		t.Fatalf("timeout after only %v of idleness", d)
	default:
	}
	// No Timeout before the deadline: wait for the re-armed timer to exist.
	eventually(t, 2*time.Second, func() bool { return clk.Pending() == 1 }, "idle timer re-armed")
	clk.Advance(time.Minute)
	select {
	case d := <-srv.timeouts:
		if d < time.Minute {
			t.Fatalf("Timeout after %v, want >= 1m", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Timeout")
	}
}

func TestSendAfter(t *testing.T) {
	clk := actortest.NewClock(time.Unix(0, 0))
	s := start(t, actor.WithClock(clk))
	srv := &idler{timeouts: make(chan time.Duration, 1), ticks: make(chan any, 1)}
	pid, _ := s.Spawn(srv)
	if _, err := actor.Call[bool](context.Background(), s, pid, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second)
	// A tick fired early would be queued before this call's reply.
	if _, err := actor.Call[string](context.Background(), s, pid, "sync"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.ticks:
		t.Fatal("tick before its time")
	default:
	}
	clk.Advance(time.Second)
	select {
	case m := <-srv.ticks:
		if m != "tick" {
			t.Fatalf("got %v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no tick")
	}
}

type nilReplier struct{ actor.ServerBase }

func (nilReplier) HandleCall(actor.Process, any) (any, error) { return nil, nil }

func TestNilReply(t *testing.T) {
	s := start(t)
	pid, _ := s.Spawn(nilReplier{})
	ctx := context.Background()
	if v, err := actor.Call[*actor.PID](ctx, s, pid, "x"); err != nil || v != nil {
		t.Fatalf("nil reply as pointer: %v %v", v, err)
	}
	if v, err := s.CallAny(ctx, pid, "x"); err != nil || v != nil {
		t.Fatalf("nil reply as any: %v %v", v, err)
	}
	if _, err := actor.Call[int](ctx, s, pid, "x"); !errors.Is(err, actor.ErrBadReply) {
		t.Fatalf("nil reply as int: %v", err)
	}
}

func TestPanicErrorIsRecognisable(t *testing.T) {
	s := start(t)
	r := newRecorder(false)
	pid, _ := s.Spawn(r)
	sentinel := errors.New("sentinel")
	s.Tell(pid, func(actor.Process) { panic(sentinel) })
	reason := r.wait(t)
	var pe *actor.PanicError
	if !errors.As(reason.Err(), &pe) || !errors.Is(reason.Err(), sentinel) {
		t.Fatalf("reason %v is not a PanicError wrapping the panic value", reason)
	}
}
