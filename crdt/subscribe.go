package crdt

import (
	"fmt"
	"maps"
	"slices"
)

// Subscription delivers batches of changed keys that match its pattern.
// Changes of one BatchWindow come in one batch; while the subscriber has
// not taken a batch, later changes join the one waiting (nothing is lost,
// and the replicator never blocks on a subscriber).
type Subscription struct {
	r       *Replicator
	id      int
	pattern string
	ch      chan Changes
	pending map[string]struct{}
	closed  bool
}

// Changes is one batch of change notifications.
type Changes struct {
	// Keys are the ids of the keys that changed (updated here or merged
	// from a peer, deleted, or expired), sorted. A key may be listed for a
	// merge that brought nothing new.
	Keys []string
}

// Subscribe returns a subscription to the keys matching pattern: a key id,
// or a prefix ending in '*' ("*" alone: every key). Read the new values
// with Get. Close it when done; it is closed when the replicator stops.
func (r *Replicator) Subscribe(pattern string) (*Subscription, error) {
	if err := checkPattern(pattern); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running() {
		return nil, ErrStopped
	}
	s := &Subscription{r: r, id: r.nextSub, pattern: pattern, ch: make(chan Changes, 1), pending: make(map[string]struct{})}
	r.nextSub++
	r.subs[s.id] = s
	return s, nil
}

// C returns the channel of change batches. It is closed by Close and when
// the replicator stops.
func (s *Subscription) C() <-chan Changes { return s.ch }

// Close ends the subscription. It is idempotent.
func (s *Subscription) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	delete(s.r.subs, s.id)
	close(s.ch)
}

// notifyLocked hands the changed keys to the subscriptions; true if a
// batch waits for a subscriber (to retry). r.mu held.
func (r *Replicator) notifyLocked() bool {
	changed := r.st.changed
	if len(changed) > 0 {
		r.st.changed = make(map[string]struct{})
	}
	retry := false
	for _, s := range r.subs {
		for id := range changed {
			if matchPattern(s.pattern, id) {
				s.pending[id] = struct{}{}
			}
		}
		if len(s.pending) == 0 {
			continue
		}
		select {
		case s.ch <- Changes{Keys: slices.Sorted(maps.Keys(s.pending))}:
			clear(s.pending)
		default:
			retry = true
		}
	}
	return retry
}
