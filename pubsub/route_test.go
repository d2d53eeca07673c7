package pubsub

import (
	"fmt"
	"slices"
	"testing"
)

func TestRoute(t *testing.T) {
	up := map[string]bool{"a": true, "b": true, "c": true}
	first := func(string, int) int { return 0 }
	last := func(_ string, n int) int { return n - 1 }
	cases := []struct {
		name    string
		entries []string
		up      map[string]bool
		pick    func(string, int) int
		want    string
	}{
		{"nobody", nil, up, first, ""},
		{"plain on two members", []string{"a", "b"}, up, first, "a:plain b:plain"},
		{"a member not up gets nothing", []string{"a", "d"}, up, first, "a:plain"},
		{"a group served by one member", []string{"a|g", "b|g", "c|g"}, up, first, "a:[g]"},
		{"the pick chooses which", []string{"a|g", "b|g", "c|g"}, up, last, "c:[g]"},
		{"groups and plain together", []string{"a", "b|g", "b|h", "c|h"}, up, first, "a:plain b:[g h]"},
		{"plain and a group on one member", []string{"b", "b|g"}, up, first, "b:plain[g]"},
		{"a group's member that is down is skipped", []string{"d|g", "c|g"}, up, first, "c:[g]"},
		{"duplicate entries", []string{"a", "a", "b|g", "b|g"}, up, first, "a:plain b:[g]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := route(tc.entries, tc.up, tc.pick)
			var parts []string
			for m, d := range got {
				s := m + ":"
				if d.plain {
					s += "plain"
				}
				if len(d.groups) > 0 {
					s += fmt.Sprint(d.groups)
				}
				parts = append(parts, s)
			}
			slices.Sort(parts)
			if g := fmt.Sprint(parts); g != fmt.Sprint(splitFields(tc.want)) {
				t.Fatalf("got %s, want %s", g, tc.want)
			}
		})
	}
}

func splitFields(s string) []string {
	var out []string
	cur := ""
	depth := 0
	for _, r := range s {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		}
		if r == ' ' && depth == 0 {
			out = append(out, cur)
			cur = ""
			continue
		}
		cur += string(r)
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// Each group gets every message exactly once whatever the pick: over many
// publishes with a rotating pick, every member with subscribers in the
// group serves some.
func TestRouteGroupsSpread(t *testing.T) {
	up := map[string]bool{"a": true, "b": true, "c": true}
	served := map[string]int{}
	for i := 0; i < 30; i++ {
		got := route([]string{"a|g", "b|g", "c|g"}, up, func(_ string, n int) int { return i % n })
		n := 0
		for m, d := range got {
			if slices.Contains(d.groups, "g") {
				served[m]++
				n++
			}
		}
		if n != 1 {
			t.Fatalf("publish %d: group g served %d times", i, n)
		}
	}
	for _, m := range []string{"a", "b", "c"} {
		if served[m] != 10 {
			t.Fatalf("served %v, want 10 each", served)
		}
	}
}
