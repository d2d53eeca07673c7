//go:build !race

// Fifty SWIM members on the test machine's two cores are CPU-bound under
// the race detector (ten times slower: acks and gossip arrive late, members
// are suspected for want of CPU, not of network), so this test runs in the
// plain pass of the suite (see the Makefile's test target). The smaller
// membership tests run under the race detector.

package cluster_test

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster/clustertest"
)

// Fifty members, each given only the first member's address, form one
// cluster with the development timing: every view converges on all fifty.
func TestFiftyMembersFromOneSeed(t *testing.T) {
	t0 := time.Now()
	c := clustertest.Start(t, 50, clustertest.Options{MembershipOnly: true, Seeds: clustertest.SeedFirst, Logger: zap.NewNop()})
	agree(t, c, 50, 10*time.Second)
	t.Logf("50 members agree %v after the first started", time.Since(t0))
}
