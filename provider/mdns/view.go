package mdns

import (
	"slices"
	"strings"
	"time"

	"github.com/foundation-go/foundation/provider"
)

// view is the member set one provider reports: self and the peers heard
// within ExpireAfter. It is pure — time comes in as arguments — and owned
// by the provider's loop goroutine.
type view struct {
	self  provider.Member
	max   int             // most peers tracked
	peers map[string]peer // by member id
}

type peer struct {
	m    provider.Member
	seen time.Time // last announcement
}

func newView(self provider.Member, max int) *view {
	return &view{self: self, max: max, peers: make(map[string]peer)}
}

// verdict is what becomes of a received announcement.
type verdict int

const (
	admit        verdict = iota
	fromSelf             // our own id: our announcement, looped back, or a clash
	otherCluster         // a member of another cluster
	badAuth              // Secret is set and the signature does not verify
)

// judge decides whether an announcement of m may enter the view of self.
func judge(self provider.Member, secret []byte, m provider.Member) verdict {
	switch {
	case m.ID == self.ID:
		return fromSelf
	case m.Cluster != self.Cluster:
		return otherCluster
	case len(secret) > 0 && !provider.Verify(secret, m):
		return badAuth
	}
	return admit
}

// observe records an admitted announcement of m at now. changed reports a
// new member or new fields; full reports a new member refused because the
// view holds max peers.
func (v *view) observe(m provider.Member, now time.Time) (changed, full bool) {
	old, ok := v.peers[m.ID]
	if !ok && len(v.peers) >= v.max {
		return false, true
	}
	v.peers[m.ID] = peer{m: m, seen: now}
	return !ok || !same(old.m, m), false
}

// remove drops the member id (its goodbye arrived) and reports whether it
// was there.
func (v *view) remove(id string) bool {
	if _, ok := v.peers[id]; !ok {
		return false
	}
	delete(v.peers, id)
	return true
}

// expire drops the peers last heard more than after before now and reports
// whether any was dropped.
func (v *view) expire(now time.Time, after time.Duration) bool {
	changed := false
	for id, p := range v.peers {
		if now.Sub(p.seen) > after {
			delete(v.peers, id)
			changed = true
		}
	}
	return changed
}

// members returns self and the peers, ordered by id, in a new slice the
// caller may keep.
func (v *view) members() []provider.Member {
	out := make([]provider.Member, 0, len(v.peers)+1)
	out = append(out, clone(v.self))
	for _, p := range v.peers {
		out = append(out, clone(p.m))
	}
	slices.SortFunc(out, func(a, b provider.Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func clone(m provider.Member) provider.Member {
	m.Kinds = slices.Clone(m.Kinds)
	return m
}

func same(a, b provider.Member) bool {
	return a.ID == b.ID && a.Address == b.Address && a.Cluster == b.Cluster &&
		a.Version == b.Version && a.Auth == b.Auth && slices.Equal(a.Kinds, b.Kinds)
}
