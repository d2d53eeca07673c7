package supervision_test

import (
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/supervision"
)

type idle struct{ actor.ServerBase }

// The Dynamic supervisor starts, counts and terminates 10,000 children.
func TestDynamicTenThousandChildren(t *testing.T) {
	const n = 10_000
	sys := start(t)
	d, err := supervision.StartDynamic(bg(), sys, supervision.DynamicSpec{})
	if err != nil {
		t.Fatal(err)
	}
	w := supervision.Worker("w", func() actor.Server { return &idle{} })
	pids := make([]*actor.PID, 0, n)
	for range n {
		pid, err := d.StartChild(bg(), w)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if c, err := d.CountChildren(bg()); err != nil || c != (supervision.Counts{Specs: n, Active: n, Workers: n}) {
		t.Fatalf("CountChildren %+v %v", c, err)
	}
	cs, err := d.WhichChildren(bg())
	if err != nil || len(cs) != n || cs[0].PID.Id != pids[0].Id || cs[n-1].PID.Id != pids[n-1].Id {
		t.Fatalf("WhichChildren: %d children, %v", len(cs), err)
	}
	for _, pid := range pids {
		if err := d.TerminateChild(bg(), pid); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := d.CountChildren(bg()); err != nil || c != (supervision.Counts{}) {
		t.Fatalf("after TerminateChild: %+v %v", c, err)
	}
	if err := d.TerminateChild(bg(), pids[0]); !errors.Is(err, supervision.ErrNotFound) {
		t.Fatalf("terminating a terminated child: %v", err)
	}
	// OTP's delete_child on simple_one_for_one: {error, simple_one_for_one}.
	if err := d.DeleteChild(bg(), pids[0]); !errors.Is(err, supervision.ErrUnsupported) {
		t.Fatalf("DeleteChild on a Dynamic supervisor: %v; want ErrUnsupported", err)
	}
	// And the other half of the lifecycle: Stop stops them all at once.
	pids = pids[:0]
	for range n {
		pid, err := d.StartChild(bg(), w)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := d.Stop(bg()); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if _, err := actor.Call[string](bg(), sys, pid, "ping"); !errors.Is(err, actor.ErrNoProcess) {
			t.Fatalf("child %s after Stop: %v", pid, err)
		}
	}
}

// Dynamic children are restarted one for one by restart type, and deleted
// when they are not restarted.
func TestDynamicRestartTypes(t *testing.T) {
	sys := start(t)
	ev := collect(t, sys)
	d, err := supervision.StartDynamic(bg(), sys, supervision.DynamicSpec{MaxRestarts: 100, MaxChildren: 3})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(id string, r supervision.Restart) *actor.PID {
		c := spec(id, nil)
		c.Restart = r
		pid, err := d.StartChild(bg(), c)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	perm, trans, temp := mk("perm", supervision.Permanent), mk("trans", supervision.Transient), mk("temp", supervision.Temporary)
	if _, err := d.StartChild(bg(), spec("full", nil)); !errors.Is(err, supervision.ErrMaxChildren) {
		t.Fatalf("MaxChildren: %v", err)
	}
	crash(sys, perm)
	crash(sys, temp)
	exitNormally(sys, trans)
	for _, id := range []string{"perm", "temp", "trans"} {
		eventually(t, wait, func() bool { return ev.count(terminated(id)) == 1 }, id+" exited")
	}
	cs, _ := d.WhichChildren(bg())
	if len(cs) != 1 || cs[0].ID != "perm" || cs[0].PID == nil || cs[0].PID.Id == perm.Id {
		t.Fatalf("children %+v, want only perm, restarted", cs)
	}
	perm = cs[0].PID
	trans = mk("trans", supervision.Transient)
	crash(sys, trans)
	eventually(t, wait, func() bool { return ev.count(restarted("trans")) == 1 }, "transient restarted after a crash")

	// RestartChild replaces a running child.
	again, err := d.RestartChild(bg(), perm)
	if err != nil || again == nil || again.Id == perm.Id {
		t.Fatalf("RestartChild: %v %v", again, err)
	}
	if _, err := d.RestartChild(bg(), perm); !errors.Is(err, supervision.ErrNotFound) {
		t.Fatalf("RestartChild of the old pid: %v", err)
	}
	if err := supervision.SupervisorAt(sys, d.PID()).TerminateChild(bg(), "perm"); !errors.Is(err, supervision.ErrUnsupported) {
		t.Fatalf("static operation on a Dynamic supervisor: %v", err)
	}
}

// A dynamic child that ignores shutdown is killed after its own timeout
// while the others stop at once: they are stopped in parallel.
func TestDynamicStopInParallel(t *testing.T) {
	sys := start(t)
	d, err := supervision.StartDynamic(bg(), sys, supervision.DynamicSpec{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := make(chan actor.Reason, 4)
	for i := range 4 {
		trap := i%2 == 0
		_, err := d.StartChild(bg(), supervision.ChildSpec{Shutdown: 200 * time.Millisecond,
			Start: func(sc supervision.StartContext) (*actor.PID, error) {
				return sc.Spawn(&worker{trap: trap, stopped: reasons})
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	if err := d.Stop(bg()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 200*time.Millisecond || el > 2*time.Second {
		t.Fatalf("Stop took %v, want one 200ms timeout (the two stubborn children in parallel)", el)
	}
	got := map[actor.Reason]int{}
	for range 4 {
		got[<-reasons]++
	}
	if got[actor.Killed] != 2 || got[actor.Shutdown] != 2 {
		t.Fatalf("exit reasons %v", got)
	}
}
