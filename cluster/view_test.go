package cluster_test

import (
	"testing"

	"github.com/foundation-go/foundation/cluster"
)

func TestViewLowestUp(t *testing.T) {
	m := func(id string, s cluster.Status) cluster.Member { return cluster.Member{ID: id, Status: s} }
	cases := []struct {
		members []cluster.Member
		want    string
	}{
		{nil, ""},
		{[]cluster.Member{m("b", cluster.Unreachable)}, ""},
		{[]cluster.Member{m("c", cluster.Up), m("a", cluster.Unreachable), m("b", cluster.Up)}, "b"},
		{[]cluster.Member{m("a", cluster.Up)}, "a"},
	}
	for _, c := range cases {
		if got := (cluster.View{Members: c.members}).LowestUp(); got != c.want {
			t.Errorf("LowestUp(%v) = %q, want %q", c.members, got, c.want)
		}
	}
}

func TestMemberHasLabels(t *testing.T) {
	m := cluster.Member{Labels: map[string]string{"tier": "ai", "zone": "a"}}
	for _, c := range []struct {
		want map[string]string
		ok   bool
	}{
		{nil, true},
		{map[string]string{"tier": "ai"}, true},
		{map[string]string{"tier": "ai", "zone": "a"}, true},
		{map[string]string{"tier": "ai", "zone": "b"}, false},
		{map[string]string{"gpu": ""}, false},
	} {
		if got := m.HasLabels(c.want); got != c.ok {
			t.Errorf("HasLabels(%v) = %v, want %v", c.want, got, c.ok)
		}
	}
	if (cluster.Member{}).HasLabels(map[string]string{"tier": "ai"}) {
		t.Error("a member without labels has tier=ai")
	}
}
