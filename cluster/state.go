package cluster

import (
	"fmt"
	"sort"
	"time"
)

// membershipState is the pure core of membership: it turns observations
// (a valid heartbeat, a leave) and the passage of time into view changes. No
// goroutines, no I/O; time is an input. The driver in membership.go applies
// it under a lock.
type membershipState struct {
	selfID       string
	suspectAfter time.Duration
	removeAfter  time.Duration
	members      map[string]*memberRecord // by id, excluding self
	byAddr       map[string]string        // address -> id
	tombs        map[string]tomb          // ids that left, were replaced or removed
}

type memberRecord struct {
	m                Member
	lastSeen         time.Time
	unreachableSince time.Time
	lastSeq          uint64
}

// tomb remembers an id that is no longer a member: packets still in flight
// (or replayed) must not bring it back.
type tomb struct {
	until time.Time // final (left, replaced) ids are ignored until then
	final bool
	seq   uint64 // the last sequence number seen from it
}

// tombFor is how long a departed id is remembered; packets older than that
// are not expected from a live network.
func (s *membershipState) tombFor() time.Duration { return 4 * (s.suspectAfter + s.removeAfter) }

func newMembershipState(selfID string, suspectAfter, removeAfter time.Duration) *membershipState {
	return &membershipState{
		selfID:       selfID,
		suspectAfter: suspectAfter,
		removeAfter:  removeAfter,
		members:      make(map[string]*memberRecord),
		byAddr:       make(map[string]string),
		tombs:        make(map[string]tomb),
	}
}

// heard records a valid heartbeat from m, with its sequence number, at now.
// Sequence numbers only grow within one run of a member: an older one is a
// late or replayed packet and is ignored.
func (s *membershipState) heard(m Member, seq uint64, now time.Time) []MemberEvent {
	if m.ID == s.selfID {
		return nil
	}
	if t, ok := s.tombs[m.ID]; ok {
		switch {
		case t.final && now.Before(t.until), seq <= t.seq:
			return nil
		}
		delete(s.tombs, m.ID) // a removed member heard again (a healed partition)
	}
	var evs []MemberEvent
	if prev, ok := s.byAddr[m.Address]; ok && prev != m.ID {
		r := s.members[prev]
		if r != nil && !m.Started.After(r.m.Started) {
			return nil // an older run than the one we know: stale
		}
		// A new run at the same address: the old one is gone for good.
		if r != nil {
			evs = append(evs, s.drop(r, Removed, now, "replaced by a new run at the same address"))
			s.bury(r, now, true)
		}
	}
	r := s.members[m.ID]
	if r == nil {
		m.Status = Up
		r = &memberRecord{m: m.clone(), lastSeen: now, lastSeq: seq}
		s.members[m.ID] = r
		s.byAddr[m.Address] = m.ID
		return append(evs, MemberEvent{Kind: Joined, Member: r.m.clone(), At: now})
	}
	if seq <= r.lastSeq {
		return evs
	}
	r.lastSeq = seq
	r.lastSeen = now
	if r.m.Status == Unreachable {
		r.m.Status = Up
		r.unreachableSince = time.Time{}
		evs = append(evs, MemberEvent{Kind: MemberReachable, Member: r.m.clone(), At: now})
	}
	return evs
}

// left records a graceful leave announced by id.
func (s *membershipState) left(id string, seq uint64, now time.Time) []MemberEvent {
	r := s.members[id]
	if r == nil || seq < r.lastSeq {
		return nil
	}
	s.bury(r, now, true)
	return []MemberEvent{s.drop(r, Left, now, "")}
}

func (s *membershipState) bury(r *memberRecord, now time.Time, final bool) {
	s.tombs[r.m.ID] = tomb{until: now.Add(s.tombFor()), final: final, seq: r.lastSeq}
}

// tick applies failure detection at now.
func (s *membershipState) tick(now time.Time) []MemberEvent {
	var evs []MemberEvent
	for _, r := range s.sorted() {
		switch r.m.Status {
		case Up:
			if now.Sub(r.lastSeen) >= s.suspectAfter {
				r.m.Status = Unreachable
				r.unreachableSince = now
				evs = append(evs, MemberEvent{Kind: MemberUnreachable, Member: r.m.clone(), At: now})
			}
		case Unreachable:
			if d := now.Sub(r.unreachableSince); d >= s.removeAfter {
				s.bury(r, now, false)
				evs = append(evs, s.drop(r, Removed, now, fmt.Sprintf("unreachable for %v", d)))
			}
		}
	}
	for id, t := range s.tombs {
		if now.After(t.until) {
			delete(s.tombs, id)
		}
	}
	return evs
}

func (s *membershipState) drop(r *memberRecord, kind EventKind, now time.Time, reason string) MemberEvent {
	delete(s.members, r.m.ID)
	if s.byAddr[r.m.Address] == r.m.ID {
		delete(s.byAddr, r.m.Address)
	}
	return MemberEvent{Kind: kind, Member: r.m.clone(), At: now, Reason: reason}
}

// sorted returns the records ordered by id, for deterministic events.
func (s *membershipState) sorted() []*memberRecord {
	out := make([]*memberRecord, 0, len(s.members))
	for _, r := range s.members {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].m.ID < out[j].m.ID })
	return out
}

// view returns copies of every member, ordered by id.
func (s *membershipState) view() []Member {
	rs := s.sorted()
	out := make([]Member, len(rs))
	for i, r := range rs {
		out[i] = r.m.clone()
	}
	return out
}

// has reports whether address belongs to a current member.
func (s *membershipState) has(address string) bool {
	_, ok := s.byAddr[address]
	return ok
}
