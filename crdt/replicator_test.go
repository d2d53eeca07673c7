package crdt

import (
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster/clustertest"
)

func TestReplicatorDeltasReachEveryMember(t *testing.T) {
	c := startReplicators(t, 3, nil)
	k := GCounterKey("hits")
	for i, r := range c.running() {
		if err := Update(bg(t), r, k, Local, func(g *GCounter, op Op) { g.Increment(op.Replica, uint64(i+1)) }); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool {
		for _, r := range c.running() {
			if v, ok := localValue(t, r, k); !ok || v.Value() != 6 {
				return false
			}
		}
		return true
	}, 5*time.Second, "every member counts 6")
}

func TestReplicatorMajorityWriteAndRead(t *testing.T) {
	c := startReplicators(t, 3, nil)
	k := ORSetKey("s", StringCodec())
	r0, r1 := c.rep(0), c.rep(1)
	if err := Update(bg(t), r0, k, Majority, func(s *ORSet[string], op Op) { s.Add(op.Replica, "x") }); err != nil {
		t.Fatal(err)
	}
	v, err := Get(bg(t), r1, k, Majority)
	if err != nil || !v.Contains("x") {
		t.Fatalf("Get after a majority write: %v, contains x: %v", err, err == nil && v.Contains("x"))
	}
	if err := Update(bg(t), r0, k, All, func(s *ORSet[string], op Op) { s.Add(op.Replica, "y") }); err != nil {
		t.Fatal(err)
	}
	if err := Update(bg(t), r0, k, To(4), func(s *ORSet[string], op Op) { s.Add(op.Replica, "z") }); !errors.Is(err, ErrWriteIncomplete) {
		t.Fatalf("To(4) of 3 members: %v, want ErrWriteIncomplete", err)
	}
}
