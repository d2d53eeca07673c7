package grain_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/grain"
)

func TestPartitionedSpreadsAndKeepsOneActivation(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 3, func(int) []grain.Kind { return []grain.Kind{counterKind(reg, "counter", grain.Partitioned)} })
	hosts := c.Hosts()
	where := map[string]int{}
	for i := 0; i < 60; i++ {
		id := fmt.Sprintf("c%d", i)
		var first string
		for _, h := range hosts { // every member reaches the same activation
			m := add(t, h, "counter", id)
			if first == "" {
				first = m
			} else if m != first {
				t.Fatalf("%s answered from %s and %s", id, first, m)
			}
		}
		where[first]++
		got, err := grain.Get[*wrapperspb.Int64Value](hosts[0], "counter", id).Call(ctxT(t, 5*time.Second), wrapperspb.String("get"))
		if err != nil || got.Value != 3 {
			t.Fatalf("%s count = %v, %v; want 3", id, got, err)
		}
	}
	if len(where) != 3 {
		t.Fatalf("60 identities landed on %d members: %v", len(where), where)
	}
	if d := reg.duplicates(); len(d) > 0 {
		t.Fatalf("duplicate activations: %v", d)
	}
	if n := reg.liveCount(); n != 60 {
		t.Fatalf("%d live activations, want 60", n)
	}
}
