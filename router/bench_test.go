package router_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	parouter "github.com/asynkron/protoactor-go/router"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/router"
)

// The throughput benchmarks send b.N messages from one goroutine to 4
// counting routees and stop the clock when all have been handled:
//
//	go test -run '^$' -bench 'Tell' -benchmem ./router/
//
// BenchmarkTellDirect4 is the baseline (the sender picks pids[i%4] itself),
// BenchmarkTellRoundRobin4 routes with a Router, and
// BenchmarkProtoActorRoundRobinGroup4 sends through proto.actor's own
// round-robin group router over raw proto.actor actors.

type benchMsg struct{}

type benchCounters [4]struct {
	n atomic.Int64
	_ [56]byte
}

func (c *benchCounters) wait(b *testing.B, n int64) {
	deadline := time.Now().Add(time.Minute)
	for {
		var t int64
		for i := range c {
			t += c[i].n.Load()
		}
		if t >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d messages arrived", t, n)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

func benchSystem(b *testing.B) (*actor.System, []*actor.PID, *benchCounters) {
	b.Helper()
	s, err := actor.NewSystem()
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop(context.Background()) })
	c := &benchCounters{}
	pids := make([]*actor.PID, len(c))
	for i := range pids {
		n := &c[i].n
		pids[i], err = s.Spawn(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*benchMsg); ok {
				n.Add(1)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s, pids, c
}

func BenchmarkTellDirect4(b *testing.B) {
	s, pids, c := benchSystem(b)
	msg := &benchMsg{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.Tell(pids[i%4], msg)
	}
	c.wait(b, int64(b.N))
}

func BenchmarkTellRoundRobin4(b *testing.B) {
	s, pids, c := benchSystem(b)
	g, _ := router.NewGroup(pids...)
	r, _ := router.New(s, g, router.RoundRobin())
	msg := &benchMsg{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := r.Tell(msg); err != nil {
			b.Fatal(err)
		}
	}
	c.wait(b, int64(b.N))
}

func BenchmarkProtoActorRoundRobinGroup4(b *testing.B) {
	sys := pa.NewActorSystem(pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	b.Cleanup(sys.Shutdown)
	c := &benchCounters{}
	pids := make([]*pa.PID, len(c))
	for i := range pids {
		n := &c[i].n
		pids[i] = sys.Root.Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
			if _, ok := ctx.Message().(*benchMsg); ok {
				n.Add(1)
			}
		}))
	}
	rpid := sys.Root.Spawn(parouter.NewRoundRobinGroup(pids...))
	msg := &benchMsg{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sys.Root.Send(rpid, msg)
	}
	c.wait(b, int64(b.N))
	b.StopTimer()
	sys.Root.Stop(rpid)
	for _, p := range pids {
		sys.Root.Stop(p)
	}
}

// BenchmarkPick measures the routing decision alone, over local routees
// whose mailboxes are empty: what a Tell adds to a direct Tell.
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{4, 32} {
		s, err := actor.NewSystem()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		pids := make([]*actor.PID, n)
		for i := range pids {
			pids[i], _ = s.Spawn(func(actor.Context) {})
		}
		rs := router.Snapshot{PIDs: pids, Version: 1}
		for _, tc := range []struct {
			name string
			st   router.Strategy
			msg  any
		}{
			{"RoundRobin", router.RoundRobin(), nil},
			{"Random", router.Random(nil), nil},
			{"RandomSeeded", router.Random(rand.NewPCG(1, 2)), nil},
			{"ConsistentHash", router.ConsistentHash(router.MessageKey), key("user-12345")},
			{"SmallestMailbox", router.SmallestMailbox(s.MailboxLen), nil},
			{"Adaptive", router.Adaptive(router.MailboxLoad(s), nil), nil},
		} {
			b.Run(fmt.Sprintf("%s/%d", tc.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					if _, err := tc.st.Pick(tc.msg, rs); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		_ = s.Stop(context.Background())
	}
}

// BenchmarkCall compares a routed Call with a direct actor.Call.
func BenchmarkCall(b *testing.B) {
	s, err := actor.NewSystem()
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop(context.Background()) })
	pids := make([]*actor.PID, 4)
	for i := range pids {
		pids[i], _ = s.Spawn(&greeter{name: "g"})
	}
	g, _ := router.NewGroup(pids...)
	r, _ := router.New(s, g, nil)
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if _, err := actor.Call[string](ctx, s, pids[i%4], 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("router", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := router.Call[string](ctx, r, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
