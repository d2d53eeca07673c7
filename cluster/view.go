package cluster

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// viewState is the pure core of membership: it turns observations — SWIM's
// verdicts about peers (alive, suspect or failed, left), this member's own
// direct probes, refused connections — and the passage of time into view
// changes, this member's own status and the split-brain resolver's actions.
// No goroutines, no I/O; time is an input. The shell in membership.go applies
// it under a lock.
//
// Two sets of unreachable members are kept. The SWIM set (suspected or
// failed by SWIM, whose verdicts use indirect probes and so survive an
// asymmetric link) decides which members are Unreachable in the view and
// which the resolver downs. The fence set adds the members this member's
// own direct probes could not reach: it decides this member's own status,
// so that a member cut off from the others fences itself within a probe
// round, without waiting for SWIM to have suspected every peer one by one.
// Fencing and downing oneself are always safe; downing others needs SWIM's
// corroborated verdicts.
type viewState struct {
	self     Member
	status   SelfStatus
	resolver ResolverConfig
	joined   bool

	peers map[string]*peerState
	tombs map[string]tomb
	epoch uint64

	swimSince  time.Time  // when the SWIM set last changed
	fenceSince time.Time  // when the fence set last changed
	swimKey    string     // the SWIM set, as sorted ids
	fenceKey   string     // the fence set, as sorted ids
	lease      leaseState // for fenceKey
}

type peerState struct {
	m          Member // Status: Unreachable iff suspect
	suspect    bool   // SWIM suspects it or declared it failed
	pingFailed bool   // this member's direct probe failed
}

// tomb remembers an id that is no longer a member, so that gossip about it
// still in flight (or replayed) does not bring it back: a member that left
// never comes back (a restart has a new id); a removed one is admitted again
// only once it answered a direct probe (verified).
type tomb struct {
	final bool
	at    time.Time
}

// maxTombs bounds the tombs kept; the oldest go first.
const maxTombs = 4096

// admission is alive's verdict on a peer SWIM reports alive.
type admission uint8

const (
	admit admission = iota
	reject
	verify // a removed id is back: admit it once it answered a probe
)

func newViewState(self Member, rc ResolverConfig, now time.Time) *viewState {
	return &viewState{
		self: self, status: Joining, resolver: rc,
		peers: make(map[string]*peerState), tombs: make(map[string]tomb),
		swimSince: now, fenceSince: now,
	}
}

func (s *viewState) event(kind EventKind, m Member, now time.Time, reason string) MemberEvent {
	s.epoch++
	return MemberEvent{Kind: kind, Member: m.clone(), At: now, Reason: reason, Epoch: s.epoch}
}

// alive records that SWIM reports m alive (joined, refuted a suspicion, or
// updated its metadata). verified means m answered a direct probe just now.
func (s *viewState) alive(m Member, verified bool, now time.Time) ([]MemberEvent, admission) {
	if m.ID == s.self.ID {
		return nil, admit
	}
	if t, ok := s.tombs[m.ID]; ok {
		if t.final {
			return nil, reject
		}
		if !verified {
			return nil, verify
		}
		delete(s.tombs, m.ID)
	}
	var evs []MemberEvent
	if m.ClusterAddress != "" {
		for _, p := range s.sortedPeers() {
			if p.m.ID == m.ID || p.m.ClusterAddress != m.ClusterAddress {
				continue
			}
			if !m.Started.After(p.m.Started) {
				return nil, reject // an older run than the one we know
			}
			evs = append(evs, s.drop(p, Removed, now, "replaced by a new run at the same address", true))
		}
	}
	p := s.peers[m.ID]
	if p == nil {
		m = m.clone()
		m.Status = Up
		s.peers[m.ID] = &peerState{m: m}
		s.joined = true // a member joined us, or we joined it
		evs = append(evs, s.event(Joined, m, now, ""))
		return append(evs, s.settle(now)...), admit
	}
	if !sameMeta(p.m, m) {
		st := p.m.Status
		p.m = m.clone()
		p.m.Status = st
		evs = append(evs, s.event(Updated, p.m, now, ""))
	}
	if p.suspect {
		p.suspect = false
		p.m.Status = Up
		evs = append(evs, s.event(MemberReachable, p.m, now, "answers SWIM probes again"))
	}
	return append(evs, s.settle(now)...), admit
}

func sameMeta(a, b Member) bool {
	return a.Address == b.Address && a.ClusterAddress == b.ClusterAddress && a.Version == b.Version &&
		slices.Equal(a.Kinds, b.Kinds) && maps.Equal(a.Labels, b.Labels)
}

// suspect records that SWIM suspects id or declared it failed.
func (s *viewState) suspect(id, reason string, now time.Time) []MemberEvent {
	p := s.peers[id]
	if p == nil || p.suspect {
		return nil
	}
	p.suspect = true
	p.m.Status = Unreachable
	evs := []MemberEvent{s.event(MemberUnreachable, p.m, now, reason)}
	return append(evs, s.settle(now)...)
}

// probed records the outcome of this member's direct probe of id.
func (s *viewState) probed(id string, ok bool, now time.Time) []MemberEvent {
	p := s.peers[id]
	if p == nil || p.pingFailed == !ok {
		return nil
	}
	p.pingFailed = !ok
	return s.settle(now)
}

// left records a graceful leave of id.
func (s *viewState) left(id string, now time.Time) []MemberEvent {
	p := s.peers[id]
	if p == nil {
		return nil
	}
	evs := []MemberEvent{s.drop(p, Left, now, "left gracefully", true)}
	return append(evs, s.settle(now)...)
}

// refused records that id's cluster port refuses connections: nothing
// listens there, its process is gone.
func (s *viewState) refused(id string, now time.Time) []MemberEvent {
	p := s.peers[id]
	if p == nil {
		return nil
	}
	evs := []MemberEvent{s.drop(p, Removed, now, "its cluster port refuses connections: the process is gone", false)}
	return append(evs, s.settle(now)...)
}

// joinedCluster records that this member joined (or formed) a cluster.
func (s *viewState) joinedCluster(now time.Time) []MemberEvent {
	if s.joined {
		return nil
	}
	s.joined = true
	return s.settle(now)
}

// stop records Stop or Abort.
func (s *viewState) stop(now time.Time) []MemberEvent {
	return s.setStatus(Stopped, now, "stopped")
}

// leaseResult records the outcome of a lease acquisition for the fence set
// key.
func (s *viewState) leaseResult(key string, held bool) {
	if key == s.fenceKey {
		s.lease = leaseState{tried: true, held: held}
	}
}

// tick applies the resolver at now. It returns the events and, when the
// resolver needs the lease, the request (ok false otherwise).
//
// Decisions about this side use the fence set: once it has been stable for
// StableAfter, a side that would not survive downs itself (or first tries
// the lease). A side that survives removes the members SWIM suspects, once
// SWIM's own set has been stable for StableAfter too: a member that only
// this member's direct probes miss (an asymmetric link) is not downed.
func (s *viewState) tick(now time.Time) ([]MemberEvent, leaseRequest, bool) {
	evs := s.settle(now)
	if s.status == Stopped || s.status == Downed || !s.joined || s.fenceKey == "" ||
		now.Sub(s.fenceSince) < s.resolver.StableAfter {
		return evs, leaseRequest{}, false
	}
	d := resolve(s.resolver, s.self.ID, s.members(true), s.lease)
	switch d.act {
	case actAcquire:
		return evs, leaseRequest{key: s.fenceKey, owner: d.owner, delay: d.delay}, true
	case actDownSelf:
		evs = append(evs, s.setStatus(Downed, now, d.reason)...)
	case actDownOthers:
		if s.swimKey == "" || now.Sub(s.swimSince) < s.resolver.StableAfter {
			break
		}
		for _, p := range s.sortedPeers() {
			if p.suspect {
				evs = append(evs, s.drop(p, Removed, now, "downed by the split-brain resolver ("+d.reason+")", false))
			}
		}
		evs = append(evs, s.settle(now)...)
	}
	return evs, leaseRequest{}, false
}

// leaseRequest asks the shell to try the lease for the fence set key.
type leaseRequest struct {
	key   string
	owner string
	delay time.Duration
}

// settle recomputes the unreachable sets, their stability clocks and this
// member's status after a change.
func (s *viewState) settle(now time.Time) []MemberEvent {
	var swim, fence []string
	for id, p := range s.peers {
		if p.suspect {
			swim = append(swim, id)
		}
		if p.suspect || p.pingFailed {
			fence = append(fence, id)
		}
	}
	sort.Strings(swim)
	sort.Strings(fence)
	if k := strings.Join(swim, ","); k != s.swimKey {
		s.swimKey, s.swimSince = k, now
	}
	if k := strings.Join(fence, ","); k != s.fenceKey {
		s.fenceKey, s.fenceSince, s.lease = k, now, leaseState{}
	}
	switch s.status {
	case Stopped:
		return nil
	case Joining:
		if s.joined {
			return s.setStatus(Serving, now, "joined the cluster")
		}
		return nil
	}
	if s.fenceKey == "" {
		if s.status != Serving {
			return s.setStatus(Serving, now, "every member answers")
		}
		return nil
	}
	d := resolve(s.resolver, s.self.ID, s.members(true), s.lease)
	switch {
	case s.status == Serving && !d.survive:
		return s.setStatus(Fenced, now, "this side would not survive a split ("+d.reason+")")
	case s.status == Fenced && d.survive:
		return s.setStatus(Serving, now, "this side would survive a split again ("+d.reason+")")
	}
	return nil
}

func (s *viewState) setStatus(st SelfStatus, now time.Time, reason string) []MemberEvent {
	if s.status == st {
		return nil
	}
	s.status = st
	ev := s.event(SelfChanged, s.self, now, reason)
	ev.Self = st
	return []MemberEvent{ev}
}

func (s *viewState) drop(p *peerState, kind EventKind, now time.Time, reason string, final bool) MemberEvent {
	delete(s.peers, p.m.ID)
	if len(s.tombs) >= maxTombs {
		var oldest string
		var at time.Time
		for id, t := range s.tombs {
			if oldest == "" || t.at.Before(at) {
				oldest, at = id, t.at
			}
		}
		delete(s.tombs, oldest)
	}
	s.tombs[p.m.ID] = tomb{final: final, at: now}
	return s.event(kind, p.m, now, reason)
}

// members returns the view for the resolver: every member, self first,
// with Unreachable meaning suspected by SWIM (or, with fence, also not
// reached by this member's probes).
func (s *viewState) members(fence bool) []Member {
	out := make([]Member, 0, len(s.peers)+1)
	self := s.self
	self.Status = Up
	out = append(out, self)
	for _, p := range s.sortedPeers() {
		m := p.m
		if p.suspect || (fence && p.pingFailed) {
			m.Status = Unreachable
		} else {
			m.Status = Up
		}
		out = append(out, m)
	}
	return out
}

func (s *viewState) sortedPeers() []*peerState {
	out := make([]*peerState, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].m.ID < out[j].m.ID })
	return out
}

// view returns the public view.
func (s *viewState) view() View {
	v := View{Epoch: s.epoch, Self: s.status, Members: make([]Member, 0, len(s.peers)+1)}
	self := s.self.clone()
	self.Status = Up
	v.Members = append(v.Members, self)
	for _, p := range s.sortedPeers() {
		v.Members = append(v.Members, p.m.clone())
	}
	return v
}

// peerIDs lists the peers, for the direct probes that keep the fence set
// current.
func (s *viewState) peerIDs() []string {
	out := make([]string, 0, len(s.peers))
	for _, p := range s.sortedPeers() {
		out = append(out, p.m.ID)
	}
	return out
}

// clearProbes forgets this member's failed direct probes: its own SWIM
// probes are answered again (Lifeguard's health score is back to zero), so
// it is not the one cut off, and the failures are stale.
func (s *viewState) clearProbes(now time.Time) []MemberEvent {
	changed := false
	for _, p := range s.peers {
		if p.pingFailed {
			p.pingFailed, changed = false, true
		}
	}
	if !changed {
		return nil
	}
	return s.settle(now)
}
