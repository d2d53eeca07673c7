package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/protos"
)

func init() {
	register("grain", "grain calls against proto.actor's disthash grains, and singleton failover after kill -9", runGrain)
}

const (
	grainMembers = 3
	grainIDs     = 1000
	grainCalls   = 20000
	grainKills   = 5
)

// echoGrain answers every message with itself.
type echoGrain struct{}

func (echoGrain) Receive(_ *grain.Context, msg any) (any, error) { return msg, nil }

func runGrain(out *report) error {
	calls, local, first, err := grainCallsFoundation()
	if err != nil {
		return err
	}
	pa, err := protoactorGrainCalls(grainMembers, grainIDs, grainCalls)
	if err != nil {
		return err
	}
	out.figure("grain_call_p50_us", us(pct(calls, 50)), "us")
	out.figure("grain_call_p99_us", us(pct(calls, 99)), "us")
	out.figure("protoactor_grain_call_p50_us", us(pct(pa, 50)), "us")
	out.figure("protoactor_grain_call_p99_us", us(pct(pa, 99)), "us")
	out.figure("grain_call_p50_ratio", us(pct(calls, 50))/us(pct(pa, 50)), "x")
	out.figure("grain_call_p99_ratio", us(pct(calls, 99))/us(pct(pa, 99)), "x")
	out.figure("grain_local_call_p50_us", us(pct(local, 50)), "us")
	out.figure("grain_first_call_p50_us", us(pct(first, 50)), "us")

	p50, worst, err := grainFailover(grainKills)
	if err != nil {
		return err
	}
	out.figure("failover_ms_p50", ms(p50), "ms")
	out.figure("failover_ms_max", ms(worst), "ms")
	return nil
}

// grainCallsFoundation starts grainMembers nodes in this process, each
// hosting the echo kind, and calls from node 0: first calls of grainIDs
// identities (activation included), then grainCalls calls round-robin over
// them (about 2/3 remote), then grainCalls calls to the identities placed on
// node 0.
func grainCallsFoundation() (calls, local, first []time.Duration, err error) {
	nodes, stop, err := startGrainNodes(grainMembers)
	if err != nil {
		return nil, nil, nil, err
	}
	defer stop()
	h := nodes[0].Grains
	ref := func(i int) grain.Ref[*protos.Ping] {
		return grain.Get[*protos.Ping](h, "echo", "id-"+strconv.Itoa(i))
	}
	msg := &protos.Ping{Text: "x"}
	// Like for like with proto.actor's cluster.Request(…, WithTimeout(5s)):
	// each call carries a ctx with a 5s deadline, made per call.
	call := func(r grain.Ref[*protos.Ping]) (time.Duration, error) {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := r.Call(ctx, msg)
		cancel()
		return time.Since(t0), err
	}
	var mine []grain.Ref[*protos.Ping]
	for i := 0; i < grainIDs; i++ {
		r := ref(i)
		d, err := call(r)
		if err != nil {
			return nil, nil, nil, err
		}
		first = append(first, d)
		if r.Where() == h.Self() {
			mine = append(mine, r)
		}
	}
	refs := make([]grain.Ref[*protos.Ping], grainIDs)
	for i := range refs {
		refs[i] = ref(i)
	}
	for i := 0; i < grainCalls; i++ {
		d, err := call(refs[i%grainIDs])
		if err != nil {
			return nil, nil, nil, err
		}
		calls = append(calls, d)
	}
	if len(mine) == 0 {
		return nil, nil, nil, fmt.Errorf("no identity placed on the calling member")
	}
	for i := 0; i < grainCalls; i++ {
		d, err := call(mine[i%len(mine)])
		if err != nil {
			return nil, nil, nil, err
		}
		local = append(local, d)
	}
	return calls, local, first, nil
}

// startGrainNodes starts n nodes on 127.0.0.1 hosting the echo kind and
// waits until every grain host sees all of them.
func startGrainNodes(n int) ([]*foundation.Node, func(), error) {
	ports, err := nodeproc.FreePorts(n)
	if err != nil {
		return nil, nil, err
	}
	seeds := staticSeeds(ports)
	nodes, _, stop, err := startNodes(ports, nodeSetup{
		configure: func(_ int, c *cluster.Config) {
			c.Provider = "static"
			c.Seeds = seeds
		},
		options: func(int) []foundation.Option {
			return []foundation.Option{foundation.WithGrains(grain.Kind{Name: "echo", New: func(string) grain.Grain { return echoGrain{} }})}
		},
		ready: func(nd *foundation.Node) bool { return nd.Grains.ViewSize() == n },
	})
	if err != nil {
		return nil, nil, fmt.Errorf("grain nodes: %w", err)
	}
	return nodes, stop, nil
}
