package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"

	"github.com/foundation-go/foundation/actor"
)

func init() {
	register("local", "process model: tell throughput, call latency, bytes per idle actor", runLocal)
}

const (
	tellMessages = 10_000_000
	callCount    = 40_000 // per round
	idleActors   = 100_000
)

func runLocal(out *report) error {
	// Tell throughput swings by ±30% from run to run with scheduling on a
	// two-core machine: measure the sides interleaved, five rounds each,
	// rotating which goes first, each after a GC, and report the medians.
	// The garbage collector runs as it would in a program (not paused):
	// like for like, both sides pay for their own garbage. proto.actor is
	// measured with its default mailbox (Unbounded) and with
	// UnboundedLockfree, its fastest; the ratio is against the better.
	// One unmeasured round first: whichever side ran first used to pay for
	// growing the process's heap and thread pool.
	var fts, pts, lts []float64
	if _, err := tellFoundation(); err != nil {
		return err
	}
	tellProtoActor(pa.Unbounded())
	tellProtoActor(pa.UnboundedLockfree())
	sides := []func() error{
		func() error { ft, err := tellFoundation(); fts = append(fts, ft); return err },
		func() error { pts = append(pts, tellProtoActor(pa.Unbounded())); return nil },
		func() error { lts = append(lts, tellProtoActor(pa.UnboundedLockfree())); return nil },
	}
	for round := 0; round < 5; round++ {
		for i := range sides {
			runtime.GC()
			if err := sides[(round+i)%len(sides)](); err != nil {
				return err
			}
		}
	}
	if os.Getenv("BENCH_VERBOSE") != "" {
		fmt.Fprintf(os.Stderr, "tell rounds: foundation %.0f, protoactor %.0f, protoactor lock-free %.0f\n", fts, pts, lts)
	}
	ft, pt, lt := median(fts), median(pts), median(lts)
	out.figure("local_tell_foundation", ft, "msgs/s")
	out.figure("local_tell_protoactor", pt, "msgs/s")
	out.figure("local_tell_protoactor_lockfree", lt, "msgs/s")
	out.figure("local_tell_ratio", ft/max(pt, lt), "x")

	// Call against RequestFuture with the same 5s deadline on both sides:
	// each Foundation call carries a ctx with a 5s timeout, made per call
	// as a program would. Five interleaved rounds per side, alternating
	// which goes first; the latencies of all rounds are pooled.
	var fc, pc []time.Duration
	for round := 0; round < 5; round++ {
		sides := []func() error{
			func() error { l, err := callFoundation(); fc = append(fc, l...); return err },
			func() error { l, err := requestProtoActor(); pc = append(pc, l...); return err },
		}
		for i := range sides {
			if err := sides[(round+i)%2](); err != nil {
				return err
			}
		}
	}
	out.figure("local_call_p50_foundation", us(pct(fc, 50)), "us")
	out.figure("local_call_p99_foundation", us(pct(fc, 99)), "us")
	out.figure("local_request_p50_protoactor", us(pct(pc, 50)), "us")
	out.figure("local_request_p99_protoactor", us(pct(pc, 99)), "us")
	out.figure("local_call_p50_ratio", float64(pct(fc, 50))/float64(pct(pc, 50)), "x")

	fb, err := bytesFoundation()
	if err != nil {
		return err
	}
	pb := bytesProtoActor()
	out.figure("bytes_per_actor_foundation", fb, "B")
	out.figure("bytes_per_actor_protoactor", pb, "B")
	out.figure("bytes_per_actor_ratio", fb/pb, "x")
	return nil
}

func newSystem() (*actor.System, error) {
	s, err := actor.NewSystem()
	if err != nil {
		return nil, err
	}
	return s, s.Start(context.Background())
}

func stopSystem(s *actor.System) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.Stop(ctx)
}

type tellCount struct{ n int }

// tellFoundation: one sender, one Foundation actor, tellMessages messages.
func tellFoundation() (float64, error) {
	s, err := newSystem()
	if err != nil {
		return 0, err
	}
	defer stopSystem(s)
	done := make(chan struct{})
	n := 0
	pid, err := s.Spawn(func(c actor.Context) {
		if _, ok := c.Message().(*tellCount); ok {
			n++
			if n == tellMessages {
				close(done)
			}
		}
	})
	if err != nil {
		return 0, err
	}
	msg := &tellCount{}
	t0 := time.Now()
	for i := 0; i < tellMessages; i++ {
		s.Tell(pid, msg)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("tell: not all messages arrived")
	}
	return tellMessages / time.Since(t0).Seconds(), nil
}

func tellProtoActor(mailbox pa.MailboxProducer) float64 {
	sys := pa.NewActorSystem(quietProtoActor()...)
	defer sys.Shutdown()
	done := make(chan struct{})
	n := 0
	pid := sys.Root.Spawn(pa.PropsFromFunc(func(c pa.Context) {
		if _, ok := c.Message().(*tellCount); ok {
			n++
			if n == tellMessages {
				close(done)
			}
		}
	}, pa.WithMailbox(mailbox)))
	msg := &tellCount{}
	t0 := time.Now()
	for i := 0; i < tellMessages; i++ {
		sys.Root.Send(pid, msg)
	}
	<-done
	d := time.Since(t0)
	sys.Root.Stop(pid)
	return tellMessages / d.Seconds()
}

type ping struct{}

func callFoundation() ([]time.Duration, error) {
	s, err := newSystem()
	if err != nil {
		return nil, err
	}
	defer stopSystem(s)
	pid, err := s.Spawn(&pongServer{})
	if err != nil {
		return nil, err
	}
	req := &ping{}
	lat := make([]time.Duration, callCount)
	for i := 0; i < callCount; i++ {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := actor.Call[*ping](ctx, s, pid, req)
		cancel()
		if err != nil {
			return nil, err
		}
		lat[i] = time.Since(t0)
	}
	return lat, nil
}

type pongServer struct{ actor.ServerBase }

func (pongServer) HandleCall(_ actor.Process, req any) (any, error) { return req, nil }

func requestProtoActor() ([]time.Duration, error) {
	sys := pa.NewActorSystem(quietProtoActor()...)
	defer sys.Shutdown()
	pid := sys.Root.Spawn(pa.PropsFromFunc(func(c pa.Context) {
		if m, ok := c.Message().(*ping); ok {
			c.Respond(m)
		}
	}))
	defer sys.Root.Stop(pid)
	req := &ping{}
	lat := make([]time.Duration, callCount)
	for i := 0; i < callCount; i++ {
		t0 := time.Now()
		if _, err := sys.Root.RequestFuture(pid, req, 5*time.Second).Result(); err != nil {
			return nil, err
		}
		lat[i] = time.Since(t0)
	}
	return lat, nil
}

func heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func bytesFoundation() (float64, error) {
	s, err := newSystem()
	if err != nil {
		return 0, err
	}
	defer stopSystem(s)
	var started sync.WaitGroup
	started.Add(idleActors)
	idle := func(c actor.Context) {
		if _, ok := c.Message().(*pa.Started); ok {
			started.Done()
		}
	}
	pids := make([]*actor.PID, idleActors)
	before := heap()
	for i := range pids {
		if pids[i], err = s.Spawn(idle); err != nil {
			return 0, err
		}
	}
	started.Wait()
	settle()
	after := heap()
	runtime.KeepAlive(pids)
	return float64(after-before) / idleActors, nil
}

func bytesProtoActor() float64 {
	sys := pa.NewActorSystem(quietProtoActor()...)
	defer sys.Shutdown()
	var started sync.WaitGroup
	started.Add(idleActors)
	props := pa.PropsFromFunc(func(c pa.Context) {
		if _, ok := c.Message().(*pa.Started); ok {
			started.Done()
		}
	})
	pids := make([]*pa.PID, idleActors)
	before := heap()
	for i := range pids {
		pids[i] = sys.Root.Spawn(props)
	}
	started.Wait()
	settle()
	after := heap()
	runtime.KeepAlive(pids)
	for _, p := range pids {
		sys.Root.Stop(p)
	}
	return float64(after-before) / idleActors
}

// settle lets both runtimes reach their idle steady state (Foundation
// retires surplus parked mailbox workers once a second) before the heap is
// read.
func settle() { time.Sleep(1500 * time.Millisecond) }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := len(s) * p / 100
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
