package grain

import (
	"fmt"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/protos"
)

// testView builds a placement view for member self of members a, b, c
// (a oldest), all hosting kind "k", with those named in unreachable
// Unreachable; self serves unless status says otherwise.
func testView(self, unreachable string, status cluster.SelfStatus) *view {
	t0 := time.Unix(1000, 0)
	cv := cluster.View{Self: status}
	for i, id := range []string{"a", "b", "c"} {
		m := cluster.Member{ID: id, Kinds: []string{"k"}, Started: t0.Add(time.Duration(i) * time.Second), Status: cluster.Up}
		for _, u := range unreachable {
			if string(u) == id {
				m.Status = cluster.Unreachable
			}
		}
		cv.Members = append(cv.Members, m)
	}
	kinds := map[string]*kindState{}
	for _, p := range []Placement{Partitioned, Singleton, PreferLocal, Replicated} {
		kinds[fmt.Sprintf("k%d", p)] = &kindState{def: Kind{Name: "k", Placement: p}}
	}
	kinds["k"] = &kindState{def: Kind{Name: "k", Placement: Partitioned}}
	return buildView(self, cv, kinds)
}

func TestBuildViewHostsAndClaimees(t *testing.T) {
	v := testView("a", "c", cluster.Serving)
	if got := len(v.hosts["k"]); got != 2 {
		t.Fatalf("hosts: %d, want 2 (c is unreachable)", got)
	}
	if got := len(v.claimees["k"]); got != 3 {
		t.Fatalf("claimees: %d, want 3 (an unreachable member may still hold activations)", got)
	}
	if !v.serving {
		t.Fatal("not serving")
	}
	same := testView("b", "c", cluster.Downed)
	if same.id != v.id {
		t.Fatal("two members with the same members and status have different view ids")
	}
	if other := testView("a", "", cluster.Serving); other.id == v.id {
		t.Fatal("a view with another member's status has the same id")
	}
	// Placement never picks an unreachable member.
	for i := 0; i < 100; i++ {
		if n := v.place(Partitioned, "k", fmt.Sprint(i)); n == nil || n.id == "c" {
			t.Fatalf("identity %d placed on %v", i, n)
		}
	}
}

func TestDecideClaim(t *testing.T) {
	serving := testView("a", "", cluster.Serving)
	// An identity the view places on a, and one it places elsewhere.
	var mine, theirs string
	for i := 0; mine == "" || theirs == ""; i++ {
		id := fmt.Sprint(i)
		if serving.place(Partitioned, "k", id).id == "a" {
			mine = id
		} else {
			theirs = id
		}
	}
	fenced := testView("a", "", cluster.Fenced)
	none, conflict := protos.GrainFrame_NONE, protos.GrainFrame_CONFLICT
	cases := []struct {
		name       string
		v          *view
		p          Placement
		id         string
		h          holding
		senderView uint64
		want       claimDecision
	}{
		{"nothing held", serving, Partitioned, mine, holdsNothing, serving.id, claimDecision{status: none}},
		{"a stale sender is refused", serving, Partitioned, mine, holdsNothing, serving.id + 1, claimDecision{status: protos.GrainFrame_STALE}},
		{"an unknown sender view is not checked", serving, Partitioned, mine, holdsNothing, 0, claimDecision{status: none}},
		{"activating here", serving, Partitioned, theirs, holdsActivating, serving.id, claimDecision{status: conflict}},
		{"placing here (directory)", serving, PreferLocal, theirs, holdsPlacing, serving.id, claimDecision{status: conflict}},
		{"deactivating: answer once gone", serving, Partitioned, mine, holdsStopping, serving.id, claimDecision{status: none, waitGone: true}},
		{"active and ours in the view", serving, Partitioned, mine, holdsActive, serving.id, claimDecision{status: conflict}},
		{"active but placed elsewhere: release", serving, Partitioned, theirs, holdsActive, serving.id, claimDecision{status: none, release: true}},
		{"active on a fenced member: release", fenced, Partitioned, mine, holdsActive, fenced.id, claimDecision{status: none, release: true}},
		{"singleton on the oldest", serving, Singleton, "x", holdsActive, serving.id, claimDecision{status: conflict}},
		{"sticky: tell where it is", serving, PreferLocal, "x", holdsActive, serving.id, claimDecision{status: protos.GrainFrame_HAVE_IT}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideClaim(tc.v, tc.p, "k", tc.id, tc.h, tc.senderView); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestKeepHereAndMayActivate(t *testing.T) {
	for _, tc := range []struct {
		status    cluster.SelfStatus
		p         Placement
		keep, may bool
	}{
		{cluster.Serving, Singleton, true, true}, // a is the oldest
		{cluster.Fenced, Singleton, false, false},
		{cluster.Downed, Singleton, false, false},
		{cluster.Joining, Singleton, false, false},
		{cluster.Serving, PreferLocal, true, true},
		{cluster.Fenced, PreferLocal, false, false},
		{cluster.Fenced, Replicated, true, true},
		{cluster.Downed, Local, true, true},
	} {
		v := testView("a", "", tc.status)
		if got := keepHere(v, tc.p, "k", "x"); got != tc.keep {
			t.Errorf("%v %v: keepHere %v, want %v", tc.status, tc.p, got, tc.keep)
		}
		if got := mayActivate(v, tc.p); got != tc.may {
			t.Errorf("%v %v: mayActivate %v, want %v", tc.status, tc.p, got, tc.may)
		}
	}
}
