package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/internal/protos"
)

// A registered name is reachable from another member through NamePID, with
// headers; it follows the name to a new holder, and a free name is
// ErrNoProcess for a Call.
func TestNamePIDAcrossMembers(t *testing.T) {
	a := start(t, actor.WithRemote("127.0.0.1:0"))
	b := start(t, actor.WithRemote("127.0.0.1:0"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	route, err := actor.NamePID(b.Address(), "echo")
	if err != nil {
		t.Fatal(err)
	}
	// Not registered yet: the call fails at once rather than timing out.
	if _, err := actor.Call[*protos.Pong](ctx, a, route, &protos.Ping{Text: "x"}); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("call to a free name: %v, want ErrNoProcess", err)
	}

	first, _ := b.Spawn(headerEcho{})
	if err := b.Register("echo", first); err != nil {
		t.Fatal(err)
	}
	hctx := actor.WithHeaders(ctx, actor.Headers{"request-id": "n-1"})
	pong, err := actor.Call[*protos.Pong](hctx, a, route, &protos.Ping{Text: "by name"})
	if err != nil {
		t.Fatal(err)
	}
	if pong.Text != "by name" || pong.Headers["request-id"] != "n-1" {
		t.Fatalf("reply %v", pong)
	}

	// The holder dies: the name is free again, then a new holder takes it.
	if err := b.Kill(first); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return b.Whereis("echo") == nil }, "name freed")
	if _, err := actor.Call[*protos.Pong](ctx, a, route, &protos.Ping{Text: "x"}); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("call after the holder died: %v, want ErrNoProcess", err)
	}
	second, _ := b.Spawn(headerEcho{})
	if err := b.Register("echo", second); err != nil {
		t.Fatal(err)
	}
	if _, err := actor.Call[*protos.Pong](ctx, a, route, &protos.Ping{Text: "again"}); err != nil {
		t.Fatal(err)
	}
	// Locally the route works too, and Unregister frees it.
	local, _ := actor.NamePID(b.Address(), "echo")
	if _, err := actor.Call[*protos.Pong](ctx, b, local, &protos.Ping{Text: "local"}); err != nil {
		t.Fatal(err)
	}
	b.Unregister("echo")
	if _, err := actor.Call[*protos.Pong](ctx, a, route, &protos.Ping{Text: "x"}); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("call after Unregister: %v, want ErrNoProcess", err)
	}
}

// Tells through a name keep their order.
func TestNamePIDKeepsOrder(t *testing.T) {
	a := start(t, actor.WithRemote("127.0.0.1:0"))
	b := start(t, actor.WithRemote("127.0.0.1:0"))
	got := make(chan string, 100)
	pid, _ := b.Spawn(func(c actor.Context) {
		if p, ok := c.Message().(*protos.Ping); ok {
			got <- p.Text
		}
	})
	if err := b.Register("sink", pid); err != nil {
		t.Fatal(err)
	}
	route, _ := actor.NamePID(b.Address(), "sink")
	const n = 100
	for i := range n {
		if err := a.Send(context.Background(), route, &protos.Ping{Text: string(rune('A' + i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case s := <-got:
			if want := string(rune('A' + i%26)); s != want {
				t.Fatalf("message %d: %q, want %q", i, s, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d delivered", i, n)
		}
	}
}

func TestNamePIDAndSendBadInput(t *testing.T) {
	a := start(t, actor.WithRemote("127.0.0.1:0"))
	b := start(t, actor.WithRemote("127.0.0.1:0"))
	for _, c := range []struct{ addr, name string }{{"", "x"}, {b.Address(), ""}, {b.Address(), "a/b"}} {
		if _, err := actor.NamePID(c.addr, c.name); !errors.Is(err, actor.ErrInvalid) {
			t.Errorf("NamePID(%q, %q): %v, want ErrInvalid", c.addr, c.name, err)
		}
	}
	pid, _ := b.Spawn(headerEcho{})
	ctx := context.Background()
	// A message remoting cannot carry is refused at once, by Send and Call.
	if err := a.Send(ctx, pid, struct{ X int }{1}); !errors.Is(err, actor.ErrNotSerializable) {
		t.Fatalf("Send of a struct to another member: %v, want ErrNotSerializable", err)
	}
	if _, err := actor.Call[any](ctx, a, pid, "text"); !errors.Is(err, actor.ErrNotSerializable) {
		t.Fatalf("Call with a string to another member: %v, want ErrNotSerializable", err)
	}
	if err := a.Send(ctx, nil, &protos.Ping{}); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("Send to nil: %v", err)
	}
	if err := a.Send(ctx, pid, nil); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("Send of nil: %v", err)
	}
	// Locally anything goes.
	local, _ := a.Spawn(func(actor.Context) {})
	if err := a.Send(ctx, local, struct{ X int }{1}); err != nil {
		t.Fatal(err)
	}
}
