package actor_test

import (
	"context"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"

	"github.com/foundation-go/foundation/actor"
)

type hold struct{}

// MailboxLen counts the messages queued behind a blocked handler, including
// the one being handled, for a plain actor, a Server and an engine actor.
func TestMailboxLen(t *testing.T) {
	s := start(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	blocking := func(m any) {
		if _, ok := m.(hold); ok {
			entered <- struct{}{}
			<-release
		}
	}
	plain, err := s.Spawn(func(c actor.Context) { blocking(c.Message()) })
	if err != nil {
		t.Fatal(err)
	}
	server, err := s.Spawn(&castFunc{f: blocking})
	if err != nil {
		t.Fatal(err)
	}
	engine := s.ProtoActor().Root.Spawn(pa.PropsFromFunc(func(c pa.Context) { blocking(c.Message()) }))
	defer s.ProtoActor().Root.Stop(engine)

	for _, tc := range []struct {
		name string
		pid  *actor.PID
		want int // queued behind the blocked handler, the handled one included
	}{
		// Foundation's mailbox counts the batch being handled: hold + 5.
		{"plain", plain, 6},
		{"server", server, 6},
		// The engine's mailbox counts what is still queued: 5.
		{"engine", engine, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, ok := s.MailboxLen(tc.pid); !ok || n != 0 {
				t.Fatalf("idle: MailboxLen = %d, %v; want 0, true", n, ok)
			}
			s.Tell(tc.pid, hold{})
			<-entered
			for i := range 5 {
				s.Tell(tc.pid, i)
			}
			if n, ok := s.MailboxLen(tc.pid); !ok || n != tc.want {
				t.Fatalf("blocked: MailboxLen = %d, %v; want %d, true", n, ok, tc.want)
			}
			release <- struct{}{}
			eventually(t, 5*time.Second, func() bool { n, ok := s.MailboxLen(tc.pid); return ok && n == 0 }, "mailbox drained")
		})
	}
	close(release)
}

// castFunc is a Server that passes every cast to f.
type castFunc struct {
	actor.ServerBase
	f func(any)
}

func (c *castFunc) HandleCast(_ actor.Process, msg any) { c.f(msg) }

// MailboxLen reports false for whatever has no readable local mailbox.
func TestMailboxLenUnknown(t *testing.T) {
	s := start(t)
	dead, err := s.Spawn(func(actor.Context) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(dead); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(context.Background(), dead); err != nil {
		t.Fatal(err)
	}
	for name, pid := range map[string]*actor.PID{
		"nil":     nil,
		"unknown": {Address: "nonhost", Id: "no-such-process"},
		"remote":  {Address: "192.0.2.1:4000", Id: "1"},
		"dead":    dead,
	} {
		if n, ok := s.MailboxLen(pid); ok || n != 0 {
			t.Errorf("%s: MailboxLen = %d, %v; want 0, false", name, n, ok)
		}
	}

	unstarted, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := unstarted.MailboxLen(dead); ok {
		t.Error("MailboxLen on a System not started reports true")
	}
	stopped, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	if err := stopped.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	pid, err := stopped.Spawn(func(actor.Context) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stopped.MailboxLen(pid); !ok {
		t.Fatal("MailboxLen of a live process reports false")
	}
	if err := stopped.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := stopped.MailboxLen(pid); ok {
		t.Error("MailboxLen after Stop reports true")
	}
}
