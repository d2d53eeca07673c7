package federation

import (
	"errors"
	"maps"
	"testing"
)

func links(ls ...Link) map[Link]bool {
	m := map[Link]bool{}
	for _, l := range ls {
		m[l] = true
	}
	return m
}

func TestRoutes(t *testing.T) {
	mesh := Topology{Kind: Mesh, Clusters: []string{"web", "processing", "ai"}}
	hub := Topology{Kind: HubSpoke, Clusters: []string{"hub", "a", "b", "c"}, Hub: "hub"}
	// root
	// ├── eu ── eu1, eu2
	// └── us ── us1
	tree := Topology{Kind: Hierarchical, Clusters: []string{"root", "eu", "us", "eu1", "eu2", "us1"},
		Parent: map[string]string{"eu": "root", "us": "root", "eu1": "eu", "eu2": "eu", "us1": "us"}}
	allTree := links(NewLink("root", "eu"), NewLink("root", "us"), NewLink("eu", "eu1"), NewLink("eu", "eu2"), NewLink("us", "us1"))
	noTree := func(l Link) map[Link]bool { m := maps.Clone(allTree); delete(m, l); return m }

	for _, tc := range []struct {
		name string
		t    Topology
		self string
		up   map[Link]bool
		want map[string]string
	}{
		{"mesh all up", mesh, "web", links(NewLink("web", "ai"), NewLink("web", "processing"), NewLink("ai", "processing")),
			map[string]string{"ai": "ai", "processing": "processing"}},
		{"mesh direct link lost: detour", mesh, "web", links(NewLink("web", "ai"), NewLink("ai", "processing")),
			map[string]string{"ai": "ai", "processing": "ai"}},
		{"mesh cluster cut off", mesh, "web", links(NewLink("web", "ai")),
			map[string]string{"ai": "ai"}},
		{"mesh no links", mesh, "web", nil, map[string]string{}},
		{"mesh unknown self", mesh, "nope", links(NewLink("web", "ai")), map[string]string{}},
		{"hub-spoke spoke to spoke via hub", hub, "a", links(NewLink("hub", "a"), NewLink("hub", "b"), NewLink("hub", "c")),
			map[string]string{"hub": "hub", "b": "hub", "c": "hub"}},
		{"hub-spoke hub", hub, "hub", links(NewLink("hub", "a"), NewLink("hub", "b"), NewLink("hub", "c")),
			map[string]string{"a": "a", "b": "b", "c": "c"}},
		{"hub-spoke spoke link lost", hub, "a", links(NewLink("hub", "a"), NewLink("hub", "c")),
			map[string]string{"hub": "hub", "c": "hub"}},
		{"hub-spoke own link lost", hub, "a", links(NewLink("hub", "b"), NewLink("hub", "c")), map[string]string{}},
		{"hub-spoke spoke-spoke link ignored", hub, "a", links(NewLink("a", "b"), NewLink("hub", "a")),
			map[string]string{"hub": "hub"}},
		{"tree leaf goes up", tree, "eu1", allTree,
			map[string]string{"eu": "eu", "eu2": "eu", "root": "eu", "us": "eu", "us1": "eu"}},
		{"tree root goes down", tree, "root", allTree,
			map[string]string{"eu": "eu", "eu1": "eu", "eu2": "eu", "us": "us", "us1": "us"}},
		{"tree middle", tree, "eu", allTree,
			map[string]string{"eu1": "eu1", "eu2": "eu2", "root": "root", "us": "root", "us1": "root"}},
		{"tree link lost cuts the subtree", tree, "eu1", noTree(NewLink("root", "us")),
			map[string]string{"eu": "eu", "eu2": "eu", "root": "eu"}},
		{"tree leaf link lost", tree, "us1", noTree(NewLink("us", "us1")), map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Routes(tc.t, tc.self, tc.up)
			if !maps.Equal(got, tc.want) {
				t.Fatalf("Routes(%s) = %v, want %v", tc.self, got, tc.want)
			}
			// Pure: the same inputs give the same table.
			if again := Routes(tc.t, tc.self, tc.up); !maps.Equal(again, got) {
				t.Fatalf("not deterministic: %v then %v", got, again)
			}
		})
	}
}

func TestTopologyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Topology
		ok   bool
	}{
		{"mesh", Topology{Clusters: []string{"a", "b"}}, true},
		{"duplicate", Topology{Clusters: []string{"a", "a"}}, false},
		{"empty name", Topology{Clusters: []string{""}}, false},
		{"bad kind", Topology{Kind: "ring", Clusters: []string{"a"}}, false},
		{"hub missing", Topology{Kind: HubSpoke, Clusters: []string{"a", "b"}, Hub: "c"}, false},
		{"hub ok", Topology{Kind: HubSpoke, Clusters: []string{"a", "b"}, Hub: "a"}, true},
		{"tree ok", Topology{Kind: Hierarchical, Clusters: []string{"a", "b"}, Parent: map[string]string{"b": "a"}}, true},
		{"tree two roots", Topology{Kind: Hierarchical, Clusters: []string{"a", "b"}}, false},
		{"tree cycle", Topology{Kind: Hierarchical, Clusters: []string{"r", "a", "b"}, Parent: map[string]string{"a": "b", "b": "a"}}, false},
		{"tree unknown parent", Topology{Kind: Hierarchical, Clusters: []string{"a", "b"}, Parent: map[string]string{"b": "x"}}, false},
	} {
		err := tc.t.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
