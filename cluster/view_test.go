package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestViewGolden drives the pure core through a scripted history and
// compares the event trace with the expected one.
func TestViewGolden(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	mem := func(id, addr string, started int) Member {
		return Member{ID: id, Address: "r" + addr, ClusterAddress: addr, Started: at(started)}
	}
	self := mem("s", "h:0", 0)
	a, b, c := mem("a", "h:1", 0), mem("b", "h:2", 0), mem("c", "h:3", 0)
	a2 := mem("a2", "h:1", 500) // a new run of a
	aOld := mem("a0", "h:1", -10)
	s := newViewState(self, ResolverConfig{Strategy: KeepMajority, StableAfter: 100 * time.Millisecond}, at(0))
	var trace []string
	rec := func(evs []MemberEvent) {
		for _, e := range evs {
			trace = append(trace, fmt.Sprintf("%v #%d %s", e.At.Sub(t0), e.Epoch, e))
		}
	}
	admitted := func(evs []MemberEvent, adm admission) []MemberEvent {
		rec(evs)
		trace = append(trace, "  admission "+[]string{"admit", "reject", "verify"}[adm])
		return nil
	}
	tick := func(ms int) {
		evs, req, ok := s.tick(at(ms))
		rec(evs)
		if ok {
			trace = append(trace, fmt.Sprintf("  lease %+v", req))
		}
	}
	tick(0) // not joined: nothing
	rec(admitted(s.alive(self, false, at(0))))
	rec(admitted(s.alive(a, false, at(0))))
	rec(admitted(s.alive(b, false, at(0))))
	rec(admitted(s.alive(c, false, at(0))))
	rec(s.suspect("c", "swim", at(10)))
	tick(100) // c's SWIM set stable 90ms: kept
	tick(110) // stable 100ms: 3 of 4 reachable, keep-majority downs c
	rec(admitted(s.alive(c, false, at(120))))
	rec(admitted(s.alive(c, true, at(130))))
	rec(s.probed("a", false, at(200)))
	rec(s.probed("b", false, at(200)))
	rec(s.probed("c", false, at(200))) // 1 of 4 reachable to this member: fenced at once
	tick(250)
	tick(300) // the fence set stable 100ms: down this side
	rec(s.probed("a", true, at(350)))
	rec(s.probed("b", true, at(350)))
	rec(s.probed("c", true, at(350))) // every member answers again: serving
	rec(s.left("b", at(400)))
	rec(admitted(s.alive(b, true, at(410)))) // a member that left never returns
	rec(admitted(s.alive(aOld, false, at(420))))
	rec(admitted(s.alive(a2, false, at(510))))
	ac := c
	ac.Labels = map[string]string{"zone": "x"}
	rec(admitted(s.alive(ac, false, at(520))))
	rec(s.refused("c", at(600)))
	rec(s.stop(at(700)))
	want := []string{
		"  admission admit",
		"0s #1 joined a@rh:1",
		"0s #2 self serving (joined the cluster)",
		"  admission admit",
		"0s #3 joined b@rh:2",
		"  admission admit",
		"0s #4 joined c@rh:3",
		"  admission admit",
		"10ms #5 unreachable c@rh:3 (swim)",
		"110ms #6 removed c@rh:3 (downed by the split-brain resolver (keep-majority: majority: 3 of 4 members reachable))",
		"  admission verify",
		"130ms #7 joined c@rh:3",
		"  admission admit",
		"200ms #8 self fenced (this side would not survive a split (keep-majority: minority: 1 of 4 members reachable))",
		"300ms #9 self downed (keep-majority: minority: 1 of 4 members reachable)",
		"350ms #10 self serving (every member answers)",
		"400ms #11 left b@rh:2 (left gracefully)",
		"  admission reject",
		"  admission reject",
		"510ms #12 removed a@rh:1 (replaced by a new run at the same address)",
		"510ms #13 joined a2@rh:1",
		"  admission admit",
		"520ms #14 updated c@rh:3",
		"  admission admit",
		"600ms #15 removed c@rh:3 (its cluster port refuses connections: the process is gone)",
		"700ms #16 self stopped (stopped)",
	}
	if got := strings.Join(trace, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("trace:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	v := s.view()
	if len(v.Members) != 2 || v.Members[0].ID != "s" || v.Members[1].ID != "a2" || v.Self != Stopped || v.Epoch != 16 {
		t.Fatalf("view: %+v", v)
	}
}

// A side whose own probes miss a member that SWIM still reports alive (an
// asymmetric link) does not down it: only SWIM's corroborated verdicts
// down others.
func TestViewAsymmetricLinkDownsNobody(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := newViewState(Member{ID: "s", ClusterAddress: "h:0"}, ResolverConfig{StableAfter: 100 * time.Millisecond}, t0)
	for _, id := range []string{"a", "b"} {
		s.alive(Member{ID: id, ClusterAddress: "h:" + id}, false, t0)
	}
	s.probed("b", false, t0)
	for ms := 0; ms <= 1000; ms += 50 {
		evs, _, _ := s.tick(t0.Add(time.Duration(ms) * time.Millisecond))
		for _, e := range evs {
			t.Fatalf("event %v", e)
		}
	}
	if len(s.view().Members) != 3 || s.status != Serving {
		t.Fatalf("view %+v", s.view())
	}
}

// lease-majority asks for the lease once the fence set is stable, and
// decides by the answer.
func TestViewLeaseMajority(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, held := range []bool{true, false} {
		s := newViewState(Member{ID: "s", ClusterAddress: "h:0"}, ResolverConfig{Strategy: LeaseMajority, StableAfter: 100 * time.Millisecond, AcquireDelay: time.Second}, t0)
		for _, id := range []string{"a", "b"} {
			s.alive(Member{ID: id, ClusterAddress: "h:" + id}, false, t0)
		}
		s.suspect("b", "swim", at(0))
		if _, _, ok := s.tick(at(50)); ok {
			t.Fatal("lease asked before stable-after")
		}
		_, req, ok := s.tick(at(100))
		if !ok || req.owner != "a" || req.delay != 0 {
			t.Fatalf("lease request %+v %v", req, ok)
		}
		s.leaseResult(req.key, held)
		evs, _, _ := s.tick(at(150))
		if len(evs) == 0 {
			t.Fatalf("held=%v: no events", held)
		}
		last := evs[len(evs)-1]
		if held && (len(evs) != 1 || last.Kind != Removed || last.Member.ID != "b") {
			t.Fatalf("held: %v", evs)
		}
		if !held && (last.Kind != SelfChanged || last.Self != Downed) {
			t.Fatalf("lost: %v", evs)
		}
	}
}
