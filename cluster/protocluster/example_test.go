package protocluster_test

import (
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/protocluster"
	"github.com/foundation-go/foundation/provider/static"
)

// A proto.actor cluster member discovering its peers through Foundation's
// static provider and admitting them with Foundation's membership.
func Example() {
	seeds, _ := static.New([]string{"127.0.0.1:7351", "127.0.0.1:7352", "127.0.0.1:7353"})
	prov := protocluster.NewProvider(seeds, cluster.MembershipConfig{
		Secret:            []byte("a shared secret"),
		HeartbeatInterval: 100 * time.Millisecond,
		SuspectAfter:      300 * time.Millisecond,
		RemoveAfter:       200 * time.Millisecond,
	})
	sys := pactor.NewActorSystem()
	c := pcluster.New(sys, pcluster.Configure("shop", prov, disthash.New(), remote.Configure("127.0.0.1", 7351)))
	c.StartMember()
	defer c.Shutdown(true)
}
