package grain_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/grain"
)

// TestSingletonFailoverAfterCrash kills the member hosting a singleton (no
// goodbye: its connections drop, its port refuses) and calls from a
// survivor: the call succeeds on a new activation well within a second,
// long before the membership removes the dead member.
func TestSingletonFailoverAfterCrash(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 3, func(int) []grain.Kind { return []grain.Kind{counterKind(reg, "single", grain.Singleton)} })
	// The singleton goes to the oldest member of the caller's view: member
	// 0, unless a membership flap under load hid it at that moment. Kill
	// whichever member hosts it, and call from another.
	dead := add(t, c.Host(2), "single", "s")
	hosting, survivorIdx, otherIdx := -1, -1, -1
	for i := range 3 {
		switch {
		case c.Host(i).Self() == dead:
			hosting = i
		case survivorIdx < 0:
			survivorIdx = i
		default:
			otherIdx = i
		}
	}
	if hosting < 0 {
		t.Fatalf("singleton on %s, not a member of the cluster", dead)
	}
	survivor := c.Host(survivorIdx)
	c.Kill(hosting)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := grain.Get[*wrapperspb.StringValue](survivor, "single", "s").Call(ctx, wrapperspb.Int64(1))
	took := time.Since(start)
	if err != nil {
		t.Fatalf("call after the crash: %v (after %v)", err, took)
	}
	if r.Value == dead {
		t.Fatal("answered by the dead member")
	}
	t.Logf("failover in %v, now on %s", took, r.Value)
	if n := get(t, c.Host(otherIdx), "single", "s"); n != 1 {
		t.Fatalf("new activation count %d, want 1 (a fresh activation)", n)
	}
	if d := reg.duplicates(); len(d) > 0 {
		t.Fatal(d)
	}
}
