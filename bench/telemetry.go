package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/telemetry"
)

func init() {
	register("telemetry", "what telemetry costs: local Call with tracing on (sampling 0 and 1) against tracing off, Tell with metrics on against no telemetry", runTelemetry)
}

// Many short rounds, interleaved: on a shared two-core machine the load
// of other programs comes and goes within seconds, and short rounds
// spread it evenly over the sides.
const (
	telCalls  = 5_000   // calls per round and side
	telTells  = 500_000 // tells per round and side
	telRounds = 41
)

// telSide is one configuration measured: an actor system with a pong
// Server and a counting actor.
type telSide struct {
	name  string
	sys   *actor.System
	pong  *actor.PID
	count *actor.PID
	got   chan struct{}
	n     int
	stop  func()
}

// runTelemetry measures every side in interleaved rounds (rotating which
// goes first, each after a GC), one unmeasured round first, and reports
// each side's lower quartile. "bare" is an actor.System with no Observer:
// no telemetry at all. The other sides are single-member Foundation nodes
// (foundation.Start, which always installs the telemetry's Observer) with
// the tracing and metrics settings named; spans sampled at 1.0 go to the
// flight recorder (no exporter), as on a member without OTEL_* set.
func runTelemetry(out *report) error {
	bare, err := newSystem()
	if err != nil {
		return err
	}
	sides := []*telSide{{name: "bare", sys: bare, stop: func() { stopSystem(bare) }}}
	defer func() {
		for _, s := range sides {
			s.stop()
		}
	}()
	for _, c := range []struct {
		name    string
		tracing string
		ratio   float64
		metrics string
	}{
		{"off", cluster.TelemetryOff, 0, cluster.TelemetryOff},
		{"sampled0", cluster.TelemetryOn, 0, cluster.TelemetryOff},
		{"sampled1", cluster.TelemetryOn, 1, cluster.TelemetryOff},
		{"metrics", cluster.TelemetryOff, 0, cluster.TelemetryOn},
	} {
		ports, err := nodeproc.FreePorts(1)
		if err != nil {
			return err
		}
		nodes, _, stop, err := startNodes(ports, nodeSetup{
			configure: func(_ int, cc *cluster.Config) {
				// A cluster of one: its own seed (no discovery, no multicast).
				cc.Provider = "static"
				cc.Seeds = staticSeeds(ports)
				cc.Telemetry.Address = cluster.TelemetryOff
				cc.Telemetry.Tracing = c.tracing
				cc.Telemetry.SampleRatio = c.ratio
				cc.Telemetry.Metrics = c.metrics
			},
			options: func(int) []foundation.Option {
				return []foundation.Option{foundation.WithTelemetry(func(tc *telemetry.Config) {
					// The flight recorder holds the sampled spans; nothing
					// is exported.
					tc.LookupEnv = func(string) (string, bool) { return "", false }
					// Set here: in the cluster configuration 0 means the
					// profile's default ratio.
					tc.SampleRatio = c.ratio
				})}
			},
			ready: seesMembers(1),
		})
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		sides = append(sides, &telSide{name: c.name, sys: nodes[0].System, stop: stop})
	}
	for _, s := range sides {
		if err := s.spawn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	callNs := map[string][]float64{}
	tellNs := map[string][]float64{}
	tellSides := map[string]bool{"bare": true, "metrics": true}
	for round := -1; round < telRounds; round++ {
		for i := range sides {
			s := sides[(max(round, 0)+i)%len(sides)]
			runtime.GC()
			c, err := s.calls()
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if round >= 0 {
				callNs[s.name] = append(callNs[s.name], c)
			}
			if !tellSides[s.name] {
				continue
			}
			runtime.GC()
			tl, err := s.tells()
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if round >= 0 {
				tellNs[s.name] = append(tellNs[s.name], tl)
			}
		}
	}
	if os.Getenv("BENCH_VERBOSE") != "" {
		for _, s := range sides {
			fmt.Fprintf(os.Stderr, "%-9s call ns %.0f\n          tell ns %.0f\n", s.name, callNs[s.name], tellNs[s.name])
		}
	}
	// The lower quartile of each side's rounds: the machine's other load
	// only ever adds time, in bursts that a median of so few rounds does
	// not always outvote (BENCH_VERBOSE prints every round).
	call := func(n string) float64 { return quantile(callNs[n], 0.25) }
	tell := func(n string) float64 { return quantile(tellNs[n], 0.25) }
	out.figure("telemetry_call_ns_no_telemetry", call("bare"), "ns")
	out.figure("telemetry_call_ns_tracing_off", call("off"), "ns")
	out.figure("telemetry_call_ns_sampled_0", call("sampled0"), "ns")
	out.figure("telemetry_call_ns_sampled_1", call("sampled1"), "ns")
	// Tracing on against tracing off entirely, on the same kind of node.
	out.figure("trace_overhead_call_ratio", call("sampled0")/call("off"), "x")
	out.figure("trace_overhead_sampled_ratio", call("sampled1")/call("off"), "x")
	// What every node pays for its telemetry hooks whatever the settings,
	// and tracing at 0 against no telemetry at all.
	out.figure("observer_overhead_call_ratio", call("off")/call("bare"), "x")
	out.figure("trace_overhead_call_ratio_vs_no_telemetry", call("sampled0")/call("bare"), "x")
	out.figure("telemetry_tell_ns_no_telemetry", tell("bare"), "ns")
	out.figure("telemetry_tell_ns_metrics", tell("metrics"), "ns")
	// Metrics on against no telemetry at all (the per-kind message counts
	// run whenever the Observer is installed).
	out.figure("metrics_overhead_tell_ratio", tell("metrics")/tell("bare"), "x")
	return nil
}

type telCount struct{}

// spawn starts the side's pong Server and counting actor.
func (s *telSide) spawn() error {
	var err error
	if s.pong, err = s.sys.Spawn(&pongServer{}); err != nil {
		return err
	}
	s.got = make(chan struct{}, 1)
	s.count, err = s.sys.Spawn(func(c actor.Context) {
		if _, ok := c.Message().(*telCount); ok {
			if s.n++; s.n == telTells {
				s.n = 0
				s.got <- struct{}{}
			}
		}
	})
	return err
}

// calls makes telCalls sequential Calls, each with its own 5s deadline as
// a program would, and returns the mean time per call.
func (s *telSide) calls() (float64, error) {
	req := &ping{}
	t0 := time.Now()
	for i := 0; i < telCalls; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := actor.Call[*ping](ctx, s.sys, s.pong, req)
		cancel()
		if err != nil {
			return 0, err
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / telCalls, nil
}

// tells sends telTells messages from one sender and returns the mean time
// per message until the last was handled.
func (s *telSide) tells() (float64, error) {
	msg := &telCount{}
	t0 := time.Now()
	for i := 0; i < telTells; i++ {
		s.sys.Tell(s.count, msg)
	}
	select {
	case <-s.got:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("tell: not all messages arrived")
	}
	return float64(time.Since(t0).Nanoseconds()) / telTells, nil
}

// quantile returns the q quantile of v (nearest rank).
func quantile(v []float64, q float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}
