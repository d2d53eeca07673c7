package crdt

import (
	"context"
	"iter"
	"maps"
	gosync "sync"
)

// SharedMap is a named map replicated to every member, for users who do
// not want to think in CRDTs: it reads like a local map (no network, no
// context) and writes with the consistency it was made with. Concurrent
// writes of one key keep the newest (an LWWMap: hybrid logical clock
// timestamps, ties broken by member); a Delete concurrent with a Put of
// the same key loses to it.
//
//	prices := crdt.NewSharedMap(r, "prices", crdt.StringCodec(), crdt.Int64Codec(), crdt.Local)
//	_ = prices.Put(ctx, "apple", 3)
//	v, ok := prices.Get("apple") // on any member, a few milliseconds later
type SharedMap[K comparable, V any] struct {
	r   *Replicator
	key Key[*LWWMap[K, V]]
	c   Consistency
}

// NewSharedMap returns the shared map name on r (the key id "shared/" +
// name), whose keys encode with keys and values with values; writes use
// consistency c.
func NewSharedMap[K comparable, V any](r *Replicator, name string, keys Codec[K], values Codec[V], c Consistency) *SharedMap[K, V] {
	return &SharedMap[K, V]{r: r, key: LWWMapKey("shared/"+name, keys, values), c: c}
}

// Key returns the map's key (for Subscribe, durability and expiry
// patterns).
func (m *SharedMap[K, V]) Key() string { return m.key.id }

// Put sets k to v.
func (m *SharedMap[K, V]) Put(ctx context.Context, k K, v V) error {
	return Update(ctx, m.r, m.key, m.c, func(x *LWWMap[K, V], op Op) { x.Put(op.Replica, k, v, op.Clock, op.Now) })
}

// Delete removes k.
func (m *SharedMap[K, V]) Delete(ctx context.Context, k K) error {
	return Update(ctx, m.r, m.key, m.c, func(x *LWWMap[K, V], op Op) { x.Remove(op.Replica, k) })
}

// read runs f on the local replica (nil when the map is empty).
func (m *SharedMap[K, V]) read(f func(x *LWWMap[K, V])) error {
	r := m.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st == nil {
		return ErrStopped
	}
	e, b, err := lookup(r.st, m.key)
	if err != nil {
		return err
	}
	if b == nil {
		f(nil)
		return nil
	}
	r.st.access(e, r.now())
	f(b.v)
	return nil
}

// Get returns k's value on this member.
func (m *SharedMap[K, V]) Get(k K) (v V, ok bool) {
	_ = m.read(func(x *LWWMap[K, V]) {
		if x != nil {
			v, ok = x.Get(k)
		}
	})
	return v, ok
}

// Len returns the number of keys on this member.
func (m *SharedMap[K, V]) Len() (n int) {
	_ = m.read(func(x *LWWMap[K, V]) {
		if x != nil {
			n = x.Len()
		}
	})
	return n
}

// All returns a copy of the map on this member.
func (m *SharedMap[K, V]) All() map[K]V {
	out := map[K]V{}
	_ = m.read(func(x *LWWMap[K, V]) {
		if x != nil {
			maps.Insert(out, x.All())
		}
	})
	return out
}

// Keys yields the keys of a copy of the map.
func (m *SharedMap[K, V]) Keys() iter.Seq[K] { return maps.Keys(m.All()) }

// Watch returns a channel that receives a value after every batch of
// changes of the map (local or remote), and a function that ends the watch
// and closes the channel. A slow reader misses no change: batches
// coalesce while it is busy.
func (m *SharedMap[K, V]) Watch() (<-chan struct{}, func(), error) { return watch(m.r, m.key.id) }

// SharedValue is a named value replicated to every member (an
// LWWRegister): Get reads the local replica, Set writes with the
// consistency it was made with, the newest write wins.
type SharedValue[V any] struct {
	r   *Replicator
	key Key[*LWWRegister[V]]
	c   Consistency
}

// NewSharedValue returns the shared value name on r (the key id "shared/" +
// name), encoded with codec; writes use consistency c.
func NewSharedValue[V any](r *Replicator, name string, codec Codec[V], c Consistency) *SharedValue[V] {
	return &SharedValue[V]{r: r, key: LWWRegisterKey("shared/"+name, codec), c: c}
}

// Key returns the value's key.
func (s *SharedValue[V]) Key() string { return s.key.id }

// Set writes v.
func (s *SharedValue[V]) Set(ctx context.Context, v V) error {
	return Update(ctx, s.r, s.key, s.c, func(x *LWWRegister[V], op Op) { x.Set(op.Replica, v, op.Clock, op.Now) })
}

// Get returns the value on this member, ok false if it was never set.
func (s *SharedValue[V]) Get() (v V, ok bool) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st == nil {
		return v, false
	}
	e, b, err := lookup(r.st, s.key)
	if err != nil || b == nil {
		return v, false
	}
	r.st.access(e, r.now())
	return b.v.Get()
}

// Watch is SharedMap.Watch for the value.
func (s *SharedValue[V]) Watch() (<-chan struct{}, func(), error) { return watch(s.r, s.key.id) }

// watch turns a subscription to id into a channel of signals, through a
// goroutine the replicator owns.
func watch(r *Replicator, id string) (<-chan struct{}, func(), error) {
	sub, err := r.Subscribe(id)
	if err != nil {
		return nil, nil, err
	}
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	r.life.Lock()
	if r.state != lifeRunning {
		r.life.Unlock()
		sub.Close()
		return nil, nil, ErrStopped
	}
	r.goFunc(func() {
		defer close(out)
		for {
			select {
			case <-done:
				return
			case <-r.ctx.Done():
				return
			case _, ok := <-sub.C():
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	})
	r.life.Unlock()
	var once gosync.Once
	return out, func() {
		once.Do(func() {
			close(done)
			sub.Close()
		})
	}, nil
}
