package crdt

import (
	"fmt"
	"iter"
	"time"
)

// LWWMap is a map of last-writer-wins values: an ORMap of LWWRegisters
// (as Akka's LWWMap). Keys are add-wins; a key's value is the newest write
// by (HLC timestamp, replica id). Its deltas carry the written key's
// register and need no causal delivery; it prunes as an ORMap.
//
// The zero LWWMap is empty and usable, but cannot be encoded or decoded
// (ErrNoCodec): create it with NewLWWMap.
type LWWMap[K comparable, V any] struct {
	values Codec[V]
	m      ORMap[K, *LWWRegister[V]]
}

// NewLWWMap returns an empty map whose keys encode with keys and values
// with values.
func NewLWWMap[K comparable, V any](keys Codec[K], values Codec[V]) *LWWMap[K, V] {
	return &LWWMap[K, V]{values: values, m: ORMap[K, *LWWRegister[V]]{keys: keys}}
}

func (m *LWWMap[K, V]) newReg() *LWWRegister[V] { return &LWWRegister[V]{codec: m.values} }

func (m *LWWMap[K, V]) wrap(o *ORMap[K, *LWWRegister[V]]) *LWWMap[K, V] {
	return &LWWMap[K, V]{values: m.values, m: *o}
}

// Put sets k to v as replica, with a timestamp from replica's clock at
// physical time greater than that of every value of k replica has seen. It
// returns the write's timestamp.
func (m *LWWMap[K, V]) Put(replica string, k K, v V, clock *HLC, physical time.Time) Timestamp {
	var ts Timestamp
	m.m.update(replica, k, m.newReg, func(r *LWWRegister[V]) { ts = r.Set(replica, v, clock, physical) })
	return ts
}

// Remove removes k (the writes of it this replica has seen).
func (m *LWWMap[K, V]) Remove(replica string, k K) { m.m.Remove(replica, k) }

// newest returns the winning register of an entry.
func newest[V any](es []dotVal[*LWWRegister[V]]) *LWWRegister[V] {
	w := es[0].v
	for _, e := range es[1:] {
		if e.v.newer(w) {
			w = e.v
		}
	}
	return w
}

// Get returns k's value and whether k is present.
func (m *LWWMap[K, V]) Get(k K) (V, bool) {
	es := m.m.m[k]
	if len(es) == 0 {
		var zero V
		return zero, false
	}
	return newest(es).val, true
}

// Written returns the timestamp and writer of k's value (zero and "" if k
// is absent).
func (m *LWWMap[K, V]) Written(k K) (Timestamp, string) {
	es := m.m.m[k]
	if len(es) == 0 {
		return Timestamp{}, ""
	}
	return newest(es).Written()
}

// Contains reports whether k is present.
func (m *LWWMap[K, V]) Contains(k K) bool { return m.m.Contains(k) }

// Len returns the number of keys.
func (m *LWWMap[K, V]) Len() int { return m.m.Len() }

// All yields each key and its value in no particular order.
func (m *LWWMap[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for k, es := range m.m.m {
			if len(es) > 0 && !yield(k, newest(es).val) {
				return
			}
		}
	}
}

// Merge joins other into m.
func (m *LWWMap[K, V]) Merge(other *LWWMap[K, V]) {
	if other != nil {
		m.m.Merge(&other.m)
	}
}

// HasDelta reports whether m changed since the last TakeDelta.
func (m *LWWMap[K, V]) HasDelta() bool { return m.m.HasDelta() }

// TakeDelta returns the join of the deltas of the operations since the last
// TakeDelta.
func (m *LWWMap[K, V]) TakeDelta() (*LWWMap[K, V], bool) {
	d, ok := m.m.TakeDelta()
	if !ok {
		return nil, false
	}
	return m.wrap(d), true
}

// Clone returns a deep copy of m without its pending delta.
func (m *LWWMap[K, V]) Clone() *LWWMap[K, V] { return m.wrap(m.m.Clone()) }

// NeedsPruning reports whether removed has dots in m.
func (m *LWWMap[K, V]) NeedsPruning(removed string) bool { return m.m.NeedsPruning(removed) }

// Prune moves the keys whose versions carry removed's dots to new dots of
// owner (see ORMap.Prune).
func (m *LWWMap[K, V]) Prune(owner, removed string) { m.m.Prune(owner, removed) }

// PruneCleanup forgets removed's dots.
func (m *LWWMap[K, V]) PruneCleanup(removed string) { m.m.PruneCleanup(removed) }

// AppendBinary appends m's encoding: an ORMap's, with kind LWWMap and
// LWWRegister values.
func (m *LWWMap[K, V]) AppendBinary(b []byte) ([]byte, error) {
	if !m.values.ok() {
		return b, fmt.Errorf("%w: LWWMap has no value codec; create it with NewLWWMap", ErrNoCodec)
	}
	return m.m.appendTo(b, KindLWWMap, "LWWMap")
}

// MarshalBinary returns m's encoding.
func (m *LWWMap[K, V]) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary replaces m with the LWWMap encoded in data.
func (m *LWWMap[K, V]) UnmarshalBinary(data []byte) error {
	if !m.values.ok() {
		return fmt.Errorf("%w: LWWMap has no value codec; create it with NewLWWMap", ErrNoCodec)
	}
	return m.m.unmarshal(data, KindLWWMap, "LWWMap", m.newReg)
}

// PNCounterMap is a map of counters: an ORMap of PNCounters (as Akka's
// PNCounterMap). Keys are add-wins; removing a key resets its counter. Its
// deltas carry the changed key's counter and need no causal delivery;
// Prune folds the removed replica's totals into the owner's.
//
// The zero PNCounterMap is empty and usable, but cannot be encoded or
// decoded (ErrNoCodec): create it with NewPNCounterMap.
type PNCounterMap[K comparable] struct {
	m ORMap[K, *PNCounter]
}

// NewPNCounterMap returns an empty map whose keys encode with keys.
func NewPNCounterMap[K comparable](keys Codec[K]) *PNCounterMap[K] {
	return &PNCounterMap[K]{m: ORMap[K, *PNCounter]{keys: keys, newV: NewPNCounter}}
}

func wrapPN[K comparable](o *ORMap[K, *PNCounter]) *PNCounterMap[K] {
	return &PNCounterMap[K]{m: *o}
}

// Increment adds n to k's counter as replica (creating it at 0 if absent).
func (m *PNCounterMap[K]) Increment(replica string, k K, n uint64) {
	m.m.update(replica, k, NewPNCounter, func(c *PNCounter) { c.Increment(replica, n) })
}

// Decrement subtracts n from k's counter as replica (creating it at 0 if
// absent).
func (m *PNCounterMap[K]) Decrement(replica string, k K, n uint64) {
	m.m.update(replica, k, NewPNCounter, func(c *PNCounter) { c.Decrement(replica, n) })
}

// Add adds n (which may be negative) to k's counter as replica.
func (m *PNCounterMap[K]) Add(replica string, k K, n int64) {
	m.m.update(replica, k, NewPNCounter, func(c *PNCounter) { c.Add(replica, n) })
}

// Remove removes k (the changes of it this replica has seen): its counter
// restarts from 0 if k is changed again.
func (m *PNCounterMap[K]) Remove(replica string, k K) { m.m.Remove(replica, k) }

// Get returns k's count and whether k is present.
func (m *PNCounterMap[K]) Get(k K) (int64, bool) {
	c, ok := m.m.Get(k)
	if !ok {
		return 0, false
	}
	return c.Value(), true
}

// Contains reports whether k is present.
func (m *PNCounterMap[K]) Contains(k K) bool { return m.m.Contains(k) }

// Len returns the number of keys.
func (m *PNCounterMap[K]) Len() int { return m.m.Len() }

// All yields each key and its count in no particular order.
func (m *PNCounterMap[K]) All() iter.Seq2[K, int64] {
	return func(yield func(K, int64) bool) {
		for k, c := range m.m.All() {
			if !yield(k, c.Value()) {
				return
			}
		}
	}
}

// Merge joins other into m.
func (m *PNCounterMap[K]) Merge(other *PNCounterMap[K]) {
	if other != nil {
		m.m.Merge(&other.m)
	}
}

// HasDelta reports whether m changed since the last TakeDelta.
func (m *PNCounterMap[K]) HasDelta() bool { return m.m.HasDelta() }

// TakeDelta returns the join of the deltas of the operations since the last
// TakeDelta.
func (m *PNCounterMap[K]) TakeDelta() (*PNCounterMap[K], bool) {
	d, ok := m.m.TakeDelta()
	if !ok {
		return nil, false
	}
	return wrapPN(d), true
}

// Clone returns a deep copy of m without its pending delta.
func (m *PNCounterMap[K]) Clone() *PNCounterMap[K] { return wrapPN(m.m.Clone()) }

// NeedsPruning reports whether removed has dots or totals in m.
func (m *PNCounterMap[K]) NeedsPruning(removed string) bool { return m.m.NeedsPruning(removed) }

// Prune folds removed's totals into owner's and moves the keys that mention
// removed to new dots of owner (see ORMap.Prune).
func (m *PNCounterMap[K]) Prune(owner, removed string) { m.m.Prune(owner, removed) }

// PruneCleanup forgets removed's dots and totals.
func (m *PNCounterMap[K]) PruneCleanup(removed string) { m.m.PruneCleanup(removed) }

// AppendBinary appends m's encoding: an ORMap's, with kind PNCounterMap and
// PNCounter values.
func (m *PNCounterMap[K]) AppendBinary(b []byte) ([]byte, error) {
	return m.m.appendTo(b, KindPNCounterMap, "PNCounterMap")
}

// MarshalBinary returns m's encoding.
func (m *PNCounterMap[K]) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary replaces m with the PNCounterMap encoded in data.
func (m *PNCounterMap[K]) UnmarshalBinary(data []byte) error {
	return m.m.unmarshal(data, KindPNCounterMap, "PNCounterMap", NewPNCounter)
}
