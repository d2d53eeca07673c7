package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/pubsub"
	"github.com/foundation-go/foundation/service"
)

func init() {
	register("messaging", "service lookup and calls against a direct remote call, routers against direct tell and proto.actor, pub/sub local fan-out and across 3 members, cluster-wide service messages (3 nodes)", runMessaging)
}

// msgEcho answers a call with its request; counts casts.
type msgEcho struct {
	actor.ServerBase
	n *atomic.Int64
}

func (e msgEcho) HandleCall(_ actor.Process, req any) (any, error) { return req, nil }
func (e msgEcho) HandleCast(actor.Process, any)                    { e.n.Add(1) }

func runMessaging(out *report) error {
	if err := runRouter(out); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if err := pubsubLocalFanout(out); err != nil {
		return fmt.Errorf("pubsub local: %w", err)
	}
	ports, err := nodeproc.FreePorts(3)
	if err != nil {
		return err
	}
	seeds := staticSeeds(ports)
	nodes, _, stop, err := startNodes(ports, nodeSetup{
		configure: func(_ int, c *cluster.Config) {
			c.Provider = "static"
			c.Seeds = seeds
		},
		ready: func(n *foundation.Node) bool { return len(n.Membership.View().Up()) == 3 },
	})
	if err != nil {
		return err
	}
	defer stop()
	if err := serviceFigures(out, nodes); err != nil {
		return err
	}
	if err := pubsubCluster(out, nodes); err != nil {
		return err
	}
	return clusterMessages(out, nodes)
}

// serviceFigures: Discover's cost on this member's replica, and a call
// through a service client against the same call straight to the PID (one
// instance, on another member), interleaved rounds, latencies pooled.
func serviceFigures(out *report, nodes []*foundation.Node) error {
	ctx := context.Background()
	pid, err := nodes[1].System.Spawn(msgEcho{n: &atomic.Int64{}})
	if err != nil {
		return err
	}
	if _, err := nodes[1].Services.Register(ctx, "bench-echo", pid); err != nil {
		return err
	}
	if err := waitFor(10*time.Second, func() bool {
		is, err := nodes[0].Services.Discover("bench-echo")
		return err == nil && len(is) == 1
	}); err != nil {
		return fmt.Errorf("the instance never reached member 0: %w", err)
	}
	const batch = 1000
	var lookups []time.Duration
	for range 300 {
		t0 := time.Now()
		for range batch {
			if _, err := nodes[0].Services.Discover("bench-echo"); err != nil {
				return err
			}
		}
		lookups = append(lookups, time.Since(t0)/batch)
	}
	out.figure("service_lookup_ns_p50", float64(pct(lookups, 50).Nanoseconds()), "ns")

	c, err := nodes[0].Services.Client("bench-echo", service.PreferLocal(service.RoundRobin()))
	if err != nil {
		return err
	}
	req := wrapperspb.String("ping")
	viaService := func() (time.Duration, error) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		t0 := time.Now()
		_, err := service.Call[*wrapperspb.StringValue](cctx, c, req)
		return time.Since(t0), err
	}
	direct := func() (time.Duration, error) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		t0 := time.Now()
		_, err := actor.Call[*wrapperspb.StringValue](cctx, nodes[0].System, pid, req)
		return time.Since(t0), err
	}
	sides := []func() (time.Duration, error){viaService, direct}
	lats := [2][]time.Duration{}
	for round := range 6 {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			for range 3000 {
				d, err := sides[k]()
				if err != nil {
					return err
				}
				if round > 0 { // the first round warms up
					lats[k] = append(lats[k], d)
				}
			}
		}
	}
	sv, dv := lats[0], lats[1]
	out.figure("service_call_p50_us", us(pct(sv, 50)), "us")
	out.figure("service_direct_call_p50_us", us(pct(dv, 50)), "us")
	out.figure("service_call_p50_ratio", float64(pct(sv, 50))/float64(pct(dv, 50)), "x")
	return nil
}

// pubsubLocalFanout: one publisher, 1000 process subscribers on one
// member, PublishLocal; deliveries per second until every subscriber has
// every message.
func pubsubLocalFanout(out *report) error {
	ports, err := nodeproc.FreePorts(1)
	if err != nil {
		return err
	}
	nodes, _, stop, err := startNodes(ports, nodeSetup{
		configure: func(_ int, c *cluster.Config) { c.Provider = "static"; c.Seeds = staticSeeds(ports) },
		ready:     seesMembers(1),
	})
	if err != nil {
		return err
	}
	defer stop()
	n := nodes[0]
	const subs, msgs = 1000, 2000
	var got atomic.Int64
	for range subs {
		pid, err := n.System.Spawn(msgEcho{n: &got})
		if err != nil {
			return err
		}
		if _, err := n.PubSub.Subscribe("fanout", pid); err != nil {
			return err
		}
	}
	ctx := context.Background()
	msg := wrapperspb.String("m")
	var rates []float64
	for round := range 4 {
		got.Store(0)
		t0 := time.Now()
		for range msgs {
			if err := n.PubSub.PublishLocal(ctx, "fanout", msg); err != nil {
				return err
			}
		}
		if err := waitForTight(30*time.Second, func() bool { return got.Load() == subs*msgs }); err != nil {
			return fmt.Errorf("fan-out: %d of %d delivered: %w", got.Load(), subs*msgs, err)
		}
		if round > 0 {
			rates = append(rates, float64(subs*msgs)/time.Since(t0).Seconds())
		}
	}
	out.figure("pubsub_local_fanout_msgs_per_s", median(rates), "msgs/s")
	return nil
}

// pubsubCluster: a publisher on member 0, one subscriber (a handler) on
// each of members 1 and 2. Latency: one publish at a time until both
// subscribers have it (they signal a channel: no polling). Throughput:
// 20 000 publishes with at most 1 000 in flight (the outbound queue is
// bounded and drops past it: at most once), until both have all.
func pubsubCluster(out *report, nodes []*foundation.Node) error {
	var got [2]atomic.Int64
	arrived := make(chan struct{}, 2)
	for i := range 2 {
		if _, err := nodes[i+1].PubSub.SubscribeFunc("bench", func(pubsub.Message) {
			got[i].Add(1)
			select {
			case arrived <- struct{}{}:
			default:
			}
		}); err != nil {
			return err
		}
	}
	if err := waitFor(10*time.Second, func() bool { return len(nodes[0].PubSub.Members("bench")) == 2 }); err != nil {
		return fmt.Errorf("interest never reached member 0: %w", err)
	}
	ctx := context.Background()
	msg := wrapperspb.String("m")
	var lat []time.Duration
	for k := range 3000 {
		want := int64(k + 1)
		t0 := time.Now()
		if err := nodes[0].PubSub.Publish(ctx, "bench", msg); err != nil {
			return err
		}
		timeout := time.NewTimer(5 * time.Second)
		for got[0].Load() < want || got[1].Load() < want {
			select {
			case <-arrived:
			case <-timeout.C:
				return fmt.Errorf("publish %d: not delivered within 5s", k)
			}
		}
		timeout.Stop()
		if k >= 100 {
			lat = append(lat, time.Since(t0))
		}
	}
	out.figure("pubsub_cluster_p50_us", us(pct(lat, 50)), "us")
	const burst, window = 20000, 1000
	var rates []float64
	for range 3 {
		base := [2]int64{got[0].Load(), got[1].Load()}
		done := func() int64 { return min(got[0].Load()-base[0], got[1].Load()-base[1]) }
		t0 := time.Now()
		deadline := t0.Add(30 * time.Second)
		for k := range burst {
			for int64(k)-done() >= window {
				if time.Now().After(deadline) {
					return fmt.Errorf("burst: stalled at %d of %d (dropped %d)", done(), burst, nodes[0].PubSub.Dropped())
				}
				runtime.Gosched()
			}
			if err := nodes[0].PubSub.Publish(ctx, "bench", msg); err != nil {
				return err
			}
		}
		if err := waitFor(30*time.Second, func() bool { return done() >= burst }); err != nil {
			return fmt.Errorf("burst: %d of %d (dropped %d): %w", done(), burst, nodes[0].PubSub.Dropped(), err)
		}
		rates = append(rates, burst/time.Since(t0).Seconds())
	}
	out.figure("pubsub_cluster_msgs_per_s", median(rates), "publishes/s")
	return nil
}

// clusterMessages: each member registers a service instance; 4 senders
// per member Tell (through a service client) to the next member's service
// for 3 seconds at most, 200 000 messages each at most; messages handled
// per second, cluster-wide.
func clusterMessages(out *report, nodes []*foundation.Node) error {
	ctx := context.Background()
	counts := make([]*atomic.Int64, len(nodes))
	for i, n := range nodes {
		counts[i] = &atomic.Int64{}
		pid, err := n.System.Spawn(msgEcho{n: counts[i]})
		if err != nil {
			return err
		}
		if _, err := n.Services.Register(ctx, fmt.Sprintf("bench-work-%d", i), pid); err != nil {
			return err
		}
	}
	clients := make([]*service.Client, len(nodes))
	for i, n := range nodes {
		name := fmt.Sprintf("bench-work-%d", (i+1)%len(nodes))
		if err := waitFor(10*time.Second, func() bool { is, err := n.Services.Discover(name); return err == nil && len(is) == 1 }); err != nil {
			return fmt.Errorf("%s never reached member %d: %w", name, i, err)
		}
		var err error
		if clients[i], err = n.Services.Client(name, service.RoundRobin()); err != nil {
			return err
		}
	}
	const senders, perSender = 4, 200_000
	msg := wrapperspb.String("w")
	var sent atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	deadline := t0.Add(3 * time.Second)
	for i := range nodes {
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < perSender; k++ {
					if k%256 == 0 && time.Now().After(deadline) {
						return
					}
					if err := clients[i].Tell(ctx, msg); err == nil {
						sent.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	total := func() int64 {
		var s int64
		for _, c := range counts {
			s += c.Load()
		}
		return s
	}
	if err := waitFor(60*time.Second, func() bool { return total() >= sent.Load() }); err != nil {
		return fmt.Errorf("%d of %d handled: %w", total(), sent.Load(), err)
	}
	out.figure("messages_per_s_cluster", float64(total())/time.Since(t0).Seconds(), "msgs/s")
	return nil
}
