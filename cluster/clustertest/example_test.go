package clustertest_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
)

func Example() {
	// In a test, pass the test's *testing.T.
	t := &testing.T{}
	c := clustertest.Start(t, 3, clustertest.Options{Logger: zap.NewNop(),
		SplitBrain: cluster.ResolverConfig{StableAfter: time.Minute}})
	a := c.Member(0)
	events, cancel := a.Membership.Subscribe(16)
	defer cancel()

	c.Isolate(2) // member 2's host vanishes: no RST, nothing arrives
	for ev := range events {
		if ev.Kind == cluster.MemberUnreachable {
			fmt.Println("isolated:", ev.Kind)
			break
		}
	}
	c.Network.HealAll()
	for ev := range events {
		if ev.Kind == cluster.MemberReachable {
			fmt.Println("healed:", ev.Kind)
			break
		}
	}
	for i := range c.Members() {
		c.Stop(i)
	}
	// Output:
	// isolated: unreachable
	// healed: reachable
}
