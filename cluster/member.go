package cluster

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Member is one member of the cluster as the membership view knows it.
type Member struct {
	// ID is unique per run of a member: a restarted member has a new ID.
	ID string
	// Address is the host:port of the member's actor remoting endpoint
	// (gRPC).
	Address string
	// ClusterAddress is the host:port of the member's cluster port: SWIM
	// gossip over UDP and TCP, and the member-to-member streams of the
	// layers above (grain calls) over TCP.
	ClusterAddress string
	// Kinds are the grain kinds the member hosts.
	Kinds []string
	// Labels are the member's labels (role, zone...).
	Labels map[string]string
	// Version is the member's Foundation version.
	Version string
	// Protocol is the wire protocol version the member speaks: 0 in
	// MembershipConfig.Self means ProtocolVersion. Members admit peers at
	// most one version apart (ProtocolCompatible), so that a cluster
	// upgraded one member at a time keeps working.
	Protocol int
	// Started is when the member's run began (by its own clock).
	Started time.Time
	// Status is Up or Unreachable.
	Status Status
}

// ProtocolVersion is the wire protocol version of this Foundation: the
// membership metadata, the cluster-port streams and every frame of the
// layers above. It changes when a change to any of them would confuse a
// member of the previous version; such a change keeps understanding the
// previous version's messages, so that a rolling upgrade crosses it.
const ProtocolVersion = 1

// ProtocolCompatible reports whether members speaking protocol versions a
// and b admit each other: at most one version apart (0 counts as 1).
func ProtocolCompatible(a, b int) bool {
	a, b = max(a, 1), max(b, 1)
	return a-b <= 1 && b-a <= 1
}

// HasLabels reports whether m's labels include every pair of want (a
// role): an empty want matches every member.
func (m Member) HasLabels(want map[string]string) bool {
	for k, v := range want {
		if got, ok := m.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (m Member) clone() Member {
	m.Kinds = slices.Clone(m.Kinds)
	m.Labels = maps.Clone(m.Labels)
	return m
}

func (m Member) String() string { return fmt.Sprintf("%s@%s", m.ID, m.Address) }

// older reports whether m started before o (ties broken by id): the order
// of keep-oldest and of singleton placement.
func (m Member) older(o Member) bool {
	if !m.Started.Equal(o.Started) {
		return m.Started.Before(o.Started)
	}
	return m.ID < o.ID
}

// Status is a member's reachability in the view.
type Status uint8

const (
	// Up: the member answers probes.
	Up Status = iota + 1
	// Unreachable: SWIM suspects the member or declared it failed; it stays
	// in the view until it answers again or the split-brain resolver
	// removes it.
	Unreachable
)

func (s Status) String() string {
	switch s {
	case Up:
		return "up"
	case Unreachable:
		return "unreachable"
	}
	return "unknown"
}

// SelfStatus is this member's own standing in the cluster. Only a Serving
// member hosts exclusive grains (singleton, partitioned) and is ready.
type SelfStatus uint8

const (
	// Joining: started, not yet part of a cluster (no candidate answered
	// yet, and this member is not the one that forms a new cluster).
	Joining SelfStatus = iota + 1
	// Serving: part of a cluster whose side would survive a split.
	Serving
	// Fenced: this member cannot see enough of the cluster to survive if
	// the members it cannot reach stayed unreachable (a minority, or cut
	// off). It hosts no exclusive grains until it can again or is downed.
	// Fencing is immediate, before the resolver's stable-after, so that
	// this side has stopped its exclusive grains before the other side
	// re-places them.
	Fenced
	// Downed: the split-brain resolver decided that this side goes down.
	// The member hosts no exclusive grains, is not ready, and keeps trying
	// to reach the others; once every member of its view answers again it
	// serves again.
	Downed
	// Stopped: Stop or Abort was called.
	Stopped
)

func (s SelfStatus) String() string {
	switch s {
	case Joining:
		return "joining"
	case Serving:
		return "serving"
	case Fenced:
		return "fenced"
	case Downed:
		return "downed"
	case Stopped:
		return "stopped"
	}
	return "unknown"
}

// EventKind is what happened to a member.
type EventKind uint8

const (
	// Joined: a new member (or a new run of one) was admitted.
	Joined EventKind = iota + 1
	// Left: a member announced a graceful leave.
	Left
	// MemberUnreachable: a member stopped answering probes.
	MemberUnreachable
	// MemberReachable: an unreachable member answers again.
	MemberReachable
	// Removed: a member was dropped from the view: downed by the
	// split-brain resolver, its cluster port refuses connections (its
	// process is gone), or a new run replaced it at the same address.
	Removed
	// SelfChanged: this member's own SelfStatus changed (the event's Self
	// field); Member is this member.
	SelfChanged
	// Updated: a member's kinds, labels or version changed.
	Updated
)

func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Left:
		return "left"
	case MemberUnreachable:
		return "unreachable"
	case MemberReachable:
		return "reachable"
	case Removed:
		return "removed"
	case SelfChanged:
		return "self"
	case Updated:
		return "updated"
	}
	return "unknown"
}

// MemberEvent is one change of the membership view.
type MemberEvent struct {
	Kind   EventKind
	Member Member
	// At is when the change was decided (membership clock).
	At time.Time
	// Reason explains the change ("suspected by SWIM probes", "downed by
	// keep-majority: 2 of 5 reachable", "left gracefully").
	Reason string
	// Epoch is the view's epoch after the change. It grows by one with
	// every change of this member's view; epochs of different members are
	// not comparable.
	Epoch uint64
	// Self is this member's status after a SelfChanged event.
	Self SelfStatus
}

func (e MemberEvent) String() string {
	what := e.Member.String()
	if e.Kind == SelfChanged {
		what = e.Self.String()
	}
	if e.Reason != "" {
		return fmt.Sprintf("%s %s (%s)", e.Kind, what, e.Reason)
	}
	return fmt.Sprintf("%s %s", e.Kind, what)
}

// View is one snapshot of the membership view.
type View struct {
	// Epoch counts the changes of this member's view (see MemberEvent).
	Epoch uint64
	// Self is this member's status.
	Self SelfStatus
	// Members is every member of the view, this member first, then by id.
	Members []Member
}

// Up returns the members of v that are Up (this member included when it is
// Serving).
func (v View) Up() []Member {
	out := make([]Member, 0, len(v.Members))
	for _, m := range v.Members {
		if m.Status == Up {
			out = append(out, m)
		}
	}
	return out
}

// LowestUp returns the id of the Up member of v with the lowest id ("" if
// none is Up): one member chosen alike by every member that shares the
// view, for housekeeping one member should do (deleting a gone member's
// records, say).
func (v View) LowestUp() string {
	lowest := ""
	for _, m := range v.Members {
		if m.Status == Up && (lowest == "" || m.ID < lowest) {
			lowest = m.ID
		}
	}
	return lowest
}

// Member returns the member of v with id, if v has it (in any status).
func (v View) Member(id string) (Member, bool) {
	for _, m := range v.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// Hosting returns the members of v that are Up and host kind.
func (v View) Hosting(kind string) []Member {
	var out []Member
	for _, m := range v.Members {
		if m.Status == Up && slices.Contains(m.Kinds, kind) {
			out = append(out, m)
		}
	}
	return out
}
