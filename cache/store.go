package cache

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/ristretto/v2"
)

// Stats are a cache's counters on this member since it was created.
type Stats struct {
	// Hits and Misses count reads (Get, GetAll per key, GetOrCompute, Take,
	// TTL) served here, near or by the owner.
	Hits, Misses uint64
	// Near counts the hits served without a network hop by a distributed
	// tier: from the near cache (Multilevel) or the local replica
	// (Replicated). They are part of Hits.
	Near uint64
	// Writes counts the writes this member's callers made.
	Writes uint64
	// Evictions and Expirations count entries ristretto dropped from this
	// member's stores for room, and because their time to live passed
	// (counted when ristretto's expiry sweep removes them, every few
	// seconds).
	Evictions, Expirations uint64
}

type stats struct {
	hits, misses, near, writes, evictions, expirations atomic.Uint64
}

func (s *stats) snapshot() Stats {
	return Stats{Hits: s.hits.Load(), Misses: s.misses.Load(), Near: s.near.Load(), Writes: s.writes.Load(),
		Evictions: s.evictions.Load(), Expirations: s.expirations.Load()}
}

// item is one stored entry. Items are immutable once stored.
type item[T any] struct {
	key string
	val T
	// exp is when the entry expires (unix nanoseconds), 0 for never; ttl
	// is the time to live it was written with (Touch restarts it).
	exp, ttl int64
	ver      uint64
	cost     int64
	// err is a cached computation failure (val is then zero).
	err string
}

func (it *item[T]) live(now int64) bool { return it.exp == 0 || now < it.exp }

// store is one ristretto cache of items, with per-key striped locks for
// the read-modify-write operations. T is V for the Local tier and near
// caches, []byte for the stores of the distributed tiers.
type store[T any] struct {
	c       *ristretto.Cache[string, *item[T]]
	stripes [64]sync.Mutex
}

func newStore[T any](maxBytes int64, st *stats) (*store[T], error) {
	// One admission counter per 256 bytes of capacity, 10k..1M: closing
	// a ristretto cache resets its counters, and a million took 150-200 ms
	// under the race detector, most of a node's 1 s leave budget.
	counters := min(max(maxBytes/256, 10_000), 1_000_000)
	c, err := ristretto.NewCache(&ristretto.Config[string, *item[T]]{
		NumCounters:        counters,
		MaxCost:            maxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true,
		OnEvict: func(it *ristretto.Item[*item[T]]) {
			if !it.Expiration.IsZero() && !time.Now().Before(it.Expiration) {
				st.expirations.Add(1)
			} else {
				st.evictions.Add(1)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return &store[T]{c: c}, nil
}

func (s *store[T]) lock(key string) *sync.Mutex {
	m := &s.stripes[xxhash.Sum64String(key)%uint64(len(s.stripes))]
	m.Lock()
	return m
}

// get returns key's live item.
func (s *store[T]) get(key string) (*item[T], bool) {
	it, ok := s.c.Get(key)
	if !ok || it == nil {
		return nil, false
	}
	if it.exp != 0 && time.Now().UnixNano() >= it.exp {
		return nil, false
	}
	return it, true
}

// set stores it and waits until a get sees it.
func (s *store[T]) set(it *item[T]) {
	if it.exp != 0 {
		ttl := time.Duration(it.exp - time.Now().UnixNano())
		if ttl <= 0 {
			s.c.Del(it.key)
			return
		}
		s.c.SetWithTTL(it.key, it, it.cost, ttl)
	} else {
		s.c.Set(it.key, it, it.cost)
	}
	s.c.Wait()
}

func (s *store[T]) del(key string) { s.c.Del(key) }

// each calls f for every live item (in no order) until f returns false.
func (s *store[T]) each(f func(*item[T]) bool) {
	now := time.Now().UnixNano()
	s.c.IterValues(func(it *item[T]) bool {
		if it == nil || !it.live(now) {
			return false
		}
		return !f(it)
	})
}

func (s *store[T]) clear() { s.c.Clear() }
func (s *store[T]) close() { s.c.Close() }

// expiry returns the expiry for a ttl from now (0: never).
func expiry(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return time.Now().Add(ttl).UnixNano()
}

// parseInt reads a value encoded as a decimal integer (JSON of an integer
// type, or text).
func parseInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// clock issues versions: hybrid (wall-clock nanoseconds, bumped to stay
// increasing), so versions of different owners of one key order writes
// across an ownership move up to clock skew.
type clock struct{ last atomic.Uint64 }

func (c *clock) next() uint64 {
	for {
		last := c.last.Load()
		v := max(last+1, uint64(time.Now().UnixNano()))
		if c.last.CompareAndSwap(last, v) {
			return v
		}
	}
}
