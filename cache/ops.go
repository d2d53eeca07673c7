package cache

import (
	"time"

	"github.com/foundation-go/foundation/internal/protos"
)

// The read-modify-write operations of one store, shared by the Local tier
// (T = V) and the owners of the distributed tiers (T = []byte). Each runs
// under its key's stripe lock and returns the item it stored (nil for a
// deletion, or when nothing changed).

func (s *store[T]) put(key string, val T, cost int64, ttl time.Duration, mode protos.CachePutMode, ver uint64) (bool, *item[T]) {
	mu := s.lock(key)
	defer mu.Unlock()
	_, present := s.get(key)
	switch {
	case mode == protos.CachePutMode_CACHE_PUT_NEW && present,
		mode == protos.CachePutMode_CACHE_PUT_REPLACE && !present:
		return false, nil
	}
	it := &item[T]{key: key, val: val, cost: cost + int64(len(key)) + 64, ttl: int64(ttl), exp: expiry(ttl), ver: ver}
	s.set(it)
	return true, it
}

// store puts it unless the store holds a newer version of its key.
func (s *store[T]) putIfNewer(it *item[T]) bool {
	mu := s.lock(it.key)
	defer mu.Unlock()
	if cur, ok := s.c.Get(it.key); ok && cur != nil && cur.ver >= it.ver {
		return false
	}
	s.set(it)
	return true
}

// delIfOlder deletes key unless the store holds a version newer than ver.
func (s *store[T]) delIfOlder(key string, ver uint64) {
	mu := s.lock(key)
	defer mu.Unlock()
	if cur, ok := s.c.Get(key); ok && cur != nil && cur.ver > ver {
		return
	}
	s.del(key)
}

func (s *store[T]) remove(key string) (*item[T], bool) {
	mu := s.lock(key)
	defer mu.Unlock()
	it, ok := s.get(key)
	s.del(key)
	return it, ok
}

func (s *store[T]) incr(key string, delta int64, ver uint64, toInt func(T) (int64, bool), fromInt func(int64) (T, int64, error)) (int64, *item[T], error) {
	mu := s.lock(key)
	defer mu.Unlock()
	var n int64
	var ttl, exp int64
	if cur, ok := s.get(key); ok {
		var isInt bool
		if n, isInt = toInt(cur.val); !isInt || cur.err != "" {
			return 0, nil, ErrNotInteger
		}
		ttl, exp = cur.ttl, cur.exp
	}
	n += delta
	v, cost, err := fromInt(n)
	if err != nil {
		return 0, nil, err
	}
	it := &item[T]{key: key, val: v, cost: cost + int64(len(key)) + 64, ttl: ttl, exp: exp, ver: ver}
	s.set(it)
	return n, it, nil
}

// expire sets key's time to live from now (0: no expiry); touch restarts
// the one it was written with.
func (s *store[T]) expire(key string, ttl time.Duration, touch bool, ver uint64) (bool, *item[T]) {
	mu := s.lock(key)
	defer mu.Unlock()
	cur, ok := s.get(key)
	if !ok {
		return false, nil
	}
	if touch {
		ttl = time.Duration(cur.ttl)
	}
	it := *cur
	it.ttl, it.exp, it.ver = int64(ttl), expiry(ttl), ver
	s.set(&it)
	return true, &it
}

// remaining is an item's time to live left (0: none).
func remaining[T any](it *item[T]) time.Duration {
	if it.exp == 0 {
		return 0
	}
	return max(time.Duration(it.exp-time.Now().UnixNano()), time.Nanosecond)
}
