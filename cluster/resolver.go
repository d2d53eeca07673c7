package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Strategy names a split-brain resolution strategy: what each side of a
// network partition does once the set of members it cannot reach has been
// stable for ResolverConfig.StableAfter. The strategies are Akka's.
type Strategy string

// The strategies.
const (
	// KeepMajority (the default): the side with more than half of the
	// members survives and downs the others; the smaller side downs
	// itself. On a tie, the side with the member of the lowest cluster
	// address survives.
	KeepMajority Strategy = "keep-majority"
	// StaticQuorum: a side of at least ResolverConfig.QuorumSize members
	// survives; a smaller one downs itself (both do when neither is large
	// enough). A cluster of more than 2 × QuorumSize − 1 members downs
	// every side (both could reach the quorum): set QuorumSize above half
	// of the largest cluster size you run.
	StaticQuorum Strategy = "static-quorum"
	// KeepOldest: the side with the oldest member survives. When the
	// oldest is alone on its side it downs itself and the other side
	// survives, unless ResolverConfig.OldestSurvivesAlone.
	KeepOldest Strategy = "keep-oldest"
	// DownAll: every side downs itself; the cluster must be restarted or
	// healed. For when a wrong decision costs more than downtime.
	DownAll Strategy = "down-all"
	// LeaseMajority: the side that acquires a distributed lease
	// (ResolverConfig.Lease: etcd or a Kubernetes Lease) survives. The
	// majority side tries at once, a minority after AcquireDelay, so the
	// majority wins whenever it can reach the lease store.
	LeaseMajority Strategy = "lease-majority"
)

// Strategies lists every strategy.
func Strategies() []Strategy {
	return []Strategy{KeepMajority, StaticQuorum, KeepOldest, DownAll, LeaseMajority}
}

// Lease is the distributed lock of the lease-majority strategy.
//
// The resolver calls Acquire from a goroutine of its own, at most once per
// decision, with owner the id of the lowest member id of its side: every
// member of one side names the same owner. Acquire returns true when owner
// holds the lease (it took it, or already held it), false when another
// owner does; it may block until ctx ends and must then return. The lease
// must expire by itself (a TTL) so that a later partition can be decided.
type Lease interface {
	Acquire(ctx context.Context, owner string) (bool, error)
}

// ResolverConfig configures the split-brain resolver of a Membership.
type ResolverConfig struct {
	// Strategy: default KeepMajority.
	Strategy Strategy
	// StableAfter is how long the set of unreachable members must stay
	// unchanged before the resolver decides. Required (> 0).
	StableAfter time.Duration
	// QuorumSize is StaticQuorum's quorum (>= 1); 0 for other strategies.
	QuorumSize int
	// OldestSurvivesAlone: with KeepOldest, the oldest member alone on its
	// side survives (and the other side downs itself). Default false.
	OldestSurvivesAlone bool
	// Lease is LeaseMajority's lease. Required with LeaseMajority.
	Lease Lease
	// AcquireDelay is how long a minority side waits before trying the
	// lease (LeaseMajority). Default 0.
	AcquireDelay time.Duration
}

func (c ResolverConfig) validate(errs *[]error) {
	bad := func(field, format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%w: SplitBrain.%s: %s", ErrMembershipConfig, field, fmt.Sprintf(format, args...)))
	}
	s := c.Strategy
	if s == "" {
		s = KeepMajority
	}
	if !slices.Contains(Strategies(), s) {
		bad("Strategy", "%q is not one of %v", c.Strategy, Strategies())
	}
	if c.StableAfter <= 0 {
		bad("StableAfter", "%v must be > 0", c.StableAfter)
	}
	switch {
	case s == StaticQuorum && c.QuorumSize < 1:
		bad("QuorumSize", "%d must be >= 1 with static-quorum", c.QuorumSize)
	case s != StaticQuorum && c.QuorumSize != 0:
		bad("QuorumSize", "%d is only used by static-quorum; leave it 0 with %s", c.QuorumSize, s)
	}
	if s == LeaseMajority && c.Lease == nil {
		bad("Lease", "lease-majority needs a Lease")
	}
	if c.AcquireDelay < 0 {
		bad("AcquireDelay", "%v must be >= 0", c.AcquireDelay)
	}
}

// action is what the resolver asks the membership to do.
type action uint8

const (
	// actKeep: nothing unreachable, or not stable yet: keep going.
	actKeep action = iota
	// actDownOthers: this side survives; remove the unreachable members.
	actDownOthers
	// actDownSelf: this side goes down.
	actDownSelf
	// actAcquire: try the lease (after delay) before deciding.
	actAcquire
)

func (a action) String() string {
	return [...]string{"keep", "down-others", "down-self", "acquire-lease"}[a]
}

// leaseState is what the shell learned from the lease for the current
// unreachable set.
type leaseState struct {
	tried bool
	held  bool
}

// decision is the resolver's answer for one side.
type decision struct {
	// survive: this side would survive if the unreachable members stayed
	// unreachable. A side that would not fences itself at once.
	survive bool
	act     action
	// delay: for actAcquire, how long to wait before trying.
	delay  time.Duration
	owner  string // for actAcquire: the side's lease owner
	reason string
}

// resolve is the pure split-brain decision: members is the whole view
// (self included), each Up or Unreachable as this member sees it. It
// decides as if the unreachable set were stable; the caller only applies
// the action once it has been for StableAfter (fencing, from survive,
// applies at once).
func resolve(cfg ResolverConfig, self string, members []Member, ls leaseState) decision {
	var reach, unreach []Member
	for _, m := range members {
		if m.ID == self || m.Status == Up {
			reach = append(reach, m)
		} else {
			unreach = append(unreach, m)
		}
	}
	if len(unreach) == 0 {
		return decision{survive: true, act: actKeep}
	}
	r, n := len(reach), len(members)
	side := fmt.Sprintf("%d of %d members reachable", r, n)
	keep := func(why string) decision {
		return decision{survive: true, act: actDownOthers, reason: why + ": " + side}
	}
	down := func(why string) decision {
		return decision{survive: false, act: actDownSelf, reason: why + ": " + side}
	}
	strategy := cfg.Strategy
	if strategy == "" {
		strategy = KeepMajority
	}
	switch strategy {
	case KeepMajority, LeaseMajority:
		majority := 2*r > n || (2*r == n && holdsLowest(reach, unreach))
		if strategy == KeepMajority {
			if majority {
				return keep("keep-majority: majority")
			}
			return down("keep-majority: minority")
		}
		if !ls.tried {
			d := decision{survive: majority, act: actAcquire, owner: lowestID(reach), reason: "lease-majority: acquiring the lease: " + side}
			if !majority {
				d.delay = cfg.AcquireDelay
			}
			return d
		}
		if ls.held {
			return keep("lease-majority: holds the lease")
		}
		return down("lease-majority: another side holds the lease")
	case StaticQuorum:
		if n > 2*cfg.QuorumSize-1 {
			// Both sides could reach the quorum: no side may survive.
			return down(fmt.Sprintf("static-quorum: %d members exceed 2 × quorum %d − 1, so both sides could reach it", n, cfg.QuorumSize))
		}
		if r >= cfg.QuorumSize {
			return keep(fmt.Sprintf("static-quorum: quorum of %d", cfg.QuorumSize))
		}
		return down(fmt.Sprintf("static-quorum: below the quorum of %d", cfg.QuorumSize))
	case KeepOldest:
		oldest := members[0]
		for _, m := range members[1:] {
			if m.older(oldest) {
				oldest = m
			}
		}
		oldestHere := slices.ContainsFunc(reach, func(m Member) bool { return m.ID == oldest.ID })
		alone := (oldestHere && r == 1) || (!oldestHere && len(unreach) == 1)
		switch {
		case alone && !cfg.OldestSurvivesAlone && oldestHere:
			return down("keep-oldest: the oldest member is alone on this side")
		case alone && !cfg.OldestSurvivesAlone:
			return keep("keep-oldest: the oldest member is alone on the other side")
		case oldestHere:
			return keep("keep-oldest: the oldest member is on this side")
		default:
			return down("keep-oldest: the oldest member is on the other side")
		}
	case DownAll:
		return down("down-all")
	}
	return down("unknown strategy " + string(strategy))
}

// holdsLowest reports whether the member with the lowest cluster address
// (then id) is in a rather than b.
func holdsLowest(a, b []Member) bool {
	less := func(x, y Member) bool {
		if x.ClusterAddress != y.ClusterAddress {
			return x.ClusterAddress < y.ClusterAddress
		}
		return x.ID < y.ID
	}
	var best *Member
	inA := false
	for i := range a {
		if best == nil || less(a[i], *best) {
			best, inA = &a[i], true
		}
	}
	for i := range b {
		if best == nil || less(b[i], *best) {
			best, inA = &b[i], false
		}
	}
	return inA
}

func lowestID(ms []Member) string {
	id := ms[0].ID
	for _, m := range ms[1:] {
		if m.ID < id {
			id = m.ID
		}
	}
	return id
}
