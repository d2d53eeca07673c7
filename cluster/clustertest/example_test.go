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
	c := clustertest.Start(t, 3, clustertest.Options{Logger: zap.NewNop(), RemoveAfter: time.Minute})
	defer c.Stop(2)
	a, b := c.Member(0), c.Member(2)
	events, cancel := a.Membership.Subscribe(16)
	defer cancel()

	c.Network.Partition(a.Address, b.Address)
	for ev := range events {
		if ev.Kind == cluster.MemberUnreachable {
			fmt.Println("partitioned:", ev.Kind)
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
	// partitioned: unreachable
	// healed: reachable
}
