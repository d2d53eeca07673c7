package grain

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/foundation-go/foundation/cluster"
)

// This file is the placement core: pure functions of a view, with no
// goroutines and no clock, tested on their own. decide.go holds the claim
// and move decisions built on it.

// node is one member as placement sees it.
type node struct {
	id      string
	labels  map[string]string
	kinds   map[string]bool
	started time.Time
	up      bool // Up in the membership view (not Unreachable)
}

// view is one member's picture of the cluster for placement. It is
// immutable once built.
type view struct {
	self string
	// serving: this member may hold exclusive and sticky activations (it
	// joined a cluster and its side would survive a split).
	serving bool
	// nodes: every member of the view, Up or Unreachable.
	nodes map[string]*node
	// hosts: per kind, the Up members that may activate it (role-filtered
	// for Role kinds), sorted by id: where placement puts identities.
	hosts map[string][]*node
	// claimees: per kind, every member that may hold an activation of it,
	// Unreachable ones included: whom a new activation must claim from.
	claimees map[string][]*node
	// id identifies the view: two members with the same members, status,
	// kinds and labels have the same id.
	id uint64
}

// buildView makes the placement view of a membership view, for the
// declared kinds.
func buildView(self string, cv cluster.View, kinds map[string]*kindState) *view {
	v := &view{self: self, serving: cv.Self == cluster.Serving, nodes: make(map[string]*node, len(cv.Members)),
		hosts: make(map[string][]*node, len(kinds)), claimees: make(map[string][]*node, len(kinds))}
	members := slices.Clone(cv.Members)
	slices.SortFunc(members, func(a, b cluster.Member) int { return strings.Compare(a.ID, b.ID) })
	h := fnv.New64a()
	for _, m := range members {
		n := &node{id: m.ID, labels: m.Labels, kinds: make(map[string]bool, len(m.Kinds)), started: m.Started, up: m.Status == cluster.Up}
		for _, k := range m.Kinds {
			n.kinds[k] = true
		}
		v.nodes[m.ID] = n
		fmt.Fprintf(h, "%s|%d|%q|", m.ID, m.Status, slices.Sorted(slices.Values(m.Kinds)))
		for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
			fmt.Fprintf(h, "%q=%q,", k, m.Labels[k])
		}
		h.Write([]byte{0})
	}
	v.id = h.Sum64()
	for name, k := range kinds {
		var hs, cs []*node
		for _, m := range members {
			n := v.nodes[m.ID]
			if !n.kinds[name] || (k.def.Placement == Role && !roleMatch(n.labels, k.def.Role)) {
				continue
			}
			cs = append(cs, n)
			if n.up {
				hs = append(hs, n)
			}
		}
		v.hosts[name], v.claimees[name] = hs, cs
	}
	return v
}

func roleMatch(labels, role map[string]string) bool {
	for k, want := range role {
		if got, ok := labels[k]; !ok || got != want {
			return false
		}
	}
	return true
}

// score is the rendezvous weight of (member, identity): FNV-1a over both,
// then a 64-bit finalizer so that close inputs spread.
func score(member, identity string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(member); i++ {
		h ^= uint64(member[i])
		h *= prime
	}
	h ^= 0xff
	h *= prime
	for i := 0; i < len(identity); i++ {
		h ^= uint64(identity[i])
		h *= prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// rendezvous returns the member of ns with the highest score for identity
// (ties by id), or nil.
func rendezvous(identity string, ns []*node) *node {
	var best *node
	var bestScore uint64
	for _, n := range ns {
		s := score(n.id, identity)
		if best == nil || s > bestScore || (s == bestScore && n.id < best.id) {
			best, bestScore = n, s
		}
	}
	return best
}

// ranked returns ns ordered by descending score for identity.
func ranked(identity string, ns []*node) []*node {
	out := slices.Clone(ns)
	slices.SortFunc(out, func(a, b *node) int {
		sa, sb := score(a.id, identity), score(b.id, identity)
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return compareStrings(a.id, b.id)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// oldest returns the member of ns that started first (ties by id), or nil.
func oldest(ns []*node) *node {
	var best *node
	for _, n := range ns {
		if best == nil || n.started.Before(best.started) || (n.started.Equal(best.started) && n.id < best.id) {
			best = n
		}
	}
	return best
}

// place returns the member that should hold (kind, identity) in v for the
// exclusive and stateless placements, and the directory owner for sticky
// ones; nil when no member hosts the kind.
func (v *view) place(p Placement, kind, identity string) *node {
	hs := v.hosts[kind]
	switch p {
	case Singleton:
		return oldest(hs)
	case Local:
		if n := v.nodes[v.self]; n != nil && slices.Contains(hs, n) {
			return n
		}
		return nil
	case Replicated:
		if n := v.nodes[v.self]; n != nil && slices.Contains(hs, n) {
			return n
		}
		return rendezvous(v.self, hs)
	}
	return rendezvous(identity, hs) // Partitioned, Role, and the owner of sticky kinds
}

// leastLoaded picks the member with the lowest load among candidates, ties
// going to the higher rendezvous score for identity.
func leastLoaded(identity string, candidates []*node, load map[string]int64) *node {
	var best *node
	for _, n := range ranked(identity, candidates) {
		if best == nil || load[n.id] < load[best.id] {
			best = n
		}
	}
	return best
}
