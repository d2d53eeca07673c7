package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/internal/nodeproc"
)

func init() {
	register("crdt", "replicator: convergence p50/p99, local update rate, majority write latency, delta bytes ratio, idle anti-entropy bytes (5 members)", runCRDT)
}

const crdtMembers = 5

// crdtCluster starts n memberships (development timings, loopback) with a
// replicator each (default Config: 2ms batch window, 1s anti-entropy).
func crdtCluster(n int) ([]*crdt.Replicator, func(), error) {
	ports, err := nodeproc.FreePorts(n)
	if err != nil {
		return nil, nil, err
	}
	dev := cluster.Development()
	seed := fmt.Sprintf("127.0.0.1:%d", ports[0])
	ms := make([]*cluster.Membership, n)
	reps := make([]*crdt.Replicator, n)
	stop := func() {
		var wg sync.WaitGroup
		for i := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if reps[i] != nil {
					_ = reps[i].Stop(ctx)
				}
				if ms[i] != nil {
					ms[i].Abort()
				}
			}()
		}
		wg.Wait()
	}
	for i := range ms {
		var p fixedSeeds
		if i > 0 {
			p = fixedSeeds{seed}
		}
		ms[i], err = cluster.NewMembership(cluster.MembershipConfig{
			Cluster:             "bench-crdt",
			Secret:              []byte("bench-secret-0123456789"),
			Self:                cluster.Member{Address: fmt.Sprintf("127.0.0.1:%d", ports[i])},
			Bind:                fmt.Sprintf("127.0.0.1:%d", ports[i]),
			ProbeInterval:       dev.ProbeInterval,
			ProbeTimeout:        dev.ProbeTimeout,
			GossipInterval:      dev.GossipInterval,
			SuspicionMultiplier: dev.SuspicionMultiplier,
			SplitBrain:          cluster.ResolverConfig{StableAfter: dev.SplitBrain.StableAfter},
			Logger:              zap.NewNop(),
		}, p)
		if err != nil {
			stop()
			return nil, nil, err
		}
		if err := ms[i].Start(context.Background()); err != nil {
			stop()
			return nil, nil, err
		}
	}
	if err := waitFor(20*time.Second, func() bool {
		for _, m := range ms {
			if v := m.View(); len(v.Up()) != n || v.Self != cluster.Serving {
				return false
			}
		}
		return true
	}); err != nil {
		stop()
		return nil, nil, err
	}
	for i, m := range ms {
		reps[i], err = crdt.NewReplicator(m, crdt.Config{})
		if err == nil {
			err = reps[i].Start(context.Background())
		}
		if err != nil {
			stop()
			return nil, nil, err
		}
	}
	return reps, stop, nil
}

func runCRDT(out *report) error {
	reps, stop, err := crdtCluster(crdtMembers)
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	inc := func(g *crdt.GCounter, op crdt.Op) { g.Increment(op.Replica, 1) }

	// Convergence: an increment on one member (round robin, Local) until
	// every member's replica shows it.
	conv := crdt.GCounterKey("bench/conv")
	var lat []time.Duration
	for round := range 300 {
		t0 := time.Now()
		if err := crdt.Update(ctx, reps[round%crdtMembers], conv, crdt.Local, inc); err != nil {
			return err
		}
		want := uint64(round + 1)
		if err := waitForTight(10*time.Second, func() bool {
			for _, r := range reps {
				v, err := crdt.Get(ctx, r, conv, crdt.Local)
				if err != nil || v.Value() != want {
					return false
				}
			}
			return true
		}); err != nil {
			return fmt.Errorf("convergence round %d: %w", round, err)
		}
		lat = append(lat, time.Since(t0))
	}
	out.figure("crdt_convergence_ms_p50", ms(pct(lat, 50)), "ms")
	out.figure("crdt_convergence_ms_p99", ms(pct(lat, 99)), "ms")

	// Local updates of a PNCounter (WriteLocal), one goroutine, for one
	// second at most.
	pn := crdt.PNCounterKey("bench/pn")
	add := func(p *crdt.PNCounter, op crdt.Op) { p.Increment(op.Replica, 1) }
	n, t0 := 0, time.Now()
	for n < 5_000_000 && time.Since(t0) < time.Second {
		for range 1000 {
			if err := crdt.Update(ctx, reps[0], pn, crdt.Local, add); err != nil {
				return err
			}
		}
		n += 1000
	}
	out.figure("crdt_local_updates_per_s", float64(n)/time.Since(t0).Seconds(), "ops/s")

	// Majority writes (3 of 5) of a GCounter, one at a time.
	maj := crdt.GCounterKey("bench/majority")
	lat = lat[:0]
	for range 500 {
		t0 := time.Now()
		if err := crdt.Update(ctx, reps[0], maj, crdt.Majority, inc); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	out.figure("crdt_majority_write_p50_us", us(pct(lat, 50)), "us")
	out.figure("crdt_majority_write_p99_us", us(pct(lat, 99)), "us")

	// Delta bytes: one add to a 10k-element ORSet, bytes sent to one peer
	// over the set's full-state encoding.
	big := crdt.ORSetKey("bench/big", crdt.StringCodec())
	for i := range 10_000 {
		e := fmt.Sprintf("element-%05d", i)
		if err := crdt.Update(ctx, reps[0], big, crdt.Local, func(s *crdt.ORSet[string], op crdt.Op) { s.Add(op.Replica, e) }); err != nil {
			return err
		}
	}
	if err := waitFor(30*time.Second, func() bool {
		for _, r := range reps {
			v, err := crdt.Get(ctx, r, big, crdt.Local)
			if err != nil || v.Len() != 10_000 {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("the 10k set did not converge: %w", err)
	}
	full, err := crdt.Get(ctx, reps[0], big, crdt.Local)
	if err != nil {
		return err
	}
	fullBytes, _ := full.MarshalBinary()
	best, bestBytes := -1.0, 0.0
	for trial := range 5 {
		e := fmt.Sprintf("extra-%d", trial)
		before := reps[0].Stats().BytesSent
		if err := crdt.Update(ctx, reps[0], big, crdt.Local, func(s *crdt.ORSet[string], op crdt.Op) { s.Add(op.Replica, e) }); err != nil {
			return err
		}
		if err := waitForTight(5*time.Second, func() bool {
			for _, r := range reps {
				v, err := crdt.Get(ctx, r, big, crdt.Local)
				if err != nil || !v.Contains(e) {
					return false
				}
			}
			return true
		}); err != nil {
			return err
		}
		perPeer := float64(reps[0].Stats().BytesSent-before) / float64(crdtMembers-1)
		if r := perPeer / float64(len(fullBytes)); best < 0 || r < best {
			best, bestBytes = r, perPeer
		}
	}
	out.figure("crdt_full_state_bytes_10k_orset", float64(len(fullBytes)), "bytes")
	out.figure("crdt_delta_bytes_per_peer", bestBytes, "bytes")
	out.figure("crdt_delta_bytes_ratio", best, "ratio")

	// Idle anti-entropy: 10k keys, converged, no change; bytes every
	// member sends per second.
	for i := range 10_000 {
		if err := crdt.Update(ctx, reps[i%crdtMembers], crdt.GCounterKey(fmt.Sprintf("idle/%05d", i)), crdt.Local, inc); err != nil {
			return err
		}
	}
	if err := waitFor(60*time.Second, func() bool {
		for _, r := range reps {
			if len(r.Keys("idle/*")) != 10_000 {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("10k keys did not converge: %w", err)
	}
	time.Sleep(3 * time.Second) // let anti-entropy settle the digests
	var before uint64
	for _, r := range reps {
		before += r.Stats().BytesSent
	}
	const idle = 10 * time.Second
	time.Sleep(idle)
	var after uint64
	for _, r := range reps {
		after += r.Stats().BytesSent
	}
	out.figure("crdt_idle_bytes_per_s", float64(after-before)/idle.Seconds()/crdtMembers, "B/s")
	return nil
}

// waitForTight polls cond every 50µs until it holds.
func waitForTight(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}
