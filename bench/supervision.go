package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/supervision"
)

func init() {
	register("supervision", "supervisors: restart latency; start and stop of a dynamic supervisor with 10,000 children", runSupervision)
}

const (
	supWarmup   = 500             // crashes before measuring
	supRestarts = 20_000          // crashes measured, at most ...
	supBudget   = 8 * time.Second // ... and for at most this long, per engine
	supChildren = 10_000
	supTreeMax  = 60 * time.Second // bound on starting or stopping the 10k tree
)

// runSupervision measures:
//
//   - restart_latency: a supervised worker crashes (a panic in its handler);
//     the time from sending it the crashing message until its replacement
//     has handled its first message (one it sends itself from Init). Under
//     a one_for_one supervisor; the same for proto.actor's OneForOne
//     strategy in the same run (its restart reuses the PID and mailbox).
//   - tree_start_ms_10k / tree_stop_ms_10k: a Dynamic supervisor started
//     with 10,000 children, one StartChild call each, then stopped (all
//     children asked to shut down at once, each waited for).
func runSupervision(out *report) error {
	fl, err := supRestartLatency()
	if err != nil {
		return err
	}
	pl, err := supProtoActorRestartLatency()
	if err != nil {
		return err
	}
	start, stop, err := supTree10k()
	if err != nil {
		return err
	}
	out.figure("restart_latency_p50", supUS(supPct(fl, 50)), "us")
	out.figure("restart_latency_p99", supUS(supPct(fl, 99)), "us")
	out.figure("restart_samples", float64(len(fl)), "restarts")
	out.figure("protoactor_restart_latency_p50", supUS(supPct(pl, 50)), "us")
	out.figure("protoactor_restart_latency_p99", supUS(supPct(pl, 99)), "us")
	out.figure("restart_latency_p50_ratio", float64(supPct(fl, 50))/float64(supPct(pl, 50)), "x")
	out.figure("tree_start_ms_10k", float64(start.Microseconds())/1000, "ms")
	out.figure("tree_stop_ms_10k", float64(stop.Microseconds())/1000, "ms")
	return nil
}

type (
	supFirst struct{}
	supCrash struct{}
	supReady struct {
		pid *actor.PID
		at  time.Time
	}
)

// supProbe tells the bench when it has handled its first message.
type supProbe struct {
	actor.ServerBase
	ready chan<- supReady
}

func (p *supProbe) Init(pr actor.Process) error {
	pr.Send(pr.Self(), supFirst{})
	return nil
}

func (p *supProbe) HandleCast(pr actor.Process, msg any) {
	switch msg.(type) {
	case supFirst:
		p.ready <- supReady{pid: pr.Self(), at: time.Now()}
	case supCrash:
		panic("bench crash")
	}
}

func supRestartLatency() ([]time.Duration, error) {
	ctx := context.Background()
	sys, err := actor.NewSystem()
	if err != nil {
		return nil, err
	}
	if err := sys.Start(ctx); err != nil {
		return nil, err
	}
	defer supStopSystem(sys)
	ready := make(chan supReady, 1)
	sup, err := supervision.Start(ctx, sys, supervision.Spec{
		MaxRestarts: supWarmup + supRestarts + 1,
		Period:      time.Hour,
		Children: []supervision.ChildSpec{
			supervision.Worker("probe", func() actor.Server { return &supProbe{ready: ready} }),
		},
	})
	if err != nil {
		return nil, err
	}
	defer sup.Stop(ctx)
	cur := (<-ready).pid
	lat := make([]time.Duration, 0, supRestarts)
	begin := time.Now()
	for i := 0; i < supWarmup+supRestarts && time.Since(begin) < supBudget; i++ {
		t0 := time.Now()
		sys.Tell(cur, supCrash{})
		select {
		case r := <-ready:
			if i >= supWarmup {
				lat = append(lat, r.at.Sub(t0))
			}
			cur = r.pid
		case <-time.After(5 * time.Second):
			return nil, fmt.Errorf("restart %d: replacement did not start within 5s", i)
		}
	}
	if len(lat) == 0 {
		return nil, fmt.Errorf("no restart measured within %v", supBudget)
	}
	return lat, nil
}

// paProbe is the same probe as a raw proto.actor actor.
type paProbe struct{ ready chan<- time.Time }

func (p *paProbe) Receive(c pa.Context) {
	switch c.Message().(type) {
	case *pa.Started:
		c.Send(c.Self(), supFirst{})
	case supFirst:
		p.ready <- time.Now()
	case supCrash:
		panic("bench crash")
	}
}

func supProtoActorRestartLatency() ([]time.Duration, error) {
	as := pa.NewActorSystem(pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	}))
	defer as.Shutdown()
	ready := make(chan time.Time, 1)
	childCh := make(chan *pa.PID, 1)
	childProps := pa.PropsFromProducer(func() pa.Actor { return &paProbe{ready: ready} })
	parent := pa.PropsFromFunc(func(c pa.Context) {
		if _, ok := c.Message().(*pa.Started); ok {
			childCh <- c.Spawn(childProps)
		}
	}, pa.WithSupervisor(pa.NewOneForOneStrategy(1<<30, time.Hour, pa.DefaultDecider)))
	ppid := as.Root.Spawn(parent)
	defer func() { _ = as.Root.StopFuture(ppid).Wait() }()
	child := <-childCh
	<-ready
	lat := make([]time.Duration, 0, supRestarts)
	begin := time.Now()
	for i := 0; i < supWarmup+supRestarts && time.Since(begin) < supBudget; i++ {
		t0 := time.Now()
		as.Root.Send(child, supCrash{})
		select {
		case at := <-ready:
			if i >= supWarmup {
				lat = append(lat, at.Sub(t0))
			}
		case <-time.After(5 * time.Second):
			return nil, fmt.Errorf("proto.actor restart %d: no restart within 5s", i)
		}
	}
	if len(lat) == 0 {
		return nil, fmt.Errorf("no proto.actor restart measured within %v", supBudget)
	}
	return lat, nil
}

type supIdle struct{ actor.ServerBase }

func supTree10k() (start, stop time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*supTreeMax)
	defer cancel()
	sys, err := actor.NewSystem()
	if err != nil {
		return 0, 0, err
	}
	if err := sys.Start(ctx); err != nil {
		return 0, 0, err
	}
	defer supStopSystem(sys)
	d, err := supervision.StartDynamic(ctx, sys, supervision.DynamicSpec{})
	if err != nil {
		return 0, 0, err
	}
	spec := supervision.Worker("w", func() actor.Server { return &supIdle{} })
	t0 := time.Now()
	for i := range supChildren {
		if _, err := d.StartChild(ctx, spec); err != nil {
			return 0, 0, fmt.Errorf("child %d: %w", i, err)
		}
		if time.Since(t0) > supTreeMax {
			return 0, 0, fmt.Errorf("starting %d children took over %v", supChildren, supTreeMax)
		}
	}
	start = time.Since(t0)
	if n, err := d.CountChildren(ctx); err != nil || n.Active != supChildren {
		return 0, 0, fmt.Errorf("count after start: %+v %v", n, err)
	}
	t0 = time.Now()
	sctx, scancel := context.WithTimeout(ctx, supTreeMax)
	defer scancel()
	if err := d.Stop(sctx); err != nil {
		return 0, 0, err
	}
	return start, time.Since(t0), nil
}

func supStopSystem(s *actor.System) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.Stop(ctx)
}

func supPct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := len(s) * p / 100
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func supUS(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
