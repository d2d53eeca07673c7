package federation

import (
	"fmt"
	"slices"
)

// Kind is a federation's shape: which clusters link to which.
type Kind string

// The topologies.
const (
	// Mesh: every cluster links every other.
	Mesh Kind = "mesh"
	// HubSpoke: every spoke links the hub; spoke-to-spoke traffic goes
	// through the hub.
	HubSpoke Kind = "hub-spoke"
	// Hierarchical: a tree; each cluster links its parent and its
	// children, and a route goes up to the common ancestor and down.
	Hierarchical Kind = "hierarchical"
)

// Topology is the shape of a federation: the same value on every member of
// every cluster.
type Topology struct {
	// Kind of the topology. Default Mesh.
	Kind Kind `yaml:"kind"`
	// Clusters are the names of every cluster of the federation.
	Clusters []string `yaml:"clusters"`
	// Hub is the hub's name (HubSpoke only).
	Hub string `yaml:"hub"`
	// Parent maps each cluster but the root to its parent (Hierarchical
	// only).
	Parent map[string]string `yaml:"parent"`
}

// Link is an unordered pair of clusters: the link between them.
type Link struct{ A, B string }

// NewLink returns the link between a and b (its ends in order, so that
// NewLink(a, b) == NewLink(b, a)).
func NewLink(a, b string) Link {
	if b < a {
		a, b = b, a
	}
	return Link{a, b}
}

// Validate reports what is wrong with t (ErrInvalid naming the field).
func (t Topology) Validate() error {
	seen := map[string]bool{}
	for _, c := range t.Clusters {
		if c == "" {
			return fmt.Errorf("%w: Topology.Clusters: an empty name; names are non-empty", ErrInvalid)
		}
		if seen[c] {
			return fmt.Errorf("%w: Topology.Clusters: %q twice; each cluster once", ErrInvalid, c)
		}
		seen[c] = true
	}
	switch t.kind() {
	case Mesh:
	case HubSpoke:
		if !seen[t.Hub] {
			return fmt.Errorf("%w: Topology.Hub %q is not one of Topology.Clusters %v", ErrInvalid, t.Hub, t.Clusters)
		}
	case Hierarchical:
		roots := 0
		for _, c := range t.Clusters {
			p, ok := t.Parent[c]
			if !ok {
				roots++
				continue
			}
			if !seen[p] {
				return fmt.Errorf("%w: Topology.Parent[%q] = %q is not one of Topology.Clusters", ErrInvalid, c, p)
			}
			// Walking up must end at a root within len(Clusters) steps.
			x := c
			for i := 0; ; i++ {
				q, ok := t.Parent[x]
				if !ok {
					break
				}
				if i > len(t.Clusters) {
					return fmt.Errorf("%w: Topology.Parent has a cycle through %q; it must be a tree", ErrInvalid, c)
				}
				x = q
			}
		}
		for c := range t.Parent {
			if !seen[c] {
				return fmt.Errorf("%w: Topology.Parent names %q, not one of Topology.Clusters", ErrInvalid, c)
			}
		}
		if roots != 1 {
			return fmt.Errorf("%w: Topology.Parent leaves %d clusters without a parent; a tree has exactly one root", ErrInvalid, roots)
		}
	default:
		return fmt.Errorf("%w: Topology.Kind %q; one of mesh, hub-spoke, hierarchical", ErrInvalid, t.Kind)
	}
	return nil
}

func (t Topology) kind() Kind {
	if t.Kind == "" {
		return Mesh
	}
	return t.Kind
}

// Adjacent reports whether the topology lets clusters a and b link
// directly (both must be in it).
func (t Topology) Adjacent(a, b string) bool {
	if a == b || !slices.Contains(t.Clusters, a) || !slices.Contains(t.Clusters, b) {
		return false
	}
	switch t.kind() {
	case HubSpoke:
		return a == t.Hub || b == t.Hub
	case Hierarchical:
		return t.Parent[a] == b || t.Parent[b] == a
	default:
		return true
	}
}

// Neighbours returns the clusters self may link directly, sorted.
func (t Topology) Neighbours(self string) []string {
	var out []string
	for _, c := range t.Clusters {
		if t.Adjacent(self, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// Routes is the route table of cluster self: for every cluster it can
// reach, the neighbour a message to it goes to first (the next hop). It
// is a pure function of the topology and of which links are up (up[l]
// true; a link missing from up is down; links the topology does not allow
// are ignored).
//
// A route is a shortest path over the topology's links that are up, ties
// broken by the names of the hops (the smallest first), so every cluster
// computes the same paths. In a mesh that is the direct link, or, when it
// is down, a detour through one other cluster; in hub-spoke a spoke's
// routes all go to the hub; in a tree a route goes up to the common
// ancestor and down. A cluster that no path reaches has no entry; self has
// none either.
func Routes(t Topology, self string, up map[Link]bool) map[string]string {
	out := map[string]string{}
	if !slices.Contains(t.Clusters, self) {
		return out
	}
	// Breadth-first from self, neighbours in name order: the first path
	// found to a cluster is the shortest with the smallest names.
	first := map[string]string{self: ""}
	queue := []string{self}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for _, n := range t.Neighbours(c) {
			if _, seen := first[n]; seen || !up[NewLink(c, n)] {
				continue
			}
			hop := first[c]
			if c == self {
				hop = n
			}
			first[n] = hop
			out[n] = hop
			queue = append(queue, n)
		}
	}
	return out
}
