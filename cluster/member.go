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
	// Address is the host:port of the member's remoting endpoint; its
	// membership datagrams use the same host and port number over UDP.
	Address string
	// Kinds are the grain kinds the member hosts.
	Kinds []string
	// Labels are the member's labels (role, zone...).
	Labels map[string]string
	// Version is the member's Foundation version.
	Version string
	// Started is when the member's run began (by its own clock).
	Started time.Time
	// Status is Up or Unreachable.
	Status Status
}

func (m Member) clone() Member {
	m.Kinds = slices.Clone(m.Kinds)
	m.Labels = maps.Clone(m.Labels)
	return m
}

func (m Member) String() string { return fmt.Sprintf("%s@%s", m.ID, m.Address) }

// Status is a member's reachability in the view.
type Status uint8

const (
	// Up: heartbeats arrive.
	Up Status = iota + 1
	// Unreachable: no heartbeat for SuspectAfter; removed after RemoveAfter
	// more unless it is heard from again.
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

// EventKind is what happened to a member.
type EventKind uint8

const (
	// Joined: a new member (or a new run of one) was admitted.
	Joined EventKind = iota + 1
	// Left: a member announced a graceful leave.
	Left
	// MemberUnreachable: a member stopped answering heartbeats.
	MemberUnreachable
	// MemberReachable: an unreachable member was heard from again.
	MemberReachable
	// Removed: a member was dropped from the view (unreachable too long, or
	// replaced by a new run at the same address).
	Removed
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
	}
	return "unknown"
}

// MemberEvent is one change of the membership view.
type MemberEvent struct {
	Kind   EventKind
	Member Member
	// At is when the change was decided (membership clock).
	At time.Time
	// Reason explains Removed events ("unreachable for 200ms", "replaced by
	// a new run").
	Reason string
}

func (e MemberEvent) String() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s %s (%s)", e.Kind, e.Member, e.Reason)
	}
	return fmt.Sprintf("%s %s", e.Kind, e.Member)
}
