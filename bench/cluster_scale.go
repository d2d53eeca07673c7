package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	ptest "github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/provider"
)

// scaleMembers is the size of the large-cluster formation.
const scaleMembers = 50

// fixedSeeds is a provider of fixed addresses.
type fixedSeeds []string

func (f fixedSeeds) Start(_ context.Context, _ provider.Member, update func([]provider.Member)) error {
	var ms []provider.Member
	for _, a := range f {
		ms = append(ms, provider.Member{Address: a})
	}
	update(ms)
	return nil
}

func (fixedSeeds) Stop(context.Context) error { return nil }

// formationScale starts n memberships in this process (membership only: no
// actor system), the first alone and every other one given only the first
// one's address, all at once, and returns the time until every view holds
// all n; then it kills one member (its port closes, as after kill -9) and
// returns the time until every other member has removed it.
func formationScale(n int) (formed, detected time.Duration, err error) {
	ports, err := nodeproc.FreePorts(n)
	if err != nil {
		return 0, 0, err
	}
	dev := cluster.Development()
	seed := fmt.Sprintf("127.0.0.1:%d", ports[0])
	ms := make([]*cluster.Membership, n)
	for i := range ms {
		var p fixedSeeds
		if i > 0 {
			p = fixedSeeds{seed}
		}
		ms[i], err = cluster.NewMembership(cluster.MembershipConfig{
			Cluster:             "bench-scale",
			Secret:              []byte("bench-secret-0123456789"),
			Self:                cluster.Member{Address: fmt.Sprintf("127.0.0.1:%d", ports[i])},
			Bind:                fmt.Sprintf("127.0.0.1:%d", ports[i]),
			ProbeInterval:       dev.ProbeInterval,
			ProbeTimeout:        dev.ProbeTimeout,
			GossipInterval:      dev.GossipInterval,
			SuspicionMultiplier: dev.SuspicionMultiplier,
			SplitBrain:          cluster.ResolverConfig{StableAfter: dev.SplitBrain.StableAfter},
			JoinTimeout:         10 * time.Second,
			Logger:              zap.NewNop(),
		}, p)
		if err != nil {
			return 0, 0, err
		}
	}
	defer func() {
		var wg sync.WaitGroup
		for _, m := range ms {
			wg.Add(1)
			go func() { defer wg.Done(); m.Abort() }()
		}
		wg.Wait()
	}()
	t0 := time.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = m.Start(context.Background()) }()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return 0, 0, e
		}
	}
	if err := waitFor(30*time.Second, func() bool {
		for _, m := range ms {
			if v := m.View(); len(v.Up()) != n || v.Self != cluster.Serving {
				return false
			}
		}
		return true
	}); err != nil {
		return 0, 0, fmt.Errorf("%d members: not formed: %w", n, err)
	}
	formed = time.Since(t0)
	victim := ms[n/2]
	id := victim.Self().ID
	t1 := time.Now()
	victim.Abort()
	if err := waitFor(30*time.Second, func() bool {
		for _, m := range ms {
			if m == victim {
				continue
			}
			for _, x := range m.Members() {
				if x.ID == id {
					return false
				}
			}
		}
		return true
	}); err != nil {
		return 0, 0, fmt.Errorf("%d members: the killed member was not removed: %w", n, err)
	}
	return formed, time.Since(t1), nil
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// formationProtoActorTest starts clusterSize raw proto.actor members with
// its in-memory test provider (an agent in this process, its default TTL
// refresh), and returns the time until every member list holds all.
func formationProtoActorTest() (time.Duration, error) {
	ports, err := nodeproc.FreePorts(clusterSize)
	if err != nil {
		return 0, err
	}
	agent := ptest.NewInMemAgent()
	clusters := make([]*pcluster.Cluster, clusterSize)
	for i := range clusters {
		sys := pactor.NewActorSystem(quietProtoActor()...)
		cfg := pcluster.Configure("bench", ptest.NewTestProvider(agent), disthash.New(), remote.Configure("127.0.0.1", ports[i]))
		clusters[i] = pcluster.New(sys, cfg)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	for _, c := range clusters {
		wg.Add(1)
		go func() { defer wg.Done(); c.StartMember() }()
	}
	defer func() {
		for _, c := range clusters {
			c.Shutdown(false)
		}
	}()
	err = waitFor(30*time.Second, func() bool {
		for _, c := range clusters {
			if c.MemberList == nil || c.MemberList.Members().Len() != clusterSize {
				return false
			}
		}
		return true
	})
	d := time.Since(t0)
	wg.Wait()
	if err != nil {
		return 0, fmt.Errorf("proto.actor test provider: %w", err)
	}
	return d, nil
}
