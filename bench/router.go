package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	parouter "github.com/asynkron/protoactor-go/router"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/router"
)

func init() {
	register("router", "routers: round-robin tell over 4 local routees against direct tell and proto.actor's round-robin group", runRouter)
}

const (
	routerMessages = 5_000_000
	routerRoutees  = 4
	routerRounds   = 5
)

// runRouter measures Tell throughput from one sender to 4 local routees
// (plain actors that count), routerMessages per round, in four ways:
//
//   - direct: Foundation, the sender picks pids[i%4] itself and Tells;
//   - foundation: Foundation, router.Router with RoundRobin over a Group;
//   - protoactor: raw proto.actor, its RoundRobinGroup router fronting raw
//     actors, the sender Sends to the router's PID;
//   - protoactor_same_routees: proto.actor's RoundRobinGroup fronting the
//     same Foundation routees as the first two (the routers alone compared).
//
// As in the local scenario: one unmeasured round first, then interleaved
// rounds in rotating order, each after a GC with the GC paused, medians
// reported. The clock stops when every routee has handled its share.
func runRouter(out *report) error {
	sides := []struct {
		name string
		run  func() (float64, error)
	}{
		{"direct", func() (float64, error) { return routerFoundation(false) }},
		{"foundation", func() (float64, error) { return routerFoundation(true) }},
		{"protoactor", routerProtoActor},
		{"protoactor_same_routees", routerProtoActorOverFoundation},
	}
	prevGC := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(prevGC)
	for _, s := range sides {
		if _, err := s.run(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	got := make([][]float64, len(sides))
	for round := range routerRounds {
		for k := range sides {
			i := (k + round) % len(sides)
			runtime.GC()
			v, err := sides[i].run()
			if err != nil {
				return fmt.Errorf("%s: %w", sides[i].name, err)
			}
			got[i] = append(got[i], v)
		}
	}
	if os.Getenv("BENCH_VERBOSE") != "" {
		for i, s := range sides {
			fmt.Fprintf(os.Stderr, "router rounds %s: %.0f\n", s.name, got[i])
		}
	}
	direct, fnd, pa, paSame := median(got[0]), median(got[1]), median(got[2]), median(got[3])
	out.figure("router_tell_direct", direct, "msgs/s")
	out.figure("router_tell_foundation", fnd, "msgs/s")
	out.figure("router_tell_protoactor", pa, "msgs/s")
	out.figure("router_tell_protoactor_same_routees", paSame, "msgs/s")
	out.figure("router_tell_ratio", fnd/direct, "x")
	out.figure("router_vs_protoactor_ratio", fnd/pa, "x")
	out.figure("router_vs_protoactor_same_routees_ratio", fnd/paSame, "x")
	return nil
}

type routerMsg struct{}

// routerCounters are per-routee counters, each on its own cache line.
type routerCounters [routerRoutees]struct {
	n atomic.Int64
	_ [56]byte
}

func (c *routerCounters) total() int64 {
	var t int64
	for i := range c {
		t += c[i].n.Load()
	}
	return t
}

func (c *routerCounters) wait(n int64) error {
	deadline := time.Now().Add(2 * time.Minute)
	for c.total() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d messages arrived", c.total(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

func spawnCounters(s *actor.System, c *routerCounters) ([]*actor.PID, error) {
	pids := make([]*actor.PID, routerRoutees)
	for i := range pids {
		n := &c[i].n
		pid, err := s.Spawn(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*routerMsg); ok {
				n.Add(1)
			}
		})
		if err != nil {
			return nil, err
		}
		pids[i] = pid
	}
	return pids, nil
}

func routerFoundation(viaRouter bool) (float64, error) {
	s, err := newSystem()
	if err != nil {
		return 0, err
	}
	defer stopSystem(s)
	var c routerCounters
	pids, err := spawnCounters(s, &c)
	if err != nil {
		return 0, err
	}
	g, err := router.NewGroup(pids...)
	if err != nil {
		return 0, err
	}
	r, err := router.New(s, g, router.RoundRobin())
	if err != nil {
		return 0, err
	}
	msg := &routerMsg{}
	t0 := time.Now()
	if viaRouter {
		for range routerMessages {
			if err := r.Tell(msg); err != nil {
				return 0, err
			}
		}
	} else {
		for i := range routerMessages {
			s.Tell(pids[i%routerRoutees], msg)
		}
	}
	if err := c.wait(routerMessages); err != nil {
		return 0, err
	}
	return routerMessages / time.Since(t0).Seconds(), nil
}

func routerProtoActor() (float64, error) {
	sys := pa.NewActorSystem(quietProtoActor()...)
	defer sys.Shutdown()
	var c routerCounters
	pids := make([]*pa.PID, routerRoutees)
	for i := range pids {
		n := &c[i].n
		pids[i] = sys.Root.Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
			if _, ok := ctx.Message().(*routerMsg); ok {
				n.Add(1)
			}
		}))
	}
	rpid := sys.Root.Spawn(parouter.NewRoundRobinGroup(pids...))
	msg := &routerMsg{}
	t0 := time.Now()
	for range routerMessages {
		sys.Root.Send(rpid, msg)
	}
	if err := c.wait(routerMessages); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	sys.Root.Stop(rpid)
	for _, p := range pids {
		sys.Root.Stop(p)
	}
	return routerMessages / d.Seconds(), nil
}

func routerProtoActorOverFoundation() (float64, error) {
	s, err := newSystem()
	if err != nil {
		return 0, err
	}
	defer stopSystem(s)
	var c routerCounters
	pids, err := spawnCounters(s, &c)
	if err != nil {
		return 0, err
	}
	root := s.ProtoActor().Root
	rpid := root.Spawn(parouter.NewRoundRobinGroup(pids...))
	msg := &routerMsg{}
	t0 := time.Now()
	for range routerMessages {
		root.Send(rpid, msg)
	}
	if err := c.wait(routerMessages); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	root.Stop(rpid)
	return routerMessages / d.Seconds(), nil
}
