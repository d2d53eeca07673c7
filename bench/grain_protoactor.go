package main

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	ptest "github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/protos"
)

// paGrainKind is the grain kind hosted on every proto.actor member.
const paGrainKind = "bench"

// paGrainEcho is the proto.actor echo grain: it answers every *protos.Ping
// with the same message.
type paGrainEcho struct{}

func (paGrainEcho) Receive(ctx pactor.Context) {
	if m, ok := ctx.Message().(*protos.Ping); ok {
		ctx.Respond(m)
	}
}

// paGrainProvider is proto.actor's in-memory test provider that reports when
// its member has registered, so the members start one after another up to
// that point and overlap only the 1 s sleep that ends StartMember. The agent
// notifies every subscribed member synchronously from RegisterService, each
// with its own snapshot of the services: two members registering at once
// could deliver an older snapshot after a newer one, and proto.actor's member
// list would then treat the missing member as left and block it for good.
// (It also keeps remote.Start's unsynchronised grpclog.SetLoggerV2 calls from
// overlapping; they still race with the gRPC logging of members already up,
// as any in-process proto.actor cluster does under -race.)
type paGrainProvider struct {
	*ptest.Provider
	registered func()
}

func (p paGrainProvider) StartMember(c *pcluster.Cluster) error {
	defer p.registered()
	return p.Provider.StartMember(c)
}

// protoactorGrainCalls starts `members` proto.actor cluster members in this
// process on 127.0.0.1 (free ports) with the disthash identity lookup and
// kind "bench" (an echo grain) hosted on every member, waits until all see
// each other, then from member 0 calls `ids` identities round-robin (first a
// warm-up pass that activates every identity and fills the PID cache, not
// measured), then `calls` measured calls, returning every measured latency.
// About (members-1)/members of the calls are remote. Everything is shut down
// before it returns (bounded time; proto.actor's Shutdown sleeps — tolerate it
// but make sure the function returns).
//
// Membership comes from proto.actor's in-memory test provider (one agent
// shared by the members): it forms as soon as the members register, where
// the automanaged provider needs a 2 s refresh round. Calls use c.Request
// with a 5 s timeout and proto.actor's default retries.
func protoactorGrainCalls(members, ids, calls int) ([]time.Duration, error) {
	if members < 1 || ids < 1 || calls < 0 {
		return nil, fmt.Errorf("protoactorGrainCalls: members %d, ids %d, calls %d", members, ids, calls)
	}
	ports, err := nodeproc.FreePorts(members)
	if err != nil {
		return nil, err
	}
	agent := ptest.NewInMemAgent()
	clusters := make([]*pcluster.Cluster, members)
	registered := make([]chan struct{}, members)
	release := make([]func(), members)
	seen := make([]atomic.Int32, members)
	for i := range clusters {
		sys := pactor.NewActorSystem(quietProtoActor()...)
		// The member count each member last saw, from its own topology
		// events (reading MemberList.Members() from here would race).
		sys.EventStream.Subscribe(func(ev any) {
			if t, ok := ev.(*pcluster.ClusterTopology); ok {
				seen[i].Store(int32(len(t.Members)))
			}
		})
		ch := make(chan struct{})
		registered[i], release[i] = ch, sync.OnceFunc(func() { close(ch) })
		prov := paGrainProvider{Provider: ptest.NewTestProvider(agent), registered: release[i]}
		kind := pcluster.NewKind(paGrainKind, pactor.PropsFromProducer(func() pactor.Actor { return paGrainEcho{} }))
		cfg := pcluster.Configure("bench", prov, disthash.New(), remote.Configure("127.0.0.1", ports[i]),
			pcluster.WithKinds(kind))
		clusters[i] = pcluster.New(sys, cfg)
	}

	// StartMember panics on a provider or gossip error and sleeps 1 s at
	// the end; member i starts once member i-1 has registered with the
	// provider (see paGrainProvider), so the sleeps overlap.
	attempted := make([]bool, members)
	startErrs := make([]error, members)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release[i]()
			defer func() {
				if r := recover(); r != nil {
					startErrs[i] = fmt.Errorf("proto.actor member %d: StartMember: %v", i, r)
					failed.Store(true)
				}
			}()
			if i > 0 {
				<-registered[i-1]
			}
			attempted[i] = true
			c.StartMember()
		}()
	}
	defer func() { paGrainShutdown(clusters, attempted) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		all := true
		for i := range seen {
			if int(seen[i].Load()) != members {
				all = false
			}
		}
		if all || failed.Load() {
			break
		}
		if time.Now().After(deadline) {
			wg.Wait()
			return nil, fmt.Errorf("proto.actor test provider: no formation of %d members within 30s", members)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	for _, err := range startErrs {
		if err != nil {
			return nil, err
		}
	}

	c := clusters[0]
	idents := make([]string, ids)
	msgs := make([]*protos.Ping, ids)
	for i := range idents {
		idents[i] = "g" + strconv.Itoa(i)
		msgs[i] = &protos.Ping{Text: idents[i]}
	}
	call := func(k int) error {
		resp, err := c.Request(idents[k], paGrainKind, msgs[k], pcluster.WithTimeout(5*time.Second))
		if err != nil {
			return fmt.Errorf("proto.actor grain %s: %w", idents[k], err)
		}
		if p, ok := resp.(*protos.Ping); !ok || p.GetText() != idents[k] {
			return fmt.Errorf("proto.actor grain %s: unexpected reply %T %v", idents[k], resp, resp)
		}
		return nil
	}
	for k := range ids {
		if err := call(k); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	lat := make([]time.Duration, 0, calls)
	for n := range calls {
		t0 := time.Now()
		if err := call(n % ids); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

// paGrainShutdown stops the members concurrently with proto.actor's
// graceful Shutdown (it deregisters from the provider and stops gossip, the
// member list and the identity lookup, but sleeps 2 s for ownership
// transfer; the non-graceful one only closes the system's stop channel and
// the gRPC server, leaving every actor and goroutine running). It gives up
// waiting after 15 s so the caller always returns.
func paGrainShutdown(clusters []*pcluster.Cluster, attempted []bool) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clusters {
		if !attempted[i] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = recover() }()
			c.Shutdown(true)
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
}
