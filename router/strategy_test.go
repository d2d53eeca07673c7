package router_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/router"
)

func testPIDs(n int) []*actor.PID {
	out := make([]*actor.PID, n)
	for i := range out {
		out[i] = &actor.PID{Address: "nonhost", Id: fmt.Sprintf("p%d", i)}
	}
	return out
}

func picks(t *testing.T, s router.Strategy, rs router.Snapshot, msgs ...any) []int {
	t.Helper()
	out := make([]int, len(msgs))
	for i, m := range msgs {
		j, err := s.Pick(m, rs)
		if err != nil {
			t.Fatalf("Pick(%v): %v", m, err)
		}
		out[i] = j
	}
	return out
}

func times(n int) []any { return make([]any, n) }

func TestRoundRobinPick(t *testing.T) {
	s := router.RoundRobin()
	rs := router.Snapshot{PIDs: testPIDs(3)}
	if got := fmt.Sprint(picks(t, s, rs, times(7)...)); got != "[0 1 2 0 1 2 0]" {
		t.Fatalf("picks %s", got)
	}
	// A smaller set continues from the counter.
	if got := fmt.Sprint(picks(t, s, router.Snapshot{PIDs: testPIDs(2)}, times(3)...)); got != "[1 0 1]" {
		t.Fatalf("picks after shrinking %s", got)
	}
}

func TestRandomPick(t *testing.T) {
	rs := router.Snapshot{PIDs: testPIDs(5)}
	a := picks(t, router.Random(rand.NewPCG(1, 2)), rs, times(50)...)
	b := picks(t, router.Random(rand.NewPCG(1, 2)), rs, times(50)...)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("the same seed picked differently:\n%v\n%v", a, b)
	}
	seen := map[int]int{}
	for _, i := range picks(t, router.Random(nil), rs, times(5000)...) {
		seen[i]++
	}
	for i := range 5 {
		if seen[i] < 800 || seen[i] > 1200 {
			t.Errorf("routee %d picked %d times of 5000; want about 1000", i, seen[i])
		}
	}
}

func TestConsistentHashPick(t *testing.T) {
	a := router.Snapshot{PIDs: testPIDs(5), Version: 1}
	b := router.Snapshot{PIDs: append(testPIDs(5), &actor.PID{Address: "nonhost", Id: "p5"}), Version: 2}
	s := router.ConsistentHash(router.MessageKey)
	fresh := func(rs router.Snapshot, k key) int {
		i, err := router.ConsistentHash(router.MessageKey).Pick(k, rs)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	// The same strategy across snapshots: its cache follows the version.
	for round := range 3 {
		for _, rs := range []router.Snapshot{a, b, a} {
			for k := range 50 {
				m := key(fmt.Sprintf("k%d", k))
				got, err := s.Pick(m, rs)
				if err != nil || got != fresh(rs, m) {
					t.Fatalf("round %d, v%d, %s: pick %d, %v; want %d", round, rs.Version, m, got, err, fresh(rs, m))
				}
			}
		}
	}
	// A KeyFunc of one's own.
	byLen := router.ConsistentHash(func(m any) (string, bool) {
		s, ok := m.(string)
		return fmt.Sprint(len(s)), ok
	})
	x, _ := byLen.Pick("abc", a)
	y, _ := byLen.Pick("xyz", a)
	if x != y {
		t.Fatalf("equal keys routed apart: %d, %d", x, y)
	}
	if _, err := byLen.Pick(42, a); !errors.Is(err, router.ErrNoKey) || !strings.Contains(err.Error(), "int") {
		t.Fatalf("no key: %v; want ErrNoKey naming the type", err)
	}
	if _, err := s.Pick("not hashable", a); !errors.Is(err, router.ErrNoKey) {
		t.Fatalf("MessageKey of a string: %v; want ErrNoKey", err)
	}
	if _, err := router.ConsistentHash(nil).Pick(key("k"), a); !errors.Is(err, router.ErrNoKeyFunc) {
		t.Fatalf("nil KeyFunc: %v; want ErrNoKeyFunc", err)
	}
}

func TestSmallestMailboxPick(t *testing.T) {
	rs := router.Snapshot{PIDs: testPIDs(4)}
	depth := map[string]int{"p0": 3, "p1": 0, "p2": 1, "p3": 0}
	s := router.SmallestMailbox(func(pid *actor.PID) (int, bool) { d, ok := depth[pid.Id]; return d, ok })
	// The scan starts one further each time: idle p1 and p3 share the load.
	if got := fmt.Sprint(picks(t, s, rs, times(4)...)); got != "[1 1 3 3]" {
		t.Fatalf("picks %s", got)
	}
	depth = map[string]int{"p0": 3, "p2": 2} // p1 and p3 unknown
	if got := fmt.Sprint(picks(t, s, rs, times(2)...)); got != "[2 2]" {
		t.Fatalf("picks with unknown depths %s", got)
	}
	if _, err := router.SmallestMailbox(nil).Pick(nil, rs); !errors.Is(err, router.ErrInvalid) {
		t.Fatalf("unbound SmallestMailbox(nil): %v; want ErrInvalid", err)
	}
}

func TestAdaptivePick(t *testing.T) {
	rs := router.Snapshot{PIDs: testPIDs(3)}
	load := map[string]float64{"p0": 0, "p1": 1, "p2": 99} // weights 1, 1/2, 1/100
	s := router.Adaptive(func(pid *actor.PID) (float64, bool) { l, ok := load[pid.Id]; return l, ok }, rand.NewPCG(7, 7))
	seen := map[int]int{}
	for _, i := range picks(t, s, rs, times(15000)...) {
		seen[i]++
	}
	// Expected shares: 1/1.51, 0.5/1.51, 0.01/1.51.
	for i, want := range []float64{0.662, 0.331, 0.0066} {
		got := float64(seen[i]) / 15000
		if got < want*0.85-0.002 || got > want*1.15+0.002 {
			t.Errorf("routee %d share %.4f; want %.4f", i, got, want)
		}
	}
	if _, err := router.Adaptive(nil, nil).Pick(nil, rs); !errors.Is(err, router.ErrInvalid) {
		t.Fatalf("unbound Adaptive(nil): %v; want ErrInvalid", err)
	}
}
