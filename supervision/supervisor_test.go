package supervision_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/actor/actortest"
	"github.com/foundation-go/foundation/supervision"
)

const wait = 5 * time.Second

// A transient child that exits normally (or with shutdown) is not
// restarted; after an abnormal exit (a crash, a kill) it is.
func TestTransientRestartedOnlyAfterAbnormalExit(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	j := &journal{}
	c := spec("t", j)
	c.Restart = supervision.Transient
	sup, err := supervision.Start(bg(), sys, supervision.Spec{MaxRestarts: 100, Children: []supervision.ChildSpec{c}})
	if err != nil {
		t.Fatal(err)
	}
	notRestarted := func(how func(*actor.PID)) {
		t.Helper()
		pid := children(t, sup.WhichChildren)["t"]
		n := ev.count(terminated("t"))
		how(pid)
		eventually(t, wait, func() bool { return ev.count(terminated("t")) == n+1 }, "t exited")
		// The decision is taken while handling the exit, before this call.
		if got := children(t, sup.WhichChildren)["t"]; got != nil {
			t.Fatalf("transient child restarted after a normal exit as %s", got)
		}
		if n, _ := sup.CountChildren(bg()); n != (supervision.Counts{Specs: 1, Workers: 1}) {
			t.Fatalf("counts %+v, want the spec kept, not running", n)
		}
		if _, err := sup.RestartChild(bg(), "t"); err != nil {
			t.Fatal(err)
		}
	}
	notRestarted(func(pid *actor.PID) { exitNormally(sys, pid) })
	notRestarted(func(pid *actor.PID) { _ = sys.Exit(pid, actor.Shutdown) })

	restartedAfter := func(how func(*actor.PID)) {
		t.Helper()
		pid := children(t, sup.WhichChildren)["t"]
		how(pid)
		eventually(t, wait, func() bool {
			now := children(t, sup.WhichChildren)["t"]
			return now != nil && now.Id != pid.Id
		}, "t restarted")
	}
	restartedAfter(func(pid *actor.PID) { crash(sys, pid) })
	restartedAfter(func(pid *actor.PID) { _ = sys.Kill(pid) })
	restartedAfter(func(pid *actor.PID) { _ = sys.Exit(pid, actor.ErrorReason(errors.New("bad"))) })
}

// A temporary child is never restarted, whatever its exit reason; its spec
// is deleted.
func TestTemporaryNeverRestarted(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	j := &journal{}
	var kids []supervision.ChildSpec
	for _, id := range []string{"crash", "normal", "kill", "keep"} {
		c := spec(id, j)
		c.Restart = supervision.Temporary
		kids = append(kids, c)
	}
	sup, err := supervision.Start(bg(), sys, supervision.Spec{MaxRestarts: 100, Children: kids})
	if err != nil {
		t.Fatal(err)
	}
	pids := children(t, sup.WhichChildren)
	crash(sys, pids["crash"])
	exitNormally(sys, pids["normal"])
	_ = sys.Kill(pids["kill"])
	for _, id := range []string{"crash", "normal", "kill"} {
		eventually(t, wait, func() bool { return ev.count(terminated(id)) == 1 }, id+" exited")
	}
	cs, _ := sup.WhichChildren(bg())
	if got := ids(cs); !slices.Equal(got, []string{"keep"}) {
		t.Fatalf("children %v, want only [keep]: temporary children are deleted, not restarted", got)
	}
	if n := ev.count(func(e supervision.Event) bool { _, ok := e.(supervision.ChildRestarted); return ok }); n != 0 {
		t.Fatalf("%d restarts of temporary children", n)
	}
}

func startABCD(t *testing.T, sys *actor.System, strategy supervision.Strategy, j *journal) *supervision.Supervisor {
	t.Helper()
	sup, err := supervision.Start(bg(), sys, supervision.Spec{
		Strategy:    strategy,
		MaxRestarts: 10,
		Children:    []supervision.ChildSpec{spec("a", j), spec("b", j), spec("c", j), spec("d", j)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := j.all(); !slices.Equal(got, []string{"start:a", "start:b", "start:c", "start:d"}) {
		t.Fatalf("start order %v", got)
	}
	j.reset()
	return sup
}

// rest_for_one restarts the child that crashed and exactly the siblings
// started after it: those are stopped in reverse order, then all started in
// order; earlier siblings are untouched.
func TestRestForOneRestartsLaterSiblingsInOrder(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	j := &journal{}
	sup := startABCD(t, sys, supervision.RestForOne, j)
	before := children(t, sup.WhichChildren)
	crash(sys, before["b"])
	eventually(t, wait, func() bool { return ev.count(restarted("d")) == 1 }, "d restarted")
	eventually(t, wait, func() bool { return slices.Contains(j.all(), "stop:b") }, "crashed b terminated")
	// The crashed b's own Terminate runs concurrently with its restart.
	got := without(j.all(), "stop:b")
	if want := []string{"stop:d", "stop:c", "start:b", "start:c", "start:d"}; !slices.Equal(got, want) {
		t.Fatalf("rest_for_one: %v, want %v", got, want)
	}
	after := children(t, sup.WhichChildren)
	if after["a"].Id != before["a"].Id {
		t.Fatal("rest_for_one restarted a, which started before the crashed child")
	}
	for _, id := range []string{"b", "c", "d"} {
		if after[id] == nil || after[id].Id == before[id].Id {
			t.Fatalf("%s not restarted", id)
		}
	}
	if n := ev.count(restarted("a")); n != 0 {
		t.Fatal("ChildRestarted for a")
	}
}

// one_for_all stops every other child in reverse order and starts all of
// them in order.
func TestOneForAllRestartsAllInOrder(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	j := &journal{}
	sup := startABCD(t, sys, supervision.OneForAll, j)
	before := children(t, sup.WhichChildren)
	crash(sys, before["b"])
	eventually(t, wait, func() bool { return ev.count(restarted("d")) == 1 }, "d restarted")
	eventually(t, wait, func() bool { return slices.Contains(j.all(), "stop:b") }, "crashed b terminated")
	got := without(j.all(), "stop:b")
	if want := []string{"stop:d", "stop:c", "stop:a", "start:a", "start:b", "start:c", "start:d"}; !slices.Equal(got, want) {
		t.Fatalf("one_for_all: %v, want %v", got, want)
	}
	after := children(t, sup.WhichChildren)
	for _, id := range []string{"a", "b", "c", "d"} {
		if after[id] == nil || after[id].Id == before[id].Id {
			t.Fatalf("%s not restarted", id)
		}
	}
	var cause []string
	for _, e := range ev.snapshot() {
		if r, ok := e.(supervision.ChildRestarted); ok {
			cause = append(cause, r.ID+"<-"+r.Cause)
		}
	}
	if want := []string{"a<-b", "b<-b", "c<-b", "d<-b"}; !slices.Equal(cause, want) {
		t.Fatalf("restart events %v, want %v", cause, want)
	}
}

// one_for_one restarts only the child that crashed.
func TestOneForOneRestartsOnlyTheChild(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	j := &journal{}
	sup := startABCD(t, sys, supervision.OneForOne, j)
	before := children(t, sup.WhichChildren)
	crash(sys, before["c"])
	eventually(t, wait, func() bool { return ev.count(restarted("c")) == 1 }, "c restarted")
	after := children(t, sup.WhichChildren)
	for id, pid := range before {
		if same := after[id].Id == pid.Id; same != (id != "c") {
			t.Fatalf("%s: restarted=%v", id, !same)
		}
	}
}

// Exceeding the intensity makes the supervisor stop its children and exit
// with reason shutdown; its parent restarts the whole subtree.
func TestIntensityExceededEscalatesToParent(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	j := &journal{}
	root, err := supervision.Start(bg(), sys, supervision.Spec{
		MaxRestarts: 5,
		Children: []supervision.ChildSpec{
			spec("sibling", j),
			supervision.Subtree("sub", supervision.Spec{
				// OTP's default intensity: 1 restart in 5 s. Period is
				// long so that the test does not depend on timing.
				Period:   time.Minute,
				Children: []supervision.ChildSpec{spec("w1", j), spec("w2", j)},
			}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	top := children(t, root.WhichChildren)
	sub := supervision.SupervisorAt(sys, top["sub"])
	w1 := children(t, sub.WhichChildren)["w1"]
	crash(sys, w1) // restart 1 of 1: allowed
	eventually(t, wait, func() bool { return ev.count(restarted("w1")) == 1 }, "w1 restarted once")
	crash(sys, children(t, sub.WhichChildren)["w1"]) // restart 2 of 1: escalate
	eventually(t, wait, func() bool { return ev.count(restarted("sub")) == 1 }, "root restarted sub")

	var ex supervision.IntensityExceeded
	for _, e := range ev.snapshot() {
		if x, ok := e.(supervision.IntensityExceeded); ok {
			ex = x
		}
	}
	if ex.Supervisor == nil || ex.Supervisor.Id != top["sub"].Id || ex.ID != "w1" || ex.MaxRestarts != 1 || ex.Period != time.Minute {
		t.Fatalf("IntensityExceeded %+v", ex)
	}
	var subExit actor.Reason
	for _, e := range ev.snapshot() {
		if x, ok := e.(supervision.ChildTerminated); ok && x.ID == "sub" {
			subExit = x.Reason
		}
	}
	if subExit != actor.Shutdown {
		t.Fatalf("sub exited with %v, want shutdown", subExit)
	}
	now := children(t, root.WhichChildren)
	if now["sub"] == nil || now["sub"].Id == top["sub"].Id {
		t.Fatal("root did not restart sub")
	}
	if now["sibling"].Id != top["sibling"].Id {
		t.Fatal("one_for_one root restarted the sibling")
	}
	kids := children(t, supervision.SupervisorAt(sys, now["sub"]).WhichChildren)
	if kids["w1"] == nil || kids["w2"] == nil {
		t.Fatalf("restarted subtree children %v", kids)
	}
	// The give-up stopped w2 in order before sub exited: w2 was stopped once.
	if n := len(slices.DeleteFunc(j.all(), func(l string) bool { return l != "stop:w2" })); n != 1 {
		t.Fatalf("w2 stopped %d times, want 1", n)
	}
}

// A child that ignores the shutdown signal is killed after its shutdown
// timeout; one that obeys stops with reason shutdown.
func TestChildIgnoringShutdownIsKilledAfterTimeout(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	stubborn := make(chan actor.Reason, 1)
	polite := make(chan actor.Reason, 1)
	const timeout = 150 * time.Millisecond
	sup, err := supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{
		{ID: "stubborn", Shutdown: timeout, Start: func(sc supervision.StartContext) (*actor.PID, error) {
			return sc.Spawn(&worker{trap: true, stopped: stubborn})
		}},
		{ID: "polite", Shutdown: time.Minute, Start: func(sc supervision.StartContext) (*actor.PID, error) {
			return sc.Spawn(&worker{stopped: polite})
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := sup.TerminateChild(bg(), "stubborn"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < timeout {
		t.Fatalf("stubborn child killed after %v, before its %v timeout", d, timeout)
	}
	if r := <-stubborn; r != actor.Killed {
		t.Fatalf("stubborn child exited with %v, want killed", r)
	}
	t0 = time.Now()
	if err := sup.TerminateChild(bg(), "polite"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("polite child took %v", d)
	}
	if r := <-polite; r != actor.Shutdown {
		t.Fatalf("polite child exited with %v, want shutdown", r)
	}
	var reasons []string
	for _, e := range ev.snapshot() {
		if x, ok := e.(supervision.ChildTerminated); ok && x.BySupervisor {
			reasons = append(reasons, x.ID+":"+x.Reason.String())
		}
	}
	if want := []string{"stubborn:killed", "polite:shutdown"}; !slices.Equal(reasons, want) {
		t.Fatalf("events %v, want %v", reasons, want)
	}
	// BrutalKill does not wait.
	if _, err := sup.StartChild(bg(), supervision.ChildSpec{ID: "brutal", Shutdown: supervision.BrutalKill,
		Start: func(sc supervision.StartContext) (*actor.PID, error) { return sc.Spawn(&worker{trap: true}) }}); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	if err := sup.TerminateChild(bg(), "brutal"); err != nil || time.Since(t0) > 2*time.Second {
		t.Fatalf("brutal kill: %v after %v", err, time.Since(t0))
	}
}

// If a child fails to start, the ones already started stop in reverse order
// and Start returns an error naming the child and its cause.
func TestFailingStartRollsBack(t *testing.T) {
	sys := start(t)
	j := &journal{}
	boom := errors.New("no database")
	_, err := supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{
		spec("a", j), spec("b", j),
		supervision.Worker("c", func() actor.Server { return &worker{name: "c", j: j, initErr: boom} }),
		spec("d", j),
	}})
	if !errors.Is(err, supervision.ErrStartFailed) || !errors.Is(err, boom) {
		t.Fatalf("Start: %v, want ErrStartFailed wrapping the cause", err)
	}
	var se *supervision.StartError
	if !errors.As(err, &se) || se.ID != "c" || !strings.Contains(err.Error(), `"c"`) {
		t.Fatalf("error %v does not name child c", err)
	}
	if got, want := j.all(), []string{"start:a", "start:b", "stop:b", "stop:a"}; !slices.Equal(got, want) {
		t.Fatalf("rollback %v, want %v", got, want)
	}

	// Nested: the error names the path down to the failing child.
	j.reset()
	_, err = supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{
		spec("x", j),
		supervision.Subtree("sub", supervision.Spec{Children: []supervision.ChildSpec{
			spec("y", j),
			{ID: "z", Start: func(supervision.StartContext) (*actor.PID, error) { panic("bad config") }},
		}}),
	}})
	if !errors.As(err, &se) || se.ID != "sub" || !errors.Is(err, supervision.ErrStartFailed) ||
		!strings.Contains(err.Error(), `"z"`) || !strings.Contains(err.Error(), "bad config") {
		t.Fatalf("nested start error: %v", err)
	}
	if got, want := j.all(), []string{"start:x", "start:y", "stop:y", "stop:x"}; !slices.Equal(got, want) {
		t.Fatalf("nested rollback %v, want %v", got, want)
	}

	// A canceled context stops the start between children.
	ctx, cancel := context.WithCancel(bg())
	j.reset()
	_, err = supervision.Start(ctx, sys, supervision.Spec{Children: []supervision.ChildSpec{
		{ID: "first", Start: func(sc supervision.StartContext) (*actor.PID, error) {
			cancel()
			return sc.Spawn(&worker{name: "first", j: j})
		}},
		spec("second", j),
	}})
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) || se.ID != "second" {
		t.Fatalf("canceled start: %v", err)
	}
	if got, want := j.all(), []string{"start:first", "stop:first"}; !slices.Equal(got, want) {
		t.Fatalf("canceled start %v, want %v", got, want)
	}
}

// Stop stops the children in reverse order, then the supervisor.
func TestStopInReverseOrder(t *testing.T) {
	sys := start(t)
	j := &journal{}
	sup := startABCD(t, sys, supervision.OneForOne, j)
	if err := sup.Stop(bg()); err != nil {
		t.Fatal(err)
	}
	if got, want := j.all(), []string{"stop:d", "stop:c", "stop:b", "stop:a"}; !slices.Equal(got, want) {
		t.Fatalf("stop order %v, want %v", got, want)
	}
	if _, err := sup.WhichChildren(bg()); !errors.Is(err, actor.ErrNoProcess) {
		t.Fatalf("supervisor alive after Stop: %v", err)
	}
	if err := sup.Stop(bg()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// Stopping the actor system with a tree running stops it in order: the
// supervisors' Terminate stops what the engine has not.
func TestSystemStopWithTree(t *testing.T) {
	sys, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(bg()); err != nil {
		t.Fatal(err)
	}
	j := &journal{}
	_, err = supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{
		spec("a", j),
		supervision.Subtree("sub", supervision.Spec{Children: []supervision.ChildSpec{spec("b", j), spec("c", j)}}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg(), 10*time.Second)
	defer cancel()
	if err := sys.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := j.all(); len(without(got, "start:a", "start:b", "start:c")) != 3 {
		t.Fatalf("journal %v: every child stopped once", got)
	}
}

// The static supervisors' StartChild, TerminateChild, RestartChild,
// DeleteChild, WhichChildren and CountChildren behave as OTP's.
func TestStaticChildManagement(t *testing.T) {
	sys := start(t)
	j := &journal{}
	sup, err := supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{spec("a", j)}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sup.StartChild(bg(), spec("b", j))
	if err != nil || b == nil {
		t.Fatalf("StartChild: %v %v", b, err)
	}
	if _, err := sup.StartChild(bg(), spec("b", j)); !errors.Is(err, supervision.ErrAlreadyStarted) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := sup.StartChild(bg(), supervision.ChildSpec{ID: "nostart"}); !errors.Is(err, supervision.ErrInvalidSpec) {
		t.Fatalf("invalid spec: %v", err)
	}
	sub, err := sup.StartChild(bg(), supervision.Subtree("sub", supervision.Spec{}))
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := sup.WhichChildren(bg())
	if got := ids(cs); !slices.Equal(got, []string{"a", "b", "sub"}) || cs[2].Type != supervision.SupervisorChild || cs[2].PID.Id != sub.Id {
		t.Fatalf("WhichChildren %+v", cs)
	}
	if n, _ := sup.CountChildren(bg()); n != (supervision.Counts{Specs: 3, Active: 3, Supervisors: 1, Workers: 2}) {
		t.Fatalf("CountChildren %+v", n)
	}
	if err := sup.DeleteChild(bg(), "b"); !errors.Is(err, supervision.ErrRunning) {
		t.Fatalf("DeleteChild running: %v", err)
	}
	if _, err := sup.RestartChild(bg(), "b"); !errors.Is(err, supervision.ErrRunning) {
		t.Fatalf("RestartChild running: %v", err)
	}
	if err := sup.TerminateChild(bg(), "b"); err != nil {
		t.Fatal(err)
	}
	if err := sup.TerminateChild(bg(), "b"); err != nil {
		t.Fatalf("TerminateChild of a stopped child: %v", err)
	}
	if _, err := sup.StartChild(bg(), spec("b", j)); !errors.Is(err, supervision.ErrAlreadyPresent) {
		t.Fatalf("StartChild over a kept spec: %v", err)
	}
	b2, err := sup.RestartChild(bg(), "b")
	if err != nil || b2 == nil || b2.Id == b.Id {
		t.Fatalf("RestartChild: %v %v", b2, err)
	}
	if err := sup.TerminateChild(bg(), "b"); err != nil {
		t.Fatal(err)
	}
	if err := sup.DeleteChild(bg(), "b"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		sup.TerminateChild(bg(), "b"), sup.DeleteChild(bg(), "b"),
		func() error { _, err := sup.RestartChild(bg(), "b"); return err }(),
	} {
		if !errors.Is(err, supervision.ErrNotFound) {
			t.Fatalf("unknown child: %v", err)
		}
	}
	if err := supervision.DynamicAt(sys, sup.PID()).TerminateChild(bg(), b2); !errors.Is(err, supervision.ErrUnsupported) {
		t.Fatalf("dynamic operation on a static supervisor: %v", err)
	}
	// A failed StartChild keeps nothing.
	if _, err := sup.StartChild(bg(), supervision.Worker("bad", func() actor.Server {
		return &worker{initErr: errors.New("nope")}
	})); !errors.Is(err, supervision.ErrStartFailed) {
		t.Fatalf("failing StartChild: %v", err)
	}
	cs, _ = sup.WhichChildren(bg())
	if got := ids(cs); !slices.Equal(got, []string{"a", "sub"}) {
		t.Fatalf("children %v", got)
	}
}

// An exit signal from the supervisor's parent stops it and its children.
func TestParentExitStopsSupervisor(t *testing.T) {
	sys := start(t)
	j := &journal{}
	parentStopped := make(chan actor.Reason, 1)
	parent, err := sys.Spawn(&worker{stopped: parentStopped})
	if err != nil {
		t.Fatal(err)
	}
	sup, err := supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{spec("a", j), spec("b", j)}},
		supervision.WithParent(parent))
	if err != nil {
		t.Fatal(err)
	}
	crash(sys, parent)
	<-parentStopped
	eventually(t, wait, func() bool {
		_, err := sup.CountChildren(bg())
		return errors.Is(err, actor.ErrNoProcess)
	}, "supervisor exits with its parent")
	if got, want := without(j.all(), "start:a", "start:b"), []string{"stop:b", "stop:a"}; !slices.Equal(got, want) {
		t.Fatalf("children stopped %v, want %v", got, want)
	}
}

// A restart that fails is retried, each retry counting against the
// intensity, until the supervisor gives up (OTP try_again_restart).
func TestFailingRestartCountsAgainstIntensity(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	var starts atomic.Int32
	sup, err := supervision.Start(bg(), sys, supervision.Spec{
		MaxRestarts: 3,
		Period:      time.Minute,
		Children: []supervision.ChildSpec{{ID: "flaky", Start: func(sc supervision.StartContext) (*actor.PID, error) {
			if starts.Add(1) > 1 {
				return nil, errors.New("dependency down")
			}
			return sc.Spawn(&worker{})
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	crash(sys, children(t, sup.WhichChildren)["flaky"])
	eventually(t, wait, func() bool { return ev.count(exceeded) == 1 }, "intensity exceeded")
	if n := starts.Load(); n != 4 {
		t.Fatalf("%d starts, want 1 + 3 restarts attempted", n)
	}
	eventually(t, wait, func() bool {
		_, err := sup.CountChildren(bg())
		return errors.Is(err, actor.ErrNoProcess)
	}, "supervisor gone")
}

// A fixed or exponential restart delay, measured on the system clock.
func TestRestartDelay(t *testing.T) {
	clock := actortest.NewClock(time.Unix(1_000_000, 0))
	sys := start(t, actor.WithClock(clock))
	ev := collect(t, sys)
	sup, err := supervision.Start(bg(), sys, supervision.Spec{
		MaxRestarts: 100,
		Period:      time.Hour,
		Delay:       supervision.RestartDelay{Initial: time.Second, Max: 3 * time.Second},
		Children:    []supervision.ChildSpec{spec("w", nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Consecutive crashes wait 1 s, 2 s, 3 s (capped), 3 s.
	for i, delay := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		crash(sys, children(t, sup.WhichChildren)["w"])
		eventually(t, wait, func() bool { return ev.count(terminated("w")) == i+1 }, "w crashed")
		cs, _ := sup.WhichChildren(bg())
		if cs[0].PID != nil || !cs[0].Restarting {
			t.Fatalf("crash %d: restarted before its delay: %+v", i, cs[0])
		}
		clock.Advance(delay - time.Millisecond)
		if cs, _ := sup.WhichChildren(bg()); cs[0].PID != nil {
			t.Fatalf("crash %d: restarted before %v", i, delay)
		}
		clock.Advance(time.Millisecond)
		eventually(t, wait, func() bool { return ev.count(restarted("w")) == i+1 }, "w restarted after the delay")
	}
	// Stop cancels a pending delayed restart.
	crash(sys, children(t, sup.WhichChildren)["w"])
	eventually(t, wait, func() bool { return ev.count(terminated("w")) == 5 }, "w crashed")
	if err := sup.Stop(bg()); err != nil {
		t.Fatal(err)
	}
	if n := clock.Pending(); n != 0 {
		t.Fatalf("%d timers left after Stop", n)
	}
}

// Events are logged too: starts and orderly stops at DEBUG, crashes and
// restarts at INFO, exceeded intensity at WARN; nothing at ERROR.
func TestEventsAreLogged(t *testing.T) {
	sys, logs := startWithLogs(t)
	ev := collect(t, sys)
	sup, err := supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{spec("a", nil)}})
	if err != nil {
		t.Fatal(err)
	}
	crash(sys, children(t, sup.WhichChildren)["a"])
	eventually(t, wait, func() bool { return ev.count(restarted("a")) == 1 }, "a restarted")
	crash(sys, children(t, sup.WhichChildren)["a"])
	eventually(t, wait, func() bool { return ev.count(exceeded) == 1 }, "intensity exceeded")
	eventually(t, wait, func() bool {
		_, err := sup.CountChildren(bg())
		return errors.Is(err, actor.ErrNoProcess)
	}, "supervisor gone")
	level := func(msg string) []zapcore.Level {
		var out []zapcore.Level
		for _, e := range logs.FilterMessage(msg).All() {
			out = append(out, e.Level)
		}
		return out
	}
	for msg, want := range map[string][]zapcore.Level{
		"child started":    {zapcore.DebugLevel},
		"child restarted":  {zapcore.InfoLevel},
		"child terminated": {zapcore.InfoLevel, zapcore.InfoLevel},
		"restart intensity exceeded; terminating all children and exiting with reason shutdown": {zapcore.WarnLevel},
	} {
		if got := level(msg); !slices.Equal(got, want) {
			t.Errorf("%q logged at %v, want %v", msg, got, want)
		}
	}
	if e := logs.FilterMessage("child restarted").All(); len(e) == 1 && e[0].ContextMap()["child"] != "a" {
		t.Errorf("restart log fields %v", e[0].ContextMap())
	}
}

func TestValidate(t *testing.T) {
	nop := func(supervision.StartContext) (*actor.PID, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		spec supervision.Spec
		want string // "" for valid
	}{
		{"zero", supervision.Spec{}, ""},
		{"full", supervision.Spec{Strategy: supervision.RestForOne, MaxRestarts: supervision.NoRestarts,
			Delay:    supervision.RestartDelay{Initial: time.Millisecond, Max: time.Second},
			Children: []supervision.ChildSpec{{ID: "a", Start: nop, Shutdown: supervision.BrutalKill}, {ID: "b", Start: nop, Shutdown: supervision.Infinity}}}, ""},
		{"strategy", supervision.Spec{Strategy: 9}, "Spec.Strategy"},
		{"intensity", supervision.Spec{MaxRestarts: -2}, "Spec.MaxRestarts"},
		{"period", supervision.Spec{Period: -1}, "Spec.Period"},
		{"delay", supervision.Spec{Delay: supervision.RestartDelay{Initial: -1}}, "Spec.Delay.Initial"},
		{"delay max", supervision.Spec{Delay: supervision.RestartDelay{Initial: time.Second, Max: time.Millisecond}}, "Spec.Delay.Max"},
		{"no id", supervision.Spec{Children: []supervision.ChildSpec{{Start: nop}}}, "Spec.Children[0].ID"},
		{"dup id", supervision.Spec{Children: []supervision.ChildSpec{{ID: "a", Start: nop}, {ID: "a", Start: nop}}}, "Spec.Children[1].ID"},
		{"no start", supervision.Spec{Children: []supervision.ChildSpec{{ID: "a"}}}, "Spec.Children[0].Start"},
		{"restart", supervision.Spec{Children: []supervision.ChildSpec{{ID: "a", Start: nop, Restart: 7}}}, "Spec.Children[0].Restart"},
		{"type", supervision.Spec{Children: []supervision.ChildSpec{{ID: "a", Start: nop, Type: 7}}}, "Spec.Children[0].Type"},
		{"shutdown", supervision.Spec{Children: []supervision.ChildSpec{{ID: "a", Start: nop, Shutdown: -2}}}, "Spec.Children[0].Shutdown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid spec: %v", err)
			case tc.want != "" && (!errors.Is(err, supervision.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want ErrInvalidSpec naming %s", err, tc.want)
			}
		})
	}
	if err := (supervision.DynamicSpec{MaxChildren: -1}).Validate(); !errors.Is(err, supervision.ErrInvalidSpec) {
		t.Fatalf("DynamicSpec: %v", err)
	}
	sys := start(t)
	if _, err := supervision.Start(bg(), sys, supervision.Spec{Strategy: 9}); !errors.Is(err, supervision.ErrInvalidSpec) {
		t.Fatalf("Start with an invalid spec: %v", err)
	}
}
