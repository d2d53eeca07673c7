package router_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/actor/actortest"
	"github.com/foundation-go/foundation/router"
	"github.com/foundation-go/foundation/supervision"
)

// newPool starts a pool stopped at the end of the test (before the system).
func newPool(t *testing.T, s *actor.System, spec supervision.ChildSpec, cfg router.PoolConfig) *router.Pool {
	t.Helper()
	p, err := router.NewPool(timeout(t), s, spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(bg(), wait)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("pool Stop: %v", err)
		}
	})
	return p
}

// workerSpec is a pool routee spec: workers sharing gate g and counter c.
func workerSpec(g *gate, c *atomic.Int64) supervision.ChildSpec {
	return supervision.Worker("worker", func() actor.Server { return &worker{name: "pooled", gate: g, casts: c} })
}

func TestPoolRoutesAndStops(t *testing.T) {
	s := start(t)
	casts := &atomic.Int64{}
	p := newPool(t, s, workerSpec(nil, casts), router.PoolConfig{Size: 3})
	if p.Size() != 3 || p.Err() != nil {
		t.Fatalf("Size %d, Err %v; want 3, nil", p.Size(), p.Err())
	}
	if c, err := p.Supervisor().CountChildren(timeout(t)); err != nil || c.Active != 3 {
		t.Fatalf("supervisor children %+v, %v", c, err)
	}
	for range 30 {
		if err := p.Router().Tell("m"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return casts.Load() == 30 }, "30 casts")
	if name, err := router.Call[string](timeout(t), p.Router(), "q"); err != nil || name != "pooled" {
		t.Fatalf("Call = %q, %v", name, err)
	}
	routees := p.Routees().PIDs

	// Stop is idempotent and safe to call concurrently; each call waits.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Stop(timeout(t)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, pid := range routees {
		if _, ok := s.MailboxLen(pid); ok {
			t.Fatalf("routee %s still runs after Stop", pid)
		}
	}
	if err := p.Router().Tell("m"); !errors.Is(err, router.ErrNoRoutees) {
		t.Fatalf("Tell after Stop: %v; want ErrNoRoutees", err)
	}
	if !errors.Is(p.Err(), router.ErrStopped) {
		t.Fatalf("Err after Stop: %v; want ErrStopped", p.Err())
	}
}

// A crashed routee is restarted by the supervisor and the router routes to
// the replacement, never to the dead one once it has been noticed.
func TestPoolFollowsRestarts(t *testing.T) {
	s := start(t)
	p := newPool(t, s, workerSpec(nil, nil), router.PoolConfig{Size: 3})
	before := p.Routees()
	victim := before.PIDs[1]
	s.Tell(victim, crash{})
	eventually(t, func() bool {
		rs := p.Routees()
		return len(rs.PIDs) == 3 && !containsPID(rs.PIDs, victim)
	}, "the crashed routee replaced")
	after := p.Routees()
	if after.Version <= before.Version {
		t.Fatalf("version %d after a restart; want > %d", after.Version, before.Version)
	}
	for range 9 {
		if _, err := router.Call[string](timeout(t), p.Router(), "q"); err != nil {
			t.Fatalf("Call after the restart: %v", err)
		}
	}
}

func containsPID(pids []*actor.PID, pid *actor.PID) bool {
	for _, p := range pids {
		if p.Id == pid.Id && p.Address == pid.Address {
			return true
		}
	}
	return false
}

// A routee that is not restarted (Temporary) leaves the set when it exits.
func TestPoolDropsRouteesThatAreNotRestarted(t *testing.T) {
	s := start(t)
	spec := workerSpec(nil, nil)
	spec.Restart = supervision.Temporary
	p := newPool(t, s, spec, router.PoolConfig{Size: 2})
	gone := p.Routees().PIDs[0]
	s.Tell(gone, crash{})
	eventually(t, func() bool { return p.Size() == 1 && !containsPID(p.Routees().PIDs, gone) }, "the exited routee dropped")
}

// When routees crash more often than the intensity allows, the supervisor
// gives up: the pool is empty and says why.
func TestPoolSupervisorGivesUp(t *testing.T) {
	s := start(t)
	p := newPool(t, s, workerSpec(nil, nil), router.PoolConfig{Size: 2, MaxRestarts: 1, RestartPeriod: time.Hour})
	eventually(t, func() bool {
		if rs := p.Routees().PIDs; len(rs) > 0 {
			s.Tell(rs[0], crash{})
		}
		return p.Err() != nil
	}, "the supervisor gave up")
	if !strings.Contains(p.Err().Error(), "gave up") {
		t.Fatalf("Err = %v", p.Err())
	}
	eventually(t, func() bool { return p.Size() == 0 }, "the pool empty")
	if err := p.Router().Tell("m"); !errors.Is(err, router.ErrNoRoutees) {
		t.Fatalf("Tell: %v; want ErrNoRoutees", err)
	}
}

func TestNewPoolErrors(t *testing.T) {
	s := start(t)
	spec := workerSpec(nil, nil)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		sys   *actor.System
		spec  supervision.ChildSpec
		cfg   router.PoolConfig
		want  error
		field string
	}{
		{"nil system", nil, spec, router.PoolConfig{}, router.ErrInvalid, "system"},
		{"nil Start", s, supervision.ChildSpec{}, router.PoolConfig{}, router.ErrInvalid, "routee.Start"},
		{"negative size", s, spec, router.PoolConfig{Size: -1}, router.ErrInvalidResizer, "PoolConfig.Size"},
		{"size outside the bounds", s, spec, router.PoolConfig{Size: 20, Resizer: router.DefaultResizer{}}, router.ErrInvalidResizer, "PoolConfig.Size"},
		{"negative interval", s, spec, router.PoolConfig{ResizeInterval: -time.Second}, router.ErrInvalidResizer, "PoolConfig.ResizeInterval"},
		{"negative period", s, spec, router.PoolConfig{RestartPeriod: -time.Second}, router.ErrInvalidResizer, "PoolConfig.RestartPeriod"},
		{"bad resizer bounds", s, spec, router.PoolConfig{Resizer: router.DefaultResizer{Lower: 4, Upper: 2}}, router.ErrInvalidResizer, "DefaultResizer.Upper"},
		{"bad strategy", s, spec, router.PoolConfig{Strategy: router.ConsistentHash(nil)}, router.ErrNoKeyFunc, "ConsistentHash"},
		{"a routee fails to start", s, supervision.ChildSpec{Start: func(supervision.StartContext) (*actor.PID, error) { return nil, boom }},
			router.PoolConfig{Size: 2}, boom, ""},
	} {
		p, err := router.NewPool(timeout(t), tc.sys, tc.spec, tc.cfg)
		if p != nil || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: NewPool = %v, %v; want %v naming %q", tc.name, p, err, tc.want, tc.field)
		}
	}
	// A start that fails after others succeeded stops those.
	var started atomic.Int64
	var live sync.Map
	flaky := supervision.ChildSpec{Start: func(sc supervision.StartContext) (*actor.PID, error) {
		if started.Add(1) == 3 {
			return nil, boom
		}
		pid, err := sc.Spawn(&worker{})
		if err == nil {
			live.Store(pid.Id, pid)
		}
		return pid, err
	}}
	if _, err := router.NewPool(timeout(t), s, flaky, router.PoolConfig{Size: 4}); !errors.Is(err, supervision.ErrStartFailed) {
		t.Fatalf("flaky start: %v; want supervision.ErrStartFailed", err)
	}
	live.Range(func(_, v any) bool {
		if _, ok := s.MailboxLen(v.(*actor.PID)); ok {
			t.Errorf("routee %v still runs after NewPool failed", v)
		}
		return true
	})
}

// The default resizer grows a flooded pool to its upper bound and shrinks
// it back when idle, driven by a manual clock (no sleeps).
func TestPoolDefaultResizerGrowsAndShrinks(t *testing.T) {
	s := start(t)
	clk := actortest.NewClock(t0)
	g := newGate()
	casts := &atomic.Int64{}
	p := newPool(t, s, workerSpec(g, casts), router.PoolConfig{
		Resizer:        router.DefaultResizer{Lower: 1, Upper: 5, MessagesPerResize: 1 << 30}, // ticks only
		ResizeInterval: time.Second,
		Clock:          clk,
	})
	t.Cleanup(g.release)
	if p.Size() != 1 {
		t.Fatalf("initial size %d; want Lower (1)", p.Size())
	}
	var sent int64
	eventually(t, func() bool {
		// Keep every routee busy: each gets messages it cannot handle yet.
		for range 2 * max(p.Size(), 1) {
			if err := p.Router().Tell("m"); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		clk.Advance(time.Second)
		return p.Size() == 5
	}, "the pool grew to Upper under pressure")
	clk.Advance(time.Second)
	if p.Size() != 5 {
		t.Fatalf("size %d above Upper", p.Size())
	}

	g.release()
	eventually(t, func() bool { return casts.Load() == sent }, "the flood handled")
	eventually(t, func() bool {
		clk.Advance(time.Second)
		return p.Size() == 1
	}, "the idle pool shrank to Lower")
	// Every message was handled: shrinking stops only idle routees.
	if casts.Load() != sent {
		t.Fatalf("%d of %d messages handled", casts.Load(), sent)
	}
}

// Messages routed trigger the default resizer too (Akka's
// messages-per-resize), through a router of one's own over the pool.
func TestPoolResizesEveryMessagesPerResize(t *testing.T) {
	s := start(t)
	clk := actortest.NewClock(t0) // never advanced: no ticks
	g := newGate()
	p := newPool(t, s, workerSpec(g, nil), router.PoolConfig{
		Size:    2,
		Resizer: router.DefaultResizer{Lower: 2, Upper: 6, MessagesPerResize: 10},
		Clock:   clk,
	})
	t.Cleanup(g.release)
	r := newRouter(t, s, p, router.Random(nil))
	eventually(t, func() bool {
		for range 10 {
			if err := r.Tell("m"); err != nil {
				t.Fatal(err)
			}
		}
		return p.Size() == 6
	}, "the pool grew by messages alone")
}

// The optimal-size-exploring resizer runs in the same shell: an idle pool
// shrinks once it has been underutilized long enough.
func TestPoolOptimalResizerShrinksWhenUnderutilized(t *testing.T) {
	s := start(t)
	clk := actortest.NewClock(t0)
	p := newPool(t, s, workerSpec(nil, nil), router.PoolConfig{
		Size: 4,
		Resizer: router.OptimalSizeExploringResizer{
			Lower: 1, Upper: 8,
			ActionInterval:                time.Second,
			DownsizeAfterUnderutilizedFor: time.Minute,
		},
		ResizeInterval: time.Second,
		Clock:          clk,
	})
	clk.Advance(30 * time.Second)
	if p.Size() != 4 {
		t.Fatalf("size %d before the underutilization period; want 4", p.Size())
	}
	eventually(t, func() bool {
		clk.Advance(time.Second)
		return p.Size() == 1
	}, "the underutilized pool shrank")
}

// A pool whose system stops first does not leak its resizer goroutine, and
// Stop afterwards returns.
func TestPoolAfterSystemStop(t *testing.T) {
	s, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(bg()); err != nil {
		t.Fatal(err)
	}
	p, err := router.NewPool(timeout(t), s, workerSpec(nil, nil), router.PoolConfig{Size: 2, Resizer: router.DefaultResizer{Lower: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(timeout(t)); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(timeout(t)); err != nil {
		t.Fatalf("Stop after the system stopped: %v", err)
	}
	if _, err := router.NewPool(timeout(t), s, workerSpec(nil, nil), router.PoolConfig{}); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("NewPool on a stopped system: %v; want actor.ErrStopped", err)
	}
}
