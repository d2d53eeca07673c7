package actor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
)

func TestStartStopIdempotent(t *testing.T) {
	s, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Spawn(newRecorder(false)); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Spawn before Start: got %v, want ErrStopped", err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := newRecorder(false)
	pid, err := s.Spawn(r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.wait(t); got != actor.Shutdown {
		t.Fatalf("reason on Stop: %v, want shutdown", got)
	}
	if err := s.Start(ctx); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Start after Stop: %v", err)
	}
	if _, err := s.Spawn(newRecorder(false)); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Spawn after Stop: %v", err)
	}
	if _, err := actor.Call[string](ctx, s, pid, "x"); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Call after Stop: %v, want ErrStopped", err)
	}
	if _, err := s.Monitor(pid, pid); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Monitor after Stop: %v, want ErrStopped", err)
	}
	s.Tell(pid, "x") // dropped, no panic
}

func TestStopStopsChildrenBeforeParents(t *testing.T) {
	s := start(t)
	order := make(chan string, 10)
	var mk func(name string, depth int) actor.Server
	mk = func(name string, depth int) actor.Server {
		return &treeNode{name: name, depth: depth, order: order, mk: mk}
	}
	if _, err := s.Spawn(mk("root", 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(order)
	var got []string
	for n := range order {
		got = append(got, n)
	}
	if len(got) != 3 || got[0] != "root/c/c" || got[1] != "root/c" || got[2] != "root" {
		t.Fatalf("termination order %v, want deepest first", got)
	}
}

type treeNode struct {
	actor.ServerBase
	name  string
	depth int
	order chan string
	mk    func(string, int) actor.Server
}

func (n *treeNode) Init(p actor.Process) error {
	if n.depth > 0 {
		_, err := p.Spawn(n.mk(n.name+"/c", n.depth-1))
		return err
	}
	return nil
}

func (n *treeNode) Terminate(actor.Process, actor.Reason) { n.order <- n.name }

func TestCallCastAndErrors(t *testing.T) {
	s := start(t)
	r := newRecorder(false)
	pid, err := s.Spawn(r)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := actor.Call[string](ctx, s, pid, "hi")
	if err != nil || got != "echo:hi" {
		t.Fatalf("Call: %q %v", got, err)
	}
	if _, err := actor.Call[int](ctx, s, pid, "hi"); !errors.Is(err, actor.ErrBadReply) {
		t.Fatalf("wrong reply type: %v, want ErrBadReply", err)
	}
	if _, err := actor.Call[string](ctx, s, pid, 42); !errors.Is(err, actor.ErrUnhandled) {
		t.Fatalf("unhandled: %v", err)
	}
	boom := errors.New("boom")
	_, err = actor.Call[string](ctx, s, pid, func(actor.Process) (any, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("handler error not returned as is: %v", err)
	}
	if _, err := actor.Call[string](ctx, s, nil, "x"); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("nil pid: %v", err)
	}
	s.Tell(pid, "cast")
	eventually(t, time.Second, func() bool { return len(r.messages()) == 1 }, "cast delivered")
}

func TestCallDeadPIDIsPrompt(t *testing.T) {
	s := start(t)
	r := newRecorder(false)
	pid, _ := s.Spawn(r)
	s.Tell(pid, func(p actor.Process) { p.Stop(actor.Normal) })
	r.wait(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err := actor.Call[string](ctx, s, pid, "hi")
	if !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("got %v, want ErrNoProcess", err)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Fatalf("ErrNoProcess took %v", d)
	}
	// A never-existing pid too.
	_, err = actor.Call[string](ctx, s, s.ProtoActor().NewLocalPID("nobody"), "hi")
	if !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("unknown pid: %v", err)
	}
}

func TestCallTimeoutAndCancel(t *testing.T) {
	s := start(t)
	r := newRecorder(false)
	pid, _ := s.Spawn(r)
	hold := func(actor.Process) (any, error) { return actor.NoReply, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := actor.Call[string](ctx, s, pid, hold)
	d := time.Since(t0)
	if !errors.Is(err, actor.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if d > 100*time.Millisecond {
		t.Fatalf("timeout after %v, want <= 2x the 50ms deadline", d)
	}
	// Canceled while the server holds the call: the handler itself cancels.
	cctx, ccancel := context.WithCancel(context.Background())
	holdAndCancel := func(actor.Process) (any, error) { ccancel(); return actor.NoReply, nil }
	if _, err := actor.Call[string](cctx, s, pid, holdAndCancel); !errors.Is(err, actor.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want ErrCanceled", err)
	}
	// The slot is reused: a late reply to an abandoned call must not leak
	// into the next one.
	got, err := actor.Call[string](context.Background(), s, pid, "next")
	if err != nil || got != "echo:next" {
		t.Fatalf("after timeouts: %q %v", got, err)
	}
}

// deferred replies to the call it holds when a later cast arrives.
type deferred struct {
	actor.ServerBase
	held []actor.ReplyTo
}

func (d *deferred) HandleCall(p actor.Process, req any) (any, error) {
	if _, ok := req.(countHeld); ok {
		return len(d.held), nil
	}
	d.held = append(d.held, p.ReplyTo())
	return actor.NoReply, nil
}

func (d *deferred) HandleCast(p actor.Process, msg any) {
	if _, ok := msg.(stopNow); ok {
		p.Stop(actor.Normal)
		return
	}
	for i, to := range d.held {
		p.Reply(to, fmt.Sprintf("%v-%d", msg, i))
		p.Reply(to, "duplicate reply is dropped")
	}
	d.held = nil
}

func TestDeferredReply(t *testing.T) {
	s := start(t)
	pid, _ := s.Spawn(&deferred{})
	res := make(chan string, 2)
	for i := 0; i < 2; i++ {
		go func() {
			v, err := actor.Call[string](context.Background(), s, pid, "q")
			if err != nil {
				v = err.Error()
			}
			res <- v
		}()
	}
	// Wait until both calls are held, then release them with a cast.
	eventually(t, 2*time.Second, func() bool {
		n, _ := actor.Call[int](context.Background(), s, pid, countHeld{})
		return n == 2
	}, "two calls held")
	s.Tell(pid, "go")
	a, b := <-res, <-res
	if !((a == "go-0" && b == "go-1") || (a == "go-1" && b == "go-0")) {
		t.Fatalf("deferred replies: %q %q", a, b)
	}
}

type countHeld struct{}

func TestInitFailureReturnedBySpawn(t *testing.T) {
	s := start(t)
	boom := errors.New("no database")
	_, err := s.Spawn(&failingInit{err: boom})
	if !errors.Is(err, actor.ErrInitFailed) || !errors.Is(err, boom) {
		t.Fatalf("got %v, want ErrInitFailed wrapping the cause", err)
	}
	_, err = s.Spawn(&failingInit{panicV: "kaboom"})
	if !errors.Is(err, actor.ErrInitFailed) {
		t.Fatalf("panicking Init: %v", err)
	}
}

type failingInit struct {
	actor.ServerBase
	err    error
	panicV any
}

func (f *failingInit) Init(actor.Process) error {
	if f.panicV != nil {
		panic(f.panicV)
	}
	return f.err
}

func TestBadSpawnArguments(t *testing.T) {
	s := start(t)
	if _, err := s.Spawn(nil); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("nil behaviour: %v", err)
	}
	if _, err := s.Spawn(42); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("int behaviour: %v", err)
	}
	if _, err := s.SpawnNamed("", newRecorder(false)); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
	if _, err := s.Spawn(newRecorder(false), actor.WithIdleTimeout(-1)); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("negative idle timeout: %v", err)
	}
	if _, err := s.SpawnNamed("one", newRecorder(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SpawnNamed("one", newRecorder(false)); !errors.Is(err, actor.ErrNameTaken) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := actor.NewSystem(actor.WithRemote("nohost")); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("bad remote address: %v", err)
	}
	if _, err := actor.NewSystem(actor.WithRemote(":0")); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("remote address without host: %v", err)
	}
}

func TestPlainActorAndFunc(t *testing.T) {
	s := start(t)
	pid, err := s.Spawn(func(c actor.Context) {
		if m, ok := c.Message().(string); ok {
			c.Respond("func:" + m)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := actor.Call[string](context.Background(), s, pid, "x")
	if err != nil || got != "func:x" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestPanicExitsWithErrorReasonAndFailsTheCall(t *testing.T) {
	s := start(t)
	r := newRecorder(false)
	pid, _ := s.Spawn(r)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err := actor.Call[string](ctx, s, pid, func(actor.Process) (any, error) { panic("bad state") })
	if !errors.Is(err, actor.ErrNoProcess) || time.Since(t0) > time.Second {
		t.Fatalf("call to a crashing process: %v after %v", err, time.Since(t0))
	}
	reason := r.wait(t)
	if !reason.IsError() || reason.Err().Error() != "panic: bad state" {
		t.Fatalf("reason %v", reason)
	}
}

func TestQueuedCallsFailPromptlyWhenServerStops(t *testing.T) {
	s := start(t)
	d := &deferred{}
	pid, _ := s.Spawn(d)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// One held (deferred) call, then a stop request, then more calls queued
	// behind it: all callers learn at once that the process is gone.
	errs := make(chan error, 4)
	go func() { _, err := actor.Call[string](ctx, s, pid, "held"); errs <- err }()
	eventually(t, 2*time.Second, func() bool {
		n, _ := actor.Call[int](ctx, s, pid, countHeld{})
		return n == 1
	}, "call held")
	s.Tell(pid, stopNow{})
	for i := 0; i < 3; i++ {
		go func() { _, err := actor.Call[string](ctx, s, pid, "queued"); errs <- err }()
	}
	t0 := time.Now()
	for i := 0; i < 4; i++ {
		if err := <-errs; !errors.Is(err, actor.ErrNoProcess) {
			t.Fatalf("caller %d: %v, want ErrNoProcess", i, err)
		}
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("callers waited %v", d)
	}
}

type stopNow struct{}

func TestStopHonoursItsContext(t *testing.T) {
	s, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	r := newRecorder(false)
	pid, _ := s.Spawn(r)
	s.Tell(pid, func(actor.Process) { <-release }) // a handler stuck until released
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err = s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > time.Second {
		t.Fatalf("Stop with a stuck handler: %v after %v", err, time.Since(t0))
	}
	// A second Stop returns the first one's result.
	short, c2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer c2()
	if err := s.Stop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Stop: %v", err)
	}
	close(release)
	r.wait(t)
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("system never finished stopping")
	}
}
