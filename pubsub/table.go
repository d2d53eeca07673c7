package pubsub

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/foundation-go/foundation/actor"
)

// table is this member's subscriptions: per topic, the subscribers outside
// groups and, per group, its subscribers. Readers (every publish) load an
// immutable snapshot per topic; writers (Subscribe, Unsubscribe) copy it.
type table struct {
	mu     sync.Mutex
	topics map[string]*atomic.Pointer[topicSubs]
}

// topicSubs is one topic's subscribers at one moment; never modified.
type topicSubs struct {
	plain  []*Subscription
	groups map[string][]*Subscription
	// next picks round robin within each group, shared by the snapshots
	// of one topic.
	next *atomic.Uint64
}

func newTable() *table { return &table{topics: make(map[string]*atomic.Pointer[topicSubs])} }

// load returns topic's subscribers (nil when none).
func (t *table) load(topic string) *topicSubs {
	t.mu.Lock()
	p := t.topics[topic]
	t.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Load()
}

// add adds s; it reports whether s is the first subscriber of its kind
// (plain, or of its group) on this member for the topic: this member's
// interest in the topic changed.
func (t *table) add(s *Subscription) (first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.topics[s.topic]
	if p == nil {
		p = &atomic.Pointer[topicSubs]{}
		p.Store(&topicSubs{groups: map[string][]*Subscription{}, next: &atomic.Uint64{}})
		t.topics[s.topic] = p
	}
	cur := p.Load()
	next := &topicSubs{plain: cur.plain, groups: make(map[string][]*Subscription, len(cur.groups)), next: cur.next}
	for g, ss := range cur.groups {
		next.groups[g] = ss
	}
	if s.group == "" {
		first = len(cur.plain) == 0
		next.plain = append(slices.Clone(cur.plain), s)
	} else {
		first = len(cur.groups[s.group]) == 0
		next.groups[s.group] = append(slices.Clone(cur.groups[s.group]), s)
	}
	p.Store(next)
	return first
}

// remove removes s; it reports whether it was there and whether it was the
// last subscriber of its kind on this member for the topic.
func (t *table) remove(s *Subscription) (was, last bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.topics[s.topic]
	if p == nil {
		return false, false
	}
	cur := p.Load()
	next := &topicSubs{plain: cur.plain, groups: make(map[string][]*Subscription, len(cur.groups)), next: cur.next}
	for g, ss := range cur.groups {
		next.groups[g] = ss
	}
	drop := func(ss []*Subscription) ([]*Subscription, bool) {
		i := slices.Index(ss, s)
		if i < 0 {
			return ss, false
		}
		return slices.Delete(slices.Clone(ss), i, i+1), true
	}
	if s.group == "" {
		next.plain, was = drop(cur.plain)
		last = was && len(next.plain) == 0
	} else {
		next.groups[s.group], was = drop(cur.groups[s.group])
		last = was && len(next.groups[s.group]) == 0
		if last {
			delete(next.groups, s.group)
		}
	}
	if len(next.plain) == 0 && len(next.groups) == 0 {
		delete(t.topics, s.topic)
	} else {
		p.Store(next)
	}
	return was, last
}

// all returns every subscription (for Stop).
func (t *table) all() []*Subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Subscription
	for _, p := range t.topics {
		cur := p.Load()
		out = append(out, cur.plain...)
		for _, ss := range cur.groups {
			out = append(out, ss...)
		}
	}
	return out
}

// pickGroup returns one subscriber of group g, round robin.
func (ts *topicSubs) pickGroup(g string) *Subscription {
	ss := ts.groups[g]
	if len(ss) == 0 {
		return nil
	}
	return ss[int(ts.next.Add(1)%uint64(len(ss)))]
}

// interestKey is the entry a member records for a topic: "" for plain
// subscribers, else the group's name (prefixed so it cannot be empty).
func interestEntry(member, group string) string {
	if group == "" {
		return member
	}
	return member + "|" + group
}

// splitEntry undoes interestEntry.
func splitEntry(e string) (member, group string) {
	if i := indexByte(e, '|'); i >= 0 {
		return e[:i], e[i+1:]
	}
	return e, ""
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// route is the pure routing decision of one publish: which members get a
// frame, and for which groups. entries are the topic's interest entries
// (member or member|group), up the members that are Up (self included),
// self this member; pick chooses one of n candidates for a group (n > 0).
// Members that are not Up get nothing; a group is served by exactly one
// member that has subscribers in it.
func route(entries []string, up map[string]bool, pick func(group string, n int) int) map[string]*delivery {
	out := map[string]*delivery{}
	cands := map[string][]string{}
	for _, e := range entries {
		m, g := splitEntry(e)
		if !up[m] {
			continue
		}
		if g == "" {
			d := out[m]
			if d == nil {
				d = &delivery{}
				out[m] = d
			}
			d.plain = true
			continue
		}
		if !slices.Contains(cands[g], m) {
			cands[g] = append(cands[g], m)
		}
	}
	groups := make([]string, 0, len(cands))
	for g := range cands {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		ms := cands[g]
		slices.Sort(ms)
		m := ms[pick(g, len(ms))]
		d := out[m]
		if d == nil {
			d = &delivery{}
			out[m] = d
		}
		d.groups = append(d.groups, g)
	}
	return out
}

// delivery is what one member is sent for one publish.
type delivery struct {
	plain  bool
	groups []string
}

// sameProcess reports whether a and b name the same process.
func sameProcess(a, b *actor.PID) bool {
	return a != nil && b != nil && a.Address == b.Address && a.Id == b.Id
}
