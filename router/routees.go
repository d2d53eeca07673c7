package router

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/foundation-go/foundation/actor"
)

// Snapshot is one version of a routee set: the routees at that moment and a
// version number. A published Snapshot is immutable: neither its source nor
// anyone holding it may modify PIDs, so a router reads it without a lock or
// a copy.
type Snapshot struct {
	// PIDs are the routees, in a stable order (strategies index into it).
	PIDs []*actor.PID
	// Version changes whenever the set changes (it need not be contiguous).
	// Strategies use it, with the slice itself, to cache what they derive
	// from the set (consistent hashing caches the routees' hashes).
	Version uint64
}

// Routees is a source of routees: a Group, a Pool, or (later) the instances
// of a cluster service known to a registry.
//
// Routees is called by a Router on the goroutine of every Tell, Broadcast or
// Call that it routes — the caller's goroutine — concurrently from every
// goroutine that uses the router, once per message. It must be safe for
// concurrent use, must not block, must not allocate on the way (an atomic
// load of a Snapshot built when the set changed is the intended shape), and
// it returns a Snapshot that it never modifies afterwards. A source that
// learns of changes from elsewhere (membership events, a registry watch)
// builds a new Snapshot there, on its own goroutine, and swaps it in.
type Routees interface {
	Routees() Snapshot
}

var (
	_ Routees = (*Group)(nil)
	_ Routees = (*Pool)(nil)
)

// set is a routee set changed by copy-on-write: readers load the current
// Snapshot with one atomic load; writers build a new one and swap it in with
// compare-and-swap, retrying if another writer won. The zero set is empty.
type set struct {
	p atomic.Pointer[Snapshot]
}

var emptySnapshot = &Snapshot{}

func (s *set) load() Snapshot {
	if sn := s.p.Load(); sn != nil {
		return *sn
	}
	return Snapshot{}
}

// update applies f to the current routees until its result is swapped in;
// f returns the new routees and whether anything changed. f must not modify
// its argument.
func (s *set) update(f func(cur []*actor.PID) ([]*actor.PID, bool)) {
	for {
		old := s.p.Load()
		cur := emptySnapshot
		if old != nil {
			cur = old
		}
		next, changed := f(cur.PIDs)
		if !changed {
			return
		}
		if s.p.CompareAndSwap(old, &Snapshot{PIDs: next, Version: cur.Version + 1}) {
			return
		}
	}
}

func samePID(a, b *actor.PID) bool {
	return a == b || (a != nil && b != nil && a.Id == b.Id && a.Address == b.Address)
}

func indexOf(pids []*actor.PID, pid *actor.PID) int {
	return slices.IndexFunc(pids, func(p *actor.PID) bool { return samePID(p, pid) })
}

// add appends the pids not present yet.
func (s *set) add(pids ...*actor.PID) {
	s.update(func(cur []*actor.PID) ([]*actor.PID, bool) {
		var next []*actor.PID
		for _, pid := range pids {
			if indexOf(cur, pid) >= 0 || indexOf(next, pid) >= 0 {
				continue
			}
			next = append(next, pid)
		}
		if len(next) == 0 {
			return nil, false
		}
		return append(slices.Clip(cur), next...), true
	})
}

// remove drops the pids present.
func (s *set) remove(pids ...*actor.PID) {
	s.update(func(cur []*actor.PID) ([]*actor.PID, bool) {
		next := slices.DeleteFunc(slices.Clone(cur), func(p *actor.PID) bool {
			return slices.ContainsFunc(pids, func(q *actor.PID) bool { return samePID(p, q) })
		})
		return slices.Clip(next), len(next) != len(cur)
	})
}

// Group is a routee set over given PIDs, changed at run time with Add and
// Remove. Routers read it without a lock: every change publishes a new
// immutable Snapshot. The zero Group is empty and ready to use; a Group
// must not be copied after first use. Its PIDs may be local or remote.
//
// A Group does not watch its routees: a routee that exits stays in the
// group (its messages go to dead letters, its Calls fail with
// actor.ErrNoProcess) until it is removed. Use a Pool for supervised
// routees that are replaced when they crash.
type Group struct {
	s set
}

// NewGroup returns a Group of pids (duplicates are kept once). A nil PID is
// ErrInvalid.
func NewGroup(pids ...*actor.PID) (*Group, error) {
	g := &Group{}
	if err := g.Add(pids...); err != nil {
		return nil, err
	}
	return g, nil
}

// Add adds the pids not yet in the group, after the others. A nil PID is
// ErrInvalid and nothing is added.
func (g *Group) Add(pids ...*actor.PID) error {
	for i, pid := range pids {
		if pid == nil {
			return fmt.Errorf("%w: Group.Add: pids[%d] is nil", ErrInvalid, i)
		}
	}
	g.s.add(pids...)
	return nil
}

// Remove removes the pids that are in the group; the others keep their
// order.
func (g *Group) Remove(pids ...*actor.PID) { g.s.remove(pids...) }

// Routees returns the current routees.
func (g *Group) Routees() Snapshot { return g.s.load() }

// Len is the number of routees.
func (g *Group) Len() int { return len(g.s.load().PIDs) }
