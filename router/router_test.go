package router_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/actor/actortest"
	"github.com/foundation-go/foundation/router"
)

func newRouter(t *testing.T, s *actor.System, src router.Routees, st router.Strategy, opts ...router.Option) *router.Router {
	t.Helper()
	r, err := router.New(s, src, st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func group(t *testing.T, pids ...*actor.PID) *router.Group {
	t.Helper()
	g, err := router.NewGroup(pids...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Round-robin Tell from one goroutine spreads exactly evenly; Call answers
// in turn.
func TestRoundRobinTellAndCall(t *testing.T) {
	s := start(t)
	pids, counts := spawnWorkers(t, s, 4, nil)
	r := newRouter(t, s, group(t, pids...), nil) // nil: RoundRobin
	for range 400 {
		if err := r.Tell("hello"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return total(counts) == 400 }, "400 casts handled")
	for i, c := range counts {
		if c.Load() != 100 {
			t.Errorf("routee %d got %d; want 100", i, c.Load())
		}
	}
	var got []string
	for range 5 {
		name, err := router.Call[string](timeout(t), r, "who")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if fmt.Sprint(got) != "[w0 w1 w2 w3 w0]" {
		t.Fatalf("Call answers %v", got)
	}
}

// Membership changes at run time while many goroutines route: every Tell
// that succeeds is delivered, and only to members.
func TestGroupChangesWhileRouting(t *testing.T) {
	s := start(t)
	pids, counts := spawnWorkers(t, s, 6, nil)
	g := group(t, pids[:3]...)
	r := newRouter(t, s, g, router.RoundRobin())
	v0 := g.Routees().Version

	var sent atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.Tell(1); err == nil {
					sent.Add(1)
				} else if !errors.Is(err, router.ErrNoRoutees) {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 200 {
		p := pids[3+i%3]
		if err := g.Add(p); err != nil {
			t.Fatal(err)
		}
		g.Remove(pids[i%3])
		_ = g.Add(pids[i%3])
		g.Remove(p)
	}
	close(stop)
	wg.Wait()
	eventually(t, func() bool { return total(counts) == sent.Load() }, "every routed message handled")
	if v := g.Routees().Version; v <= v0 {
		t.Fatalf("version %d after changes; want > %d", v, v0)
	}
	if g.Len() != 3 {
		t.Fatalf("%d routees at the end; want 3", g.Len())
	}
}

func TestGroupAddRemove(t *testing.T) {
	a, b, c := &actor.PID{Id: "a"}, &actor.PID{Id: "b"}, &actor.PID{Id: "c"}
	var g router.Group // the zero Group is empty and usable
	if rs := g.Routees(); len(rs.PIDs) != 0 || rs.Version != 0 {
		t.Fatalf("zero Group: %+v", rs)
	}
	if err := g.Add(a, b, &actor.PID{Id: "a"}, b); err != nil {
		t.Fatal(err)
	}
	if rs := g.Routees(); len(rs.PIDs) != 2 || rs.Version != 1 {
		t.Fatalf("after Add: %v (want a, b once each) v%d", rs.PIDs, rs.Version)
	}
	before := g.Routees()
	_ = g.Add(a) // already there
	g.Remove(c)  // not there
	if rs := g.Routees(); rs.Version != before.Version {
		t.Fatalf("a no-op change bumped the version to %d", rs.Version)
	}
	_ = g.Add(c)
	g.Remove(a)
	if got := fmt.Sprint(ids(g.Routees().PIDs)); got != "[b c]" {
		t.Fatalf("routees %s; want [b c]", got)
	}
	// The snapshot taken before is unchanged: snapshots are immutable.
	if got := fmt.Sprint(ids(before.PIDs)); got != "[a b]" {
		t.Fatalf("an old snapshot changed: %s", got)
	}
	if err := g.Add(a, nil); !errors.Is(err, router.ErrInvalid) || !strings.Contains(err.Error(), "pids[1]") {
		t.Fatalf("Add(nil): %v; want ErrInvalid naming pids[1]", err)
	}
	if g.Len() != 2 {
		t.Fatal("a failed Add added something")
	}
	if _, err := router.NewGroup(nil); !errors.Is(err, router.ErrInvalid) {
		t.Fatalf("NewGroup(nil): %v", err)
	}
}

func ids(pids []*actor.PID) []string {
	out := make([]string, len(pids))
	for i, p := range pids {
		out[i] = p.Id
	}
	return out
}

func TestBroadcast(t *testing.T) {
	s := start(t)
	pids, counts := spawnWorkers(t, s, 3, nil)
	r := newRouter(t, s, group(t, pids...), nil)
	for range 5 {
		if err := r.Broadcast("all"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return total(counts) == 15 }, "15 casts")
	for i, c := range counts {
		if c.Load() != 5 {
			t.Errorf("routee %d got %d; want 5", i, c.Load())
		}
	}
}

// Bad input and empty sets are errors, never panics or hangs.
func TestErrors(t *testing.T) {
	s := start(t)
	empty := newRouter(t, s, &router.Group{}, nil)
	ctx := timeout(t)
	for name, err := range map[string]error{
		"Tell":          empty.Tell(1),
		"Broadcast":     empty.Broadcast(1),
		"Call":          second(router.Call[string](ctx, empty, 1)),
		"ScatterGather": second(router.ScatterGather[string](ctx, empty, 1)),
		"TailChop":      second(router.TailChop[string](ctx, empty, 1, time.Second)),
	} {
		if !errors.Is(err, router.ErrNoRoutees) {
			t.Errorf("%s on an empty group: %v; want ErrNoRoutees", name, err)
		}
	}

	var nilRouter *router.Router
	if err := nilRouter.Tell(1); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("Tell on a nil router: %v", err)
	}
	if _, err := router.Call[string](ctx, nilRouter, 1); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("Call on a nil router: %v", err)
	}
	if _, err := router.ScatterGather[string](ctx, nilRouter, 1); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("ScatterGather on a nil router: %v", err)
	}
	if _, err := router.New(nil, &router.Group{}, nil); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("New(nil system): %v", err)
	}
	if _, err := router.New(s, nil, nil); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("New(nil source): %v", err)
	}
	var nilGroup *router.Group
	if _, err := router.New(s, nilGroup, nil); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("New(nil *Group): %v", err)
	}
	var nilPool *router.Pool
	if _, err := router.New(s, nilPool, nil); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("New(nil *Pool): %v", err)
	}
	if _, err := router.New(s, &router.Group{}, nil, router.WithClock(nil)); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("WithClock(nil): %v", err)
	}
	if _, err := router.New(s, &router.Group{}, router.ConsistentHash(nil)); !errors.Is(err, router.ErrNoKeyFunc) ||
		!strings.Contains(err.Error(), "MessageKey") {
		t.Errorf("ConsistentHash(nil): %v; want ErrNoKeyFunc pointing at MessageKey", err)
	}

	pids, _ := spawnWorkers(t, s, 2, nil)
	r := newRouter(t, s, group(t, pids...), nil)
	if _, err := router.TailChop[string](ctx, r, 1, 0); !errors.Is(err, router.ErrInvalid) || !strings.Contains(err.Error(), "interval") {
		t.Errorf("TailChop interval 0: %v; want ErrInvalid naming the interval", err)
	}
	if _, err := router.Call[int](ctx, r, "x"); !errors.Is(err, actor.ErrBadReply) {
		t.Errorf("Call[int] of a string reply: %v; want actor.ErrBadReply", err)
	}
	if err := s.Kill(pids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(ctx, pids[0]); err != nil {
		t.Fatal(err)
	}
	dead := newRouter(t, s, group(t, pids[0]), nil)
	if _, err := router.Call[string](ctx, dead, "x"); !errors.Is(err, actor.ErrNoProcess) {
		t.Errorf("Call to a dead routee: %v; want actor.ErrNoProcess", err)
	}
	short, cancel := context.WithTimeout(bg(), 20*time.Millisecond)
	defer cancel()
	if _, err := router.Call[string](short, r, never{}); !errors.Is(err, actor.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call past its deadline: %v; want actor.ErrTimeout and DeadlineExceeded", err)
	}
}

func second[T any](_ T, err error) error { return err }

// badStrategy picks what it is told to.
type badStrategy struct {
	i   int
	err error
}

func (b badStrategy) Pick(any, router.Snapshot) (int, error) { return b.i, b.err }

func TestStrategyErrorsReachTheCaller(t *testing.T) {
	s := start(t)
	pids, _ := spawnWorkers(t, s, 2, nil)
	g := group(t, pids...)
	boom := errors.New("boom")
	for _, tc := range []struct {
		st   badStrategy
		want error
	}{
		{badStrategy{i: 2}, router.ErrBadPick},
		{badStrategy{i: -1}, router.ErrBadPick},
		{badStrategy{err: boom}, boom},
	} {
		r := newRouter(t, s, g, tc.st)
		if err := r.Tell(1); !errors.Is(err, tc.want) {
			t.Errorf("Tell with %+v: %v; want %v", tc.st, err, tc.want)
		}
		if _, err := router.Call[string](timeout(t), r, 1); !errors.Is(err, tc.want) {
			t.Errorf("Call with %+v: %v; want %v", tc.st, err, tc.want)
		}
	}
	r := newRouter(t, s, g, router.ConsistentHash(router.MessageKey))
	if err := r.Tell("no key"); !errors.Is(err, router.ErrNoKey) {
		t.Errorf("a message without a key: %v; want ErrNoKey", err)
	}
}

func TestTellAfterSystemStop(t *testing.T) {
	s, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(bg()); err != nil {
		t.Fatal(err)
	}
	pids, _ := spawnWorkers(t, s, 1, nil)
	r := newRouter(t, s, group(t, pids...), nil)
	if err := s.Stop(bg()); err != nil {
		t.Fatal(err)
	}
	if err := r.Tell(1); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Tell after Stop: %v; want actor.ErrStopped", err)
	}
	if err := r.Broadcast(1); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Broadcast after Stop: %v; want actor.ErrStopped", err)
	}
	if _, err := router.Call[string](bg(), r, 1); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Call after Stop: %v; want actor.ErrStopped", err)
	}
}

// spawnMixed starts routees: "mute" never answers, "fail" answers an error,
// "ok" answers its name; it returns their PIDs and workers.
func spawnMixed(t *testing.T, s *actor.System, kinds ...string) ([]*actor.PID, []*worker) {
	t.Helper()
	pids := make([]*actor.PID, len(kinds))
	ws := make([]*worker, len(kinds))
	for i, k := range kinds {
		w := &worker{name: fmt.Sprintf("w%d", i), mute: k == "mute"}
		var b actor.Server = w
		if k == "fail" {
			b = &failing{worker: w}
		}
		pid, err := s.Spawn(b)
		if err != nil {
			t.Fatal(err)
		}
		pids[i], ws[i] = pid, w
	}
	return pids, ws
}

var errFailing = errors.New("failing routee")

// failing answers every call with errFailing.
type failing struct{ *worker }

func (f *failing) HandleCall(actor.Process, any) (any, error) {
	f.calls.Add(1)
	return nil, fmt.Errorf("%s: %w", f.name, errFailing)
}

func TestScatterGather(t *testing.T) {
	s := start(t)
	ctx := timeout(t)

	pids, ws := spawnMixed(t, s, "mute", "fail", "ok", "mute")
	r := newRouter(t, s, group(t, pids...), nil)
	got, err := router.ScatterGather[string](ctx, r, "q")
	if err != nil || got != "w2" {
		t.Fatalf("ScatterGather = %q, %v; want w2 (the only success)", got, err)
	}
	// The call to w2 was made; the others may have been abandoned before
	// they were sent.
	if ws[2].calls.Load() != 1 {
		t.Fatalf("w2 called %d times", ws[2].calls.Load())
	}
	for i, w := range ws {
		if w.calls.Load() > 1 {
			t.Fatalf("w%d called %d times", i, w.calls.Load())
		}
	}

	pids, _ = spawnMixed(t, s, "fail", "fail")
	r = newRouter(t, s, group(t, pids...), nil)
	_, err = router.ScatterGather[string](ctx, r, "q")
	if !errors.Is(err, router.ErrAllFailed) || !errors.Is(err, errFailing) || !strings.Contains(err.Error(), "w0") || !strings.Contains(err.Error(), "w1") {
		t.Fatalf("all failing: %v; want ErrAllFailed wrapping both errors", err)
	}

	pids, _ = spawnMixed(t, s, "mute", "mute")
	r = newRouter(t, s, group(t, pids...), nil)
	short, cancel := context.WithTimeout(bg(), 30*time.Millisecond)
	defer cancel()
	if _, err = router.ScatterGather[string](short, r, "q"); !errors.Is(err, actor.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("all mute: %v; want actor.ErrTimeout", err)
	}
	canceled, cancelNow := context.WithCancel(bg())
	cancelNow()
	if _, err = router.ScatterGather[string](canceled, r, "q"); !errors.Is(err, actor.ErrCanceled) {
		t.Fatalf("canceled context: %v; want actor.ErrCanceled", err)
	}
}

// Tail-chopping, driven by a manual clock: one routee, then the next every
// interval, first success wins.
func TestTailChop(t *testing.T) {
	s := start(t)
	clk := actortest.NewClock(time.Unix(0, 0))
	pids, ws := spawnMixed(t, s, "mute", "mute", "ok", "ok")
	r := newRouter(t, s, group(t, pids...), router.RoundRobin(), router.WithClock(clk))

	type result struct {
		v   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := router.TailChop[string](timeout(t), r, "q", time.Second)
		done <- result{v, err}
	}()
	calls := func() string {
		return fmt.Sprint(ws[0].calls.Load(), ws[1].calls.Load(), ws[2].calls.Load(), ws[3].calls.Load())
	}
	eventually(t, func() bool { return calls() == "1 0 0 0" && clk.Pending() == 1 }, "the first routee called, a timer set")
	clk.Advance(999 * time.Millisecond)
	if calls() != "1 0 0 0" {
		t.Fatalf("calls %s before the interval", calls())
	}
	clk.Advance(time.Millisecond)
	eventually(t, func() bool { return calls() == "1 1 0 0" && clk.Pending() == 1 }, "the second routee called after one interval")
	clk.Advance(time.Second)
	res := <-done
	if res.err != nil || res.v != "w2" {
		t.Fatalf("TailChop = %q, %v; want w2", res.v, res.err)
	}
	if calls() != "1 1 1 0" {
		t.Fatalf("calls %s; want the fourth routee never called", calls())
	}
	if clk.Pending() != 0 {
		t.Fatalf("%d timers left behind", clk.Pending())
	}

	// A failure moves on at once, without waiting for the clock.
	pids, _ = spawnMixed(t, s, "fail", "fail", "ok")
	r = newRouter(t, s, group(t, pids...), router.RoundRobin(), router.WithClock(clk))
	if v, err := router.TailChop[string](timeout(t), r, "q", time.Hour); err != nil || v != "w2" {
		t.Fatalf("after two failures: %q, %v; want w2 at once", v, err)
	}
	// All fail.
	pids, _ = spawnMixed(t, s, "fail", "fail")
	r = newRouter(t, s, group(t, pids...), nil, router.WithClock(clk))
	if _, err := router.TailChop[string](timeout(t), r, "q", time.Hour); !errors.Is(err, router.ErrAllFailed) {
		t.Fatalf("all failing: %v; want ErrAllFailed", err)
	}
	// The deadline bounds it (real clock: the context's own timer).
	pids, _ = spawnMixed(t, s, "mute", "mute")
	r = newRouter(t, s, group(t, pids...), nil)
	short, cancel := context.WithTimeout(bg(), 30*time.Millisecond)
	defer cancel()
	if _, err := router.TailChop[string](short, r, "q", 10*time.Millisecond); !errors.Is(err, actor.ErrTimeout) {
		t.Fatalf("within a deadline: %v; want actor.ErrTimeout", err)
	}
}

// Consistent hashing through a router: a key always reaches the same
// routee, across Tell and Call alike, and TailChop tries its owner first.
func TestConsistentHashRouting(t *testing.T) {
	s := start(t)
	pids, _ := spawnWorkers(t, s, 5, nil)
	r := newRouter(t, s, group(t, pids...), router.ConsistentHash(router.MessageKey))
	owner := map[key]string{}
	owners := map[string]bool{}
	for round := range 3 {
		for k := range 40 {
			m := key(fmt.Sprintf("user-%d", k))
			got, err := router.Call[string](timeout(t), r, m)
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				owner[m] = got
				owners[got] = true
			} else if owner[m] != got {
				t.Fatalf("%s went to %s, then to %s", m, owner[m], got)
			}
			if v, err := router.TailChop[string](timeout(t), r, m, time.Hour); err != nil || v != owner[m] {
				t.Fatalf("TailChop(%s) = %s, %v; want its owner %s", m, v, err, owner[m])
			}
		}
	}
	if len(owners) < 4 {
		t.Fatalf("40 keys went to only %d of 5 routees", len(owners))
	}
}

// block makes pid busy: a held call, then n casts queued behind it.
func block(t *testing.T, s *actor.System, n int) (*actor.PID, *gate) {
	t.Helper()
	g := newGate()
	t.Cleanup(g.release)
	w := &worker{name: "blocked", gate: g, casts: &atomic.Int64{}}
	pid, err := s.Spawn(w)
	if err != nil {
		t.Fatal(err)
	}
	s.Tell(pid, "hold")
	for range n {
		s.Tell(pid, "queued")
	}
	eventually(t, func() bool { d, _ := s.MailboxLen(pid); return d >= n }, "the blocked routee's mailbox filled")
	return pid, g
}

func TestSmallestMailboxRouting(t *testing.T) {
	s := start(t)
	busy, _ := block(t, s, 5)
	pids, counts := spawnWorkers(t, s, 2, nil)
	r := newRouter(t, s, group(t, busy, pids[0], pids[1]), router.SmallestMailbox(nil)) // nil: s.MailboxLen
	// One at a time, so that the idle routees are idle when the next
	// message is routed (under a flood their queues outgrow the busy one's,
	// and then it is the smallest).
	for i := range 200 {
		if err := r.Tell("m"); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return total(counts) == int64(i+1) }, "the message handled by an idle routee")
	}
	if d, _ := s.MailboxLen(busy); d != 6 {
		t.Fatalf("the busy routee has %d queued; want 6 (none routed to it)", d)
	}
	if counts[0].Load() == 0 || counts[1].Load() == 0 {
		t.Fatalf("idle routees got %d and %d; want both some", counts[0].Load(), counts[1].Load())
	}
}

func TestAdaptiveRouting(t *testing.T) {
	s := start(t)
	busy, _ := block(t, s, 99)
	pids, counts := spawnWorkers(t, s, 2, nil)
	r := newRouter(t, s, group(t, busy, pids[0], pids[1]), router.Adaptive(nil, rand.NewPCG(1, 1)))
	const n = 400
	for i := range n {
		if err := r.Tell("m"); err != nil {
			t.Fatal(err)
		}
		// One at a time, as for SmallestMailbox.
		eventually(t, func() bool { d, _ := s.MailboxLen(busy); return total(counts)+int64(d)-100 == int64(i+1) }, "the message handled or queued")
	}
	// The busy routee weighs about 1/100 of an idle one.
	if d, _ := s.MailboxLen(busy); d-100 > n/20 {
		t.Fatalf("the busy routee got %d of %d messages; want under 5%%", d-100, n)
	}
}
