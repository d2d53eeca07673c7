//go:build !race

// proto.actor's cluster has data races of its own (see protocluster_test.go),
// so this example runs in the suite's ordinary pass only.

package protocluster_test

import (
	"fmt"
	"strconv"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/protocluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/provider/static"
)

// A proto.actor cluster member discovering its peers through Foundation's
// static provider and admitting them with Foundation's membership. A real
// deployment lists every member's host:port as seeds.
func Example() {
	ports := freePorts(2)
	port, cport := ports[0], ports[1] // remoting, cluster port
	seeds, err := static.New([]string{"127.0.0.1:" + strconv.Itoa(cport)})
	if err != nil {
		fmt.Println(err)
		return
	}
	prov, err := protocluster.NewProvider(seeds, cluster.MembershipConfig{
		Secret:              []byte("a shared secret"),
		Bind:                "127.0.0.1:" + strconv.Itoa(cport),
		ProbeInterval:       100 * time.Millisecond,
		ProbeTimeout:        60 * time.Millisecond,
		GossipInterval:      50 * time.Millisecond,
		SuspicionMultiplier: 3,
		SplitBrain:          cluster.ResolverConfig{StableAfter: 250 * time.Millisecond},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sys := pactor.NewActorSystem()
	c := pcluster.New(sys, pcluster.Configure("shop", prov, disthash.New(), remote.Configure("127.0.0.1", port)))
	c.StartMember()
	defer c.Shutdown(true)

	deadline := time.Now().Add(5 * time.Second)
	for c.MemberList.Members().Len() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("proto.actor members:", c.MemberList.Members().Len())
	// Output: proto.actor members: 1
}

// freePorts returns n distinct ports of 127.0.0.1, free a moment ago,
// from below the kernel's ephemeral range (see nodeproc.FreePorts).
func freePorts(n int) []int {
	ports, _ := nodeproc.FreePorts(n)
	return ports
}
