package service

import (
	"fmt"
	"testing"

	"github.com/foundation-go/foundation/actor"
)

func insts(members ...string) []Instance {
	var out []Instance
	for i, m := range members {
		out = append(out, Instance{Service: "s", Member: m, PID: &actor.PID{Address: m, Id: fmt.Sprint(i)}})
	}
	return out
}

func TestBalancers(t *testing.T) {
	local2 := insts("self", "self", "b", "c") // this member's first, as snapshots are
	remote := insts("b", "c", "d")
	inflight := func(v ...int64) func(int) int64 { return func(i int) int64 { return v[i] } }
	zero := func(int) int64 { return 0 }
	cases := []struct {
		name string
		b    Balancer
		in   pickInput
		want int
	}{
		{"round robin turn 0", RoundRobin(), pickInput{insts: remote, turn: 0}, 0},
		{"round robin turn 4", RoundRobin(), pickInput{insts: remote, turn: 4}, 1},
		{"random uses its draw", Random(), pickInput{insts: remote, random: func(n int) int { return n - 1 }}, 2},
		{"least in flight", LeastInFlight(), pickInput{insts: remote, inflight: inflight(3, 1, 2)}, 1},
		{"least in flight ties prefer this member", LeastInFlight(), pickInput{insts: local2, self: "self", turn: 2, inflight: inflight(1, 0, 0, 0)}, 1},
		{"least in flight ties rotate with the turn", LeastInFlight(), pickInput{insts: remote, turn: 1, inflight: zero}, 1},
		{"prefer local among locals", PreferLocal(RoundRobin()), pickInput{insts: local2, self: "self", turn: 3}, 1},
		{"prefer local falls back", PreferLocal(nil), pickInput{insts: remote, self: "self", turn: 2}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.pick(tc.in); got != tc.want {
				t.Fatalf("picked %d, want %d", got, tc.want)
			}
		})
	}
}

// ConsistentHash: a key always goes to the same instance; removing an
// instance moves only the keys it had.
func TestConsistentHashMovesOnlyTheRemovedShare(t *testing.T) {
	b := ConsistentHash(func(m any) string { return m.(string) })
	all := insts("a", "b", "c", "d")
	without := append(append([]Instance{}, all[:2]...), all[3:]...) // c removed
	moved := 0
	for k := 0; k < 1000; k++ {
		key := fmt.Sprint("key-", k)
		before := all[b.pick(pickInput{insts: all, msg: key})]
		if again := all[b.pick(pickInput{insts: all, msg: key})]; again.ID() != before.ID() {
			t.Fatal("not deterministic")
		}
		after := without[b.pick(pickInput{insts: without, msg: key})]
		if before.ID() != after.ID() {
			moved++
			if before.Member != "c" {
				t.Fatalf("key %s moved from %s though c was removed", key, before.Member)
			}
		}
	}
	if moved < 150 || moved > 350 {
		t.Fatalf("%d of 1000 keys moved, want about a quarter", moved)
	}
}
