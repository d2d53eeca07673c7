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
