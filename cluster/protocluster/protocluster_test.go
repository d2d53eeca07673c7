//go:build !race

// This test runs proto.actor's own cluster, which has data races of its own
// whatever its provider: MemberList.UpdateClusterTopology writes the member
// set under a mutex that gossip's ContainsMemberID and the BlockList reads do
// not take (cluster/member_list.go:239, remote/blocklist.go:44 at the pinned
// version). Under the race detector it would report those, so it runs in the
// ordinary (non -race) pass of the suite; see the Makefile's test target.

package protocluster_test

import (
	"strconv"
	"testing"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/cluster/protocluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/provider/static"
)

// TestProtoActorMemberListFollowsFoundation runs three proto.actor cluster
// members whose provider is Foundation's static discovery plus Membership:
// proto.actor's member list sees all three, then the two survivors of a
// crash.
func TestProtoActorMemberListFollowsFoundation(t *testing.T) {
	all, err := nodeproc.FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	ports, cports := all[:3], all[3:] // remoting, cluster
	var seeds []string
	for _, p := range cports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	var clusters []*pcluster.Cluster
	var provs []*protocluster.Provider
	for i, port := range ports {
		sp, err := static.New(seeds)
		if err != nil {
			t.Fatal(err)
		}
		prov, err := protocluster.NewProvider(sp, cluster.MembershipConfig{
			Secret:              []byte("protocluster-secret"),
			Bind:                "127.0.0.1:" + strconv.Itoa(cports[i]),
			ProbeInterval:       100 * time.Millisecond,
			ProbeTimeout:        60 * time.Millisecond,
			GossipInterval:      50 * time.Millisecond,
			SuspicionMultiplier: 3,
			SplitBrain:          cluster.ResolverConfig{StableAfter: 250 * time.Millisecond},
		})
		if err != nil {
			t.Fatal(err)
		}
		sys := pactor.NewActorSystem()
		cfg := pcluster.Configure("pc-test", prov, disthash.New(), remote.Configure("127.0.0.1", port))
		c := pcluster.New(sys, cfg)
		c.StartMember()
		clusters = append(clusters, c)
		provs = append(provs, prov)
	}
	clustertest.Eventually(t, func() bool {
		for _, c := range clusters {
			if c.MemberList.Members().Len() != 3 {
				return false
			}
		}
		return true
	}, 10*time.Second, "proto.actor member lists hold 3 members")
	// A crash of the third member: the others' proto.actor member lists
	// follow Foundation's removal.
	provs[2].Shutdown(false)
	clustertest.Eventually(t, func() bool {
		return clusters[0].MemberList.Members().Len() == 2 && clusters[1].MemberList.Members().Len() == 2
	}, 5*time.Second, "survivors' member lists drop the crashed member")
	for _, c := range clusters[:2] {
		c.Shutdown(true)
	}
	clusters[2].Shutdown(false)
}
