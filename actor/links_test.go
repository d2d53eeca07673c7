package actor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
)

func crash(s *actor.System, pid *actor.PID, why string) {
	s.Tell(pid, func(actor.Process) { panic(why) })
}

func TestLinkPropagatesAbnormalExit(t *testing.T) {
	s := start(t)
	a, b := newRecorder(false), newRecorder(false)
	pa, _ := s.Spawn(a)
	pb, _ := s.Spawn(b)
	if err := s.Link(pa, pb); err != nil {
		t.Fatal(err)
	}
	crash(s, pa, "boom")
	ra, rb := a.wait(t), b.wait(t)
	if !ra.IsError() {
		t.Fatalf("a exited with %v", ra)
	}
	if !rb.Equal(ra) {
		t.Fatalf("linked b exited with %v, want a's reason %v", rb, ra)
	}
}

func TestNormalExitKillsNobody(t *testing.T) {
	s := start(t)
	a, b := newRecorder(false), newRecorder(false)
	pa, _ := s.Spawn(a)
	pb, _ := s.Spawn(b, actor.WithLink(pa))
	s.Tell(pa, func(p actor.Process) { p.Stop(actor.Normal) })
	if r := a.wait(t); r != actor.Normal {
		t.Fatalf("a: %v", r)
	}
	// b is still alive and answers.
	if got, err := actor.Call[string](context.Background(), s, pb, "alive?"); err != nil || got != "echo:alive?" {
		t.Fatalf("b after a's normal exit: %q %v", got, err)
	}
}

func TestTrapExitTurnsSignalIntoMessage(t *testing.T) {
	s := start(t)
	a, b := newRecorder(false), newRecorder(true)
	pa, _ := s.Spawn(a)
	pb, _ := s.Spawn(b, actor.WithLink(pa))
	crash(s, pa, "boom")
	reason := a.wait(t)
	eventually(t, 2*time.Second, func() bool { return len(b.messages()) == 1 }, "Exit message")
	ex, ok := b.messages()[0].(actor.Exit)
	if !ok || ex.From.Id != pa.Id || !ex.Reason.Equal(reason) {
		t.Fatalf("trapping b got %#v", b.messages()[0])
	}
	if got, err := actor.Call[string](context.Background(), s, pb, "x"); err != nil || got != "echo:x" {
		t.Fatal("trapping process died")
	}
}

func TestKillIsUntrappableAndPropagatesKilled(t *testing.T) {
	s := start(t)
	a, b, c := newRecorder(true), newRecorder(false), newRecorder(true)
	pa, _ := s.Spawn(a)
	if _, err := s.Spawn(b, actor.WithLink(pa)); err != nil {
		t.Fatal(err)
	}
	pc, _ := s.Spawn(c, actor.WithLink(pa))
	if err := s.Kill(pa); err != nil {
		t.Fatal(err)
	}
	if r := a.wait(t); r != actor.Killed {
		t.Fatalf("killed process reason %v", r)
	}
	if r := b.wait(t); r != actor.Killed {
		t.Fatalf("linked non-trapping process reason %v", r)
	}
	eventually(t, 2*time.Second, func() bool { return len(c.messages()) == 1 }, "Exit killed")
	if ex := c.messages()[0].(actor.Exit); ex.Reason != actor.Killed || ex.From.Id != pa.Id {
		t.Fatalf("trapping linked process got %#v", ex)
	}
	_ = pc
	if err := s.Kill(pa); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("Kill of a dead pid: %v", err)
	}
}

func TestExitSignal(t *testing.T) {
	s := start(t)
	a, b := newRecorder(false), newRecorder(true)
	pa, _ := s.Spawn(a)
	pb, _ := s.Spawn(b)
	if err := s.Exit(pa, actor.Normal); err != nil {
		t.Fatal(err)
	}
	if err := s.Exit(pb, actor.Shutdown); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() bool { return len(b.messages()) == 1 }, "trapped Exit")
	if err := s.Exit(pa, actor.Shutdown); err != nil {
		t.Fatal(err)
	}
	if r := a.wait(t); r != actor.Shutdown {
		t.Fatalf("reason %v", r)
	}
}

func TestLinkToDeadProcess(t *testing.T) {
	s := start(t)
	dead, trapper := newRecorder(false), newRecorder(true)
	pd, _ := s.Spawn(dead)
	pt, _ := s.Spawn(trapper)
	s.Tell(pd, func(p actor.Process) { p.Stop(actor.Normal) })
	dead.wait(t) // Terminate has run; the process may still be registered
	if err := s.Wait(context.Background(), pd); err != nil {
		t.Fatal(err)
	}
	if err := s.Link(pt, pd); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("Link to dead: %v", err)
	}
	eventually(t, 2*time.Second, func() bool { return len(trapper.messages()) == 1 }, "Exit noproc")
	if ex := trapper.messages()[0].(actor.Exit); ex.Reason != actor.NoProc {
		t.Fatalf("got %#v", ex)
	}
	if err := s.Link(nil, pt); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("nil: %v", err)
	}
}

// TestSpawnLinkedToDeadProcess: spawning with WithLink to a process that
// has exited fails with ErrNoProcess, for a Server and a plain actor alike;
// nothing is left running (the system stops cleanly).
func TestSpawnLinkedToDeadProcess(t *testing.T) {
	s := start(t)
	dead := newRecorder(false)
	pd, _ := s.Spawn(dead)
	if err := s.Kill(pd); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(context.Background(), pd); err != nil {
		t.Fatal(err)
	}
	if pid, err := s.Spawn(newRecorder(false), actor.WithLink(pd)); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("Server linked to a dead process: %v, %v; want ErrNoProcess", pid, err)
	}
	if pid, err := s.Spawn(func(actor.Context) {}, actor.WithLink(pd)); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("plain actor linked to a dead process: %v, %v; want ErrNoProcess", pid, err)
	}
}

func TestUnlink(t *testing.T) {
	s := start(t)
	a, b := newRecorder(false), newRecorder(false)
	pa, _ := s.Spawn(a)
	pb, _ := s.Spawn(b, actor.WithLink(pa))
	s.Unlink(pb, pa)
	crash(s, pa, "boom")
	a.wait(t)
	if got, err := actor.Call[string](context.Background(), s, pb, "x"); err != nil || got != "echo:x" {
		t.Fatalf("unlinked process died: %v", err)
	}
}

func TestMonitorOneDownWithReason(t *testing.T) {
	s := start(t)
	target, watcher := newRecorder(false), newRecorder(false)
	pt, _ := s.Spawn(target)
	pw, _ := s.Spawn(watcher)
	ref, err := s.Monitor(pw, pt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Monitor(pw, pt); err != nil { // a second, independent monitor
		t.Fatal(err)
	}
	crash(s, pt, "boom")
	reason := target.wait(t)
	eventually(t, 2*time.Second, func() bool { return len(watcher.messages()) == 2 }, "two Downs")
	d := watcher.messages()[0].(actor.Down)
	if d.PID.Id != pt.Id || !d.Reason.Equal(reason) || (d.Ref != ref && watcher.messages()[1].(actor.Down).Ref != ref) {
		t.Fatalf("Down %#v", d)
	}
	// The watcher did not die: monitors are one-way.
	if _, err := actor.Call[string](context.Background(), s, pw, "x"); err != nil {
		t.Fatal(err)
	}
	// Exactly one Down per monitor: none arrived behind the call.
	if n := len(watcher.messages()); n != 2 {
		t.Fatalf("%d messages after the two Downs and a call; want 2", n)
	}
}

func TestMonitorDeadPIDGivesNoProc(t *testing.T) {
	s := start(t)
	target, watcher := newRecorder(false), newRecorder(false)
	pt, _ := s.Spawn(target)
	pw, _ := s.Spawn(watcher)
	s.Tell(pt, func(p actor.Process) { p.Stop(actor.Normal) })
	target.wait(t) // Terminate has run; the process may still be registered
	if err := s.Wait(context.Background(), pt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Monitor(pw, pt); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() bool { return len(watcher.messages()) >= 1 }, "Down")
	// Exactly one: give a later duplicate the chance to arrive behind a call.
	if _, err := actor.Call[string](context.Background(), s, pw, "sync"); err != nil {
		t.Fatal(err)
	}
	msgs := watcher.messages()
	if len(msgs) != 1 || msgs[0].(actor.Down).Reason != actor.NoProc {
		t.Fatalf("got %#v, want one Down noproc", msgs)
	}
}

func TestDemonitor(t *testing.T) {
	s := start(t)
	target, watcher := newRecorder(false), newRecorder(false)
	pt, _ := s.Spawn(target)
	pw, _ := s.Spawn(watcher)
	// Monitor from inside the watcher, then demonitor, then the target dies.
	var ref actor.MonitorRef
	_, err := actor.Call[bool](context.Background(), s, pw, func(p actor.Process) (any, error) {
		var err error
		ref, err = p.Monitor(pt)
		return err == nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Demonitor(ref)
	crash(s, pt, "boom")
	target.wait(t)
	// A Down sent after the target's exit would be queued before this call's reply.
	if _, err := actor.Call[string](context.Background(), s, pw, "sync"); err != nil {
		t.Fatal(err)
	}
	if msgs := watcher.messages(); len(msgs) != 0 {
		t.Fatalf("Down after Demonitor: %#v", msgs)
	}
}

func TestNames(t *testing.T) {
	s := start(t)
	r := newRecorder(false)
	pid, _ := s.Spawn(r)
	if err := s.Register("db", pid); err != nil {
		t.Fatal(err)
	}
	if got := s.Whereis("db"); got == nil || got.Id != pid.Id {
		t.Fatalf("Whereis: %v", got)
	}
	other, _ := s.Spawn(newRecorder(false))
	if err := s.Register("db", other); !errors.Is(err, actor.ErrNameTaken) {
		t.Fatalf("second Register: %v", err)
	}
	if err := s.Register("", other); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
	crash(s, pid, "boom")
	r.wait(t)
	eventually(t, time.Second, func() bool { return s.Whereis("db") == nil }, "name freed on death")
	if err := s.Register("db", other); err != nil {
		t.Fatalf("re-register after death: %v", err)
	}
	if !s.Unregister("db") || s.Whereis("db") != nil || s.Unregister("db") {
		t.Fatal("Unregister")
	}
	if err := s.Register("late", pid); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("Register dead pid: %v", err)
	}
}

func TestGroups(t *testing.T) {
	s := start(t)
	a, b := newRecorder(false), newRecorder(false)
	pa, _ := s.Spawn(a)
	pb, _ := s.Spawn(b)
	for _, p := range []*actor.PID{pa, pb, pa} {
		if err := s.Join("workers", p); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.Members("workers")); n != 2 {
		t.Fatalf("members %d, want 2 (joining twice is once)", n)
	}
	s.Leave("workers", pb)
	if m := s.Members("workers"); len(m) != 1 || m[0].Id != pa.Id {
		t.Fatalf("after Leave: %v", m)
	}
	s.Join("workers", pb)
	crash(s, pa, "boom")
	a.wait(t)
	eventually(t, time.Second, func() bool { m := s.Members("workers"); return len(m) == 1 && m[0].Id == pb.Id }, "dead member left")
	if len(s.Members("nobody")) != 0 {
		t.Fatal("unknown group has members")
	}
}

func TestTerminateRunsBeforeLinksFire(t *testing.T) {
	// A crash (Terminate right after the crashing handler) and a Kill
	// (Terminate when the engine stops the process).
	for name, end := range map[string]func(s *actor.System, pid *actor.PID){
		"crash": func(s *actor.System, pid *actor.PID) { crash(s, pid, "boom") },
		"kill":  func(s *actor.System, pid *actor.PID) { _ = s.Kill(pid) },
	} {
		t.Run(name, func(t *testing.T) { terminateBeforeLinks(t, end) })
	}
}

func terminateBeforeLinks(t *testing.T, end func(*actor.System, *actor.PID)) {
	s := start(t)
	order := make(chan string, 2)
	release := make(chan struct{})
	w := &orderWatcher{order: order}
	pw, _ := s.Spawn(w, actor.WithTrapExit())
	pt, _ := s.Spawn(&orderTarget{order: order, release: release}, actor.WithLink(pw))
	end(s, pt)
	select {
	case o := <-order:
		if o != "terminate" {
			t.Fatalf("%s before Terminate started", o)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Terminate never ran")
	}
	// Terminate is running. Had the exit signal gone out first, it would be
	// in the watcher's mailbox ahead of this call.
	if _, err := actor.Call[string](context.Background(), s, pw, "sync"); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-order:
		t.Fatalf("%s while Terminate was still running", o)
	default:
	}
	close(release)
	select {
	case o := <-order:
		if o != "exit" {
			t.Fatalf("got %s, want exit", o)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit signal after Terminate")
	}
}

type orderTarget struct {
	actor.ServerBase
	order   chan string
	release chan struct{}
}

func (o *orderTarget) HandleCast(p actor.Process, m any) {
	if f, ok := m.(func(actor.Process)); ok {
		f(p)
	}
}

func (o *orderTarget) Terminate(actor.Process, actor.Reason) {
	o.order <- "terminate"
	<-o.release // a cleanup still running: the link must wait for it
}

type orderWatcher struct {
	actor.ServerBase
	order chan string
}

func (o *orderWatcher) HandleCall(_ actor.Process, req any) (any, error) { return "ok", nil }

func (o *orderWatcher) HandleInfo(_ actor.Process, m any) {
	if _, ok := m.(actor.Exit); ok {
		o.order <- "exit"
	}
}

func TestNoTerminateAfterFailedInit(t *testing.T) {
	s := start(t)
	f := &failingInitTerm{term: make(chan struct{}, 1)}
	if _, err := s.Spawn(f); err == nil {
		t.Fatal("Spawn succeeded")
	}
	// The process is gone; Terminate must not have run.
	select {
	case <-f.term:
		t.Fatal("Terminate ran after Init failed")
	default:
	}
}

type failingInitTerm struct {
	actor.ServerBase
	term chan struct{}
}

func (f *failingInitTerm) Init(actor.Process) error { return errors.New("no") }

func (f *failingInitTerm) Terminate(actor.Process, actor.Reason) { f.term <- struct{}{} }

func TestExitFromAndWait(t *testing.T) {
	s := start(t)
	boss, _ := s.Spawn(newRecorder(false))
	child := newRecorder(true)
	pc, _ := s.Spawn(child)
	if err := s.ExitFrom(boss, pc, actor.Shutdown); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() bool { return len(child.messages()) == 1 }, "Exit")
	if ex := child.messages()[0].(actor.Exit); ex.From.Id != boss.Id {
		t.Fatalf("Exit.From %v, want the sender", ex.From)
	}
	// Wait returns when the process exits, and at once for a dead one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx, pc) }()
	s.Tell(pc, func(p actor.Process) { p.Stop(actor.Normal) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(ctx, pc); err != nil {
		t.Fatalf("Wait on a dead pid: %v", err)
	}
	short, c2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer c2()
	if err := s.Wait(short, boss); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a live pid: %v", err)
	}
}

func TestPlainActorPanicExitsWithError(t *testing.T) {
	s := start(t)
	watcher := newRecorder(false)
	pw, _ := s.Spawn(watcher)
	top, _ := s.Spawn(func(c actor.Context) {
		if m, ok := c.Message().(string); ok && m == "boom" {
			panic("plain boom")
		}
	})
	// A plain child of a Server: its parent process supervises it.
	var child *actor.PID
	parent, _ := s.Spawn(newRecorder(false))
	if _, err := actor.Call[bool](context.Background(), s, parent, func(p actor.Process) (any, error) {
		var err error
		child, err = p.Spawn(func(c actor.Context) {
			if _, ok := c.Message().(string); ok {
				panic("child boom")
			}
		})
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []*actor.PID{top, child} {
		if _, err := s.Monitor(pw, target); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	if _, err := actor.Call[string](ctx, s, top, "boom"); !errors.Is(err, actor.ErrNoProcess) || time.Since(t0) > time.Second {
		t.Fatalf("call to a crashing plain actor: %v after %v", err, time.Since(t0))
	}
	s.Tell(child, "boom")
	eventually(t, 3*time.Second, func() bool { return len(watcher.messages()) == 2 }, "two Downs")
	for _, m := range watcher.messages() {
		var pe *actor.PanicError
		if d := m.(actor.Down); !errors.As(d.Reason.Err(), &pe) {
			t.Fatalf("Down reason %v, want a PanicError", d.Reason)
		}
	}
	// The parent survives its child's crash.
	if _, err := actor.Call[string](ctx, s, parent, "alive"); err != nil {
		t.Fatal(err)
	}
}

// nameWatcher records, when it hears of a death (an exit signal or a
// Down), whether the dead process's name and group were already free.
type nameWatcher struct {
	actor.ServerBase
	s    *actor.System
	seen chan string
}

func (w *nameWatcher) Init(p actor.Process) error {
	p.TrapExit(true)
	return nil
}

func (w *nameWatcher) HandleInfo(p actor.Process, msg any) {
	free := w.s.Whereis("svc") == nil && len(w.s.Members("grp")) == 0
	switch msg.(type) {
	case actor.Exit:
		w.seen <- fmt.Sprintf("exit free=%v", free)
	case actor.Down:
		w.seen <- fmt.Sprintf("down free=%v", free)
	}
}

// TestNameFreeBeforeSignals: as in OTP, a dead process's names and groups
// are free by the time a linked process gets its exit signal or a monitor
// its Down, so a supervisor can restart a named child at once.
func TestNameFreeBeforeSignals(t *testing.T) {
	s := start(t)
	// The window is a few microseconds wide: many rounds.
	for i := range 200 {
		r := newRecorder(false)
		pid, _ := s.Spawn(r)
		if err := s.Register("svc", pid); err != nil {
			t.Fatal(err)
		}
		if err := s.Join("grp", pid); err != nil {
			t.Fatal(err)
		}
		w := &nameWatcher{s: s, seen: make(chan string, 2)}
		wpid, err := s.Spawn(w, actor.WithLink(pid))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Monitor(wpid, pid); err != nil {
			t.Fatal(err)
		}
		crash(s, pid, "boom")
		got := map[string]bool{}
		for range 2 {
			select {
			case m := <-w.seen:
				got[m] = true
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: the watcher heard %v", i, got)
			}
		}
		if !got["exit free=true"] || !got["down free=true"] {
			t.Fatalf("round %d: %v, want the name and group free at both signals", i, got)
		}
		r.wait(t)
		_ = s.Kill(wpid)
	}
}
