package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/internal/protos"
)

// headerEcho answers a Ping with a Pong carrying the headers it saw.
type headerEcho struct{ actor.ServerBase }

func (headerEcho) HandleCall(p actor.Process, req any) (any, error) {
	ping, ok := req.(*protos.Ping)
	if !ok {
		return nil, actor.ErrUnhandled
	}
	if ping.Text == "fail" {
		return nil, errors.New("refused by handler")
	}
	return &protos.Pong{Text: ping.Text, Headers: map[string]string{"request-id": p.Header("request-id")}}, nil
}

func TestHeadersLocal(t *testing.T) {
	s := start(t)
	pid, _ := s.Spawn(headerEcho{})
	ctx := actor.WithHeaders(context.Background(), actor.Headers{"request-id": "r-1"})
	pong, err := actor.Call[*protos.Pong](ctx, s, pid, &protos.Ping{Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if pong.Headers["request-id"] != "r-1" {
		t.Fatalf("header not delivered: %v", pong.Headers)
	}
	// Tell with headers reaches HandleCast's Process.Header.
	got := make(chan string, 1)
	cast, _ := s.Spawn(&castHeader{got: got})
	s.TellWithHeaders(cast, "x", actor.Headers{"request-id": "r-2"})
	select {
	case v := <-got:
		if v != "r-2" {
			t.Fatalf("cast header %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cast not delivered")
	}
}

type castHeader struct {
	actor.ServerBase
	got chan string
}

func (c *castHeader) HandleCast(p actor.Process, _ any) { c.got <- p.Header("request-id") }

func TestRemoteCallAndHeaders(t *testing.T) {
	a := start(t, actor.WithRemote("127.0.0.1:0"))
	b := start(t, actor.WithRemote("127.0.0.1:0"))
	if a.Address() == b.Address() || a.Address() == "nonhost" {
		t.Fatalf("addresses %q %q", a.Address(), b.Address())
	}
	pid, err := b.Spawn(headerEcho{})
	if err != nil {
		t.Fatal(err)
	}
	if pid.Address != b.Address() {
		t.Fatalf("pid address %q, want %q", pid.Address, b.Address())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = actor.WithHeaders(ctx, actor.Headers{"request-id": "remote-7"})
	pong, err := actor.Call[*protos.Pong](ctx, a, pid, &protos.Ping{Text: "over the wire"})
	if err != nil {
		t.Fatal(err)
	}
	if pong.Text != "over the wire" || pong.Headers["request-id"] != "remote-7" {
		t.Fatalf("remote reply %v", pong)
	}
	// A handler error crosses as ErrRemote with its text.
	_, err = actor.Call[*protos.Pong](ctx, a, pid, &protos.Ping{Text: "fail"})
	if !errors.Is(err, actor.ErrRemote) || !contains(err.Error(), "refused by handler") {
		t.Fatalf("remote error: %v", err)
	}
	// A nil reply crosses too.
	nilPID, _ := b.Spawn(nilReplier{})
	if v, err := a.CallAny(ctx, nilPID, &protos.Ping{}); err != nil || v != nil {
		t.Fatalf("remote nil reply: %v %v", v, err)
	}
	// A dead remote pid answers ErrNoProcess well before the deadline.
	dead := b.ProtoActor().NewLocalPID("nobody-here")
	t0 := time.Now()
	_, err = actor.Call[*protos.Pong](ctx, a, dead, &protos.Ping{Text: "x"})
	if !errors.Is(err, actor.ErrNoProcess) || time.Since(t0) > 2*time.Second {
		t.Fatalf("dead remote pid: %v after %v", err, time.Since(t0))
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

func TestNoAllocationWithoutHeaders(t *testing.T) {
	s := start(t)
	pid, _ := s.Spawn(func(actor.Context) {})
	msg := &protos.Ping{Text: "x"}
	if n := testing.AllocsPerRun(2000, func() { s.Tell(pid, msg) }); n > 0 {
		t.Fatalf("Tell without headers allocates %.1f times per message", n)
	}
	if n := testing.AllocsPerRun(2000, func() { s.TellWithHeaders(pid, msg, nil) }); n > 0 {
		t.Fatalf("TellWithHeaders(nil) allocates %.1f times per message", n)
	}
	// A Call's cost without headers: its context and the request and reply
	// values (3 allocations, measured when headers were added); headers add
	// their envelope only when present.
	srv, _ := s.Spawn(silent{})
	ctx := context.Background()
	plain := testing.AllocsPerRun(2000, func() { _, _ = actor.Call[int](ctx, s, srv, 1) })
	if plain > 3 {
		t.Fatalf("Call without headers allocates %.1f times per call; want at most 3", plain)
	}
	hctx := actor.WithHeaders(ctx, actor.Headers{"request-id": "r"})
	with := testing.AllocsPerRun(2000, func() { _, _ = actor.Call[int](hctx, s, srv, 1) })
	if with <= plain {
		t.Fatalf("Call with headers allocates %.1f times, without %.1f: the no-header path pays for headers", with, plain)
	}
}

// silent answers every call with 1.
type silent struct{ actor.ServerBase }

func (silent) HandleCall(actor.Process, any) (any, error) { return 1, nil }

// TestRemotePIDIsNotLocal: links, monitors, exit signals, names and groups
// are local to one member. Given a PID of another member each returns
// ErrNotLocal at once, and sets nothing up.
func TestRemotePIDIsNotLocal(t *testing.T) {
	a := start(t, actor.WithRemote("127.0.0.1:0"))
	b := start(t, actor.WithRemote("127.0.0.1:0"))
	far, err := b.Spawn(newRecorder(false))
	if err != nil {
		t.Fatal(err)
	}
	near := newRecorder(true)
	pid, err := a.Spawn(near)
	if err != nil {
		t.Fatal(err)
	}
	// From inside a handler, as a process would: the handler replies with
	// the error, which the Call returns.
	inHandler := func(f func(p actor.Process) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := actor.Call[any](ctx, a, pid, func(p actor.Process) (any, error) {
			if err := f(p); err != nil {
				return nil, err
			}
			return "linked", nil
		})
		return err
	}
	t0 := time.Now()
	for what, err := range map[string]error{
		"Link":            a.Link(pid, far),
		"Link reversed":   a.Link(far, pid),
		"Monitor":         func() error { _, err := a.Monitor(pid, far); return err }(),
		"Exit":            a.Exit(far, actor.Shutdown),
		"ExitFrom":        a.ExitFrom(pid, far, actor.Shutdown),
		"Kill":            a.Kill(far),
		"Register":        a.Register("far", far),
		"Join":            a.Join("g", far),
		"Spawn WithLink":  func() error { _, err := a.Spawn(newRecorder(false), actor.WithLink(far)); return err }(),
		"Process.Link":    inHandler(func(p actor.Process) error { return p.Link(far) }),
		"Process.Monitor": inHandler(func(p actor.Process) error { _, err := p.Monitor(far); return err }),
	} {
		if !errors.Is(err, actor.ErrNotLocal) {
			t.Errorf("%s with a PID of another member = %v, want ErrNotLocal", what, err)
		}
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("refusing took %v; want at once", d)
	}
	if a.Whereis("far") != nil || len(a.Members("g")) != 0 {
		t.Error("a refused Register or Join left a name or a member behind")
	}
	// The remote process was not touched, and nothing reached the local one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, err := actor.Call[string](ctx, b, far, "still"); err != nil || got != "echo:still" {
		t.Fatalf("remote process after refused signals: %q %v", got, err)
	}
	if m := near.messages(); len(m) != 0 {
		t.Fatalf("local process received %v", m)
	}
	// Without remoting a foreign address is not local either.
	c := start(t)
	if err := c.Link(pid, &actor.PID{Address: "10.0.0.1:4000", Id: "x"}); !errors.Is(err, actor.ErrNotLocal) {
		t.Fatalf("Link to a foreign address without remoting = %v, want ErrNotLocal", err)
	}
}
