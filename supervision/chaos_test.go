package supervision_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/supervision"
)

// chaosWorker registers its current PID under its name and counts itself
// live while it runs.
type chaosWorker struct {
	actor.ServerBase
	name string
	reg  *chaosRegistry
}

type chaosRegistry struct {
	mu   sync.Mutex
	pids map[string]*actor.PID
	live atomic.Int64
}

func (w *chaosWorker) Init(p actor.Process) error {
	w.reg.mu.Lock()
	w.reg.pids[w.name] = p.Self()
	w.reg.mu.Unlock()
	w.reg.live.Add(1)
	return nil
}

func (w *chaosWorker) HandleCall(p actor.Process, req any) (any, error) { return req, nil }

func (w *chaosWorker) HandleCast(p actor.Process, msg any) {
	if msg == "crash" {
		panic("chaos")
	}
}

func (w *chaosWorker) Terminate(actor.Process, actor.Reason) { w.reg.live.Add(-1) }

// A 3-level tree (root, 4 middle supervisors, 20 leaf supervisors) over 100
// workers, crashed at random for 5 s, ends with every permanent child
// running; no supervisor exceeded its intensity except the one configured
// to; and after Stop no process and no goroutine is left.
func TestChaosTree(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos runs for 5 s")
	}
	const (
		chaosFor   = 5 * time.Second
		lowMax     = 2 // the one leaf configured to exceed its intensity
		highMax    = 1_000_000
		crashEvery = 2 * time.Millisecond
	)
	core, logs := observer.New(zapcore.InfoLevel)
	sys, err := actor.NewSystem(actor.WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(bg()); err != nil {
		t.Fatal(err)
	}
	ev := collect(t, sys)
	reg := &chaosRegistry{pids: map[string]*actor.PID{}}
	strategies := []supervision.Strategy{supervision.OneForOne, supervision.OneForAll, supervision.RestForOne}
	var names []string
	restartOf := func(k int) supervision.Restart {
		switch k {
		case 3:
			return supervision.Transient
		case 4:
			return supervision.Temporary
		}
		return supervision.Permanent
	}
	var mids []supervision.ChildSpec
	for i := range 4 {
		var leaves []supervision.ChildSpec
		for j := range 5 {
			var workers []supervision.ChildSpec
			for k := range 5 {
				name := fmt.Sprintf("w%d.%d.%d", i, j, k)
				names = append(names, name)
				c := supervision.Worker(name, func() actor.Server { return &chaosWorker{name: name, reg: reg} })
				c.Restart = restartOf(k)
				workers = append(workers, c)
			}
			leaf := supervision.Spec{Strategy: strategies[(i+j)%3], MaxRestarts: highMax, Children: workers}
			if i == 0 && j == 0 {
				leaf.MaxRestarts, leaf.Period = lowMax, time.Second
			}
			leaves = append(leaves, supervision.Subtree(fmt.Sprintf("leaf%d.%d", i, j), leaf))
		}
		mids = append(mids, supervision.Subtree(fmt.Sprintf("mid%d", i),
			supervision.Spec{Strategy: strategies[i%3], MaxRestarts: highMax, Children: leaves}))
	}
	root, err := supervision.Start(bg(), sys, supervision.Spec{MaxRestarts: highMax, Children: mids})
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.live.Load(); n != 100 {
		t.Fatalf("%d workers running, want 100", n)
	}

	// Chaos: crash, kill or exit-signal a random worker every 2 ms; now and
	// then kill a whole leaf supervisor.
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(chaosFor)
	actions := 0
	for time.Now().Before(deadline) {
		actions++
		reg.mu.Lock()
		pid := reg.pids[names[rng.IntN(len(names))]]
		reg.mu.Unlock()
		switch n := rng.IntN(100); {
		case n < 60:
			sys.Tell(pid, "crash")
		case n < 80:
			_ = sys.Kill(pid)
		case n < 99:
			_ = sys.Exit(pid, actor.ErrorReason(errors.New("chaos")))
		default:
			ctx, cancel := context.WithTimeout(bg(), time.Second)
			kids, err := supervision.SupervisorAt(sys, mustPID(root, ctx, fmt.Sprintf("mid%d", rng.IntN(4)))).WhichChildren(ctx)
			cancel()
			if err == nil {
				if leaf := kids[rng.IntN(len(kids))].PID; leaf != nil {
					_ = sys.Kill(leaf)
				}
			}
		}
		time.Sleep(crashEvery)
	}

	// Every permanent (and transient: none exited normally) child runs.
	eventually(t, 30*time.Second, func() bool { return treeComplete(sys, root) }, "every permanent child running")
	for _, e := range ev.snapshot() {
		if x, ok := e.(supervision.IntensityExceeded); ok && x.MaxRestarts != lowMax {
			t.Fatalf("intensity exceeded by a supervisor not configured to: %+v", x)
		}
	}
	// The leaf configured with a low intensity (2 restarts/s, against about
	// 40 crashes/s among its workers) did exceed it, and its parent
	// restarted it (the tree is complete above).
	if ev.count(exceeded) == 0 {
		t.Fatalf("the leaf configured with MaxRestarts %d per second never exceeded it", lowMax)
	}
	restarts := ev.count(func(e supervision.Event) bool { _, ok := e.(supervision.ChildRestarted); return ok })
	t.Logf("%d chaos actions, %d restarts, %d intensity exceeded (leaf0.0, max %d/s)", actions, restarts, ev.count(exceeded), lowMax)
	if restarts < actions/4 {
		t.Fatalf("only %d restarts for %d chaos actions", restarts, actions)
	}

	ctx, cancel := context.WithTimeout(bg(), 20*time.Second)
	defer cancel()
	if err := root.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := reg.live.Load(); n != 0 {
		t.Fatalf("%d workers still running after Stop", n)
	}
	if err := sys.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range logs.FilterLevelExact(zapcore.ErrorLevel).All() {
		t.Errorf("ERROR logged: %s %v", e.Message, e.ContextMap())
	}
	goleak.VerifyNone(t)
}

func mustPID(s *supervision.Supervisor, ctx context.Context, id string) *actor.PID {
	cs, err := s.WhichChildren(ctx)
	if err != nil {
		return nil
	}
	for _, c := range cs {
		if c.ID == id {
			return c.PID
		}
	}
	return nil
}

// treeComplete reports whether every supervisor and every non-temporary
// worker of the tree runs and answers.
func treeComplete(sys *actor.System, root *supervision.Supervisor) bool {
	ctx, cancel := context.WithTimeout(bg(), time.Second)
	defer cancel()
	var walk func(s *supervision.Supervisor, depth int) bool
	walk = func(s *supervision.Supervisor, depth int) bool {
		cs, err := s.WhichChildren(ctx)
		if err != nil {
			return false
		}
		want := 5
		if depth == 0 {
			want = 4
		}
		perm := 0
		for _, c := range cs {
			if c.Restart == supervision.Temporary {
				continue
			}
			perm++
			if c.PID == nil {
				return false
			}
			if c.Type == supervision.SupervisorChild {
				if !walk(supervision.SupervisorAt(sys, c.PID), depth+1) {
					return false
				}
				continue
			}
			if _, err := actor.Call[string](ctx, sys, c.PID, "ping"); err != nil {
				return false
			}
		}
		if depth == 2 {
			want = 4 // the temporary worker is not counted
		}
		return perm == want
	}
	return walk(root, 0)
}
