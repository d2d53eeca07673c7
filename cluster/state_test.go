package cluster

import (
	"strings"
	"testing"
	"time"
)

// TestMembershipStateGolden drives the pure core through a scripted history
// and compares the event trace with the expected one.
func TestMembershipStateGolden(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	a := Member{ID: "a", Address: "h:1", Started: t0}
	b := Member{ID: "b", Address: "h:2", Started: t0}
	b2 := Member{ID: "b2", Address: "h:2", Started: t0.Add(time.Second)} // new run of b
	s := newMembershipState("self", 300*time.Millisecond, 200*time.Millisecond)
	var trace []string
	rec := func(evs []MemberEvent) {
		for _, e := range evs {
			trace = append(trace, e.At.Sub(t0).String()+" "+e.String())
		}
	}
	rec(s.heard(Member{ID: "self", Address: "h:0"}, 1, at(0))) // self is never a peer
	rec(s.heard(a, 1, at(0)))
	rec(s.heard(b, 1, at(0)))
	rec(s.heard(a, 2, at(100)))
	rec(s.heard(a, 2, at(290)))  // a replayed packet refreshes nothing
	rec(s.tick(at(250)))         // nothing yet
	rec(s.tick(at(300)))         // b silent 300ms: unreachable; a heard at 100
	rec(s.heard(b, 2, at(350)))  // b is back
	rec(s.tick(at(400)))         // a silent 300ms
	rec(s.tick(at(599)))         // a unreachable 199ms: kept
	rec(s.tick(at(600)))         // a unreachable 200ms: removed
	rec(s.heard(a, 2, at(605)))  // a's old packet does not bring it back
	rec(s.heard(b2, 1, at(610))) // b replaced by a newer run
	rec(s.heard(b, 3, at(611)))  // the old run's late packet is ignored
	rec(s.left("b2", 1, at(700)))
	rec(s.heard(b2, 2, at(710))) // a heartbeat in flight after the leave
	rec(s.left("nobody", 1, at(700)))
	rec(s.heard(a, 3, at(720))) // a removed member heard again rejoins
	want := []string{
		"0s joined a@h:1",
		"0s joined b@h:2",
		"300ms unreachable b@h:2",
		"350ms reachable b@h:2",
		"400ms unreachable a@h:1",
		"600ms removed a@h:1 (unreachable for 200ms)",
		"610ms removed b@h:2 (replaced by a new run at the same address)",
		"610ms joined b2@h:2",
		"700ms left b2@h:2",
		"720ms joined a@h:1",
	}
	if got := strings.Join(trace, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("trace:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if v := s.view(); len(v) != 1 || v[0].ID != "a" {
		t.Fatalf("view: %v", v)
	}
}
