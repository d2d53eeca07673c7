package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/foundation-go/foundation/internal/protos"
)

// Get returns the value of k. A miss is (zero, false, nil), and so is a
// key whose owner cannot be reached (a dead member's keys are misses,
// never errors).
func (c *Cache[K, V]) Get(ctx context.Context, k K) (V, bool, error) {
	var zero V
	key, err := c.key(k)
	if err != nil {
		return zero, false, err
	}
	if v, ok := c.fast(key); ok {
		c.stats.hits.Add(1)
		if c.obs != nil {
			c.obs.CacheLookup(c.name, true)
		}
		if c.tier != Local {
			c.stats.near.Add(1)
		}
		return v, true, nil
	}
	if c.tier == Local {
		c.miss(1)
		return zero, false, nil
	}
	e, gen, err := c.fetch(ctx, key)
	if err != nil || e == nil {
		c.miss(1)
		return zero, false, err
	}
	v, err := c.decode(e.Value)
	if err != nil {
		return zero, false, err
	}
	c.keepNear(gen, key, v, e)
	c.hit(1)
	return v, true, nil
}

// fast reads what this member holds: the Local store, the near cache, or
// the Replicated copy.
func (c *Cache[K, V]) fast(key string) (V, bool) {
	if c.local != nil {
		// Inline of store.get: the Local tier's hot path.
		if it, ok := c.local.c.Get(key); ok && it != nil && it.err == "" && (it.exp == 0 || time.Now().UnixNano() < it.exp) {
			return it.val, true
		}
	}
	var zero V
	if c.tier == Replicated {
		if it, ok := c.r.st.get(key); ok && it.err == "" {
			if v, err := c.decode(it.val); err == nil {
				return v, true
			}
		}
	}
	return zero, false
}

// fetch reads key from its owner: the entry (nil for a miss) and the near
// generation read before asking.
func (c *Cache[K, V]) fetch(ctx context.Context, key string) (*protos.CacheEntry, uint64, error) {
	gen := c.gen.Load()
	resp, err := c.send(ctx, key, &protosRequest{Op: opGet, Keys: []string{key}}, false)
	if err != nil || resp == nil || len(resp.Entries) == 0 || !resp.Entries[0].Found || resp.Entries[0].Error != "" {
		return nil, gen, err
	}
	e := resp.Entries[0]
	if c.cfg.Tier == Replicated && c.r.enter() {
		c.r.st.putIfNewer(itemOf(e))
		c.r.exit()
	}
	return e, gen, nil
}

// Put stores v under k for ttl (0: Config.DefaultTTL). On a distributed
// tier it returns once the owner stored it and the members holding near
// copies or backups acknowledged (or Config.WriteTimeout passed).
func (c *Cache[K, V]) Put(ctx context.Context, k K, v V, ttl time.Duration) error {
	_, err := c.put(ctx, k, v, ttl, protos.CachePutMode_CACHE_PUT_ALWAYS)
	return err
}

// PutNew stores v under k only if k has no value; it reports whether it
// did.
func (c *Cache[K, V]) PutNew(ctx context.Context, k K, v V, ttl time.Duration) (bool, error) {
	return c.put(ctx, k, v, ttl, protos.CachePutMode_CACHE_PUT_NEW)
}

// Replace stores v under k only if k has a value; it reports whether it
// did.
func (c *Cache[K, V]) Replace(ctx context.Context, k K, v V, ttl time.Duration) (bool, error) {
	return c.put(ctx, k, v, ttl, protos.CachePutMode_CACHE_PUT_REPLACE)
}

func (c *Cache[K, V]) put(ctx context.Context, k K, v V, ttl time.Duration, mode protos.CachePutMode) (bool, error) {
	key, err := c.key(k)
	if err != nil {
		return false, err
	}
	if ttl, err = c.ttl(ttl); err != nil {
		return false, err
	}
	b, err := c.encode(v)
	if err != nil {
		return false, err
	}
	c.stats.writes.Add(1)
	if c.cfg.Tier == Local {
		ok, _ := c.local.put(key, v, int64(len(b)), ttl, mode, c.clk.next())
		return ok, nil
	}
	resp, err := c.send(ctx, key, &protosRequest{Op: opPut, Mode: mode,
		Entries: []*protos.CacheEntry{{Key: key, Value: b, TtlNanos: int64(ttl)}}}, true)
	c.dropNear(key)
	if err != nil {
		return false, err
	}
	return resp.Changed, nil
}

// Delete removes k.
func (c *Cache[K, V]) Delete(ctx context.Context, k K) error {
	key, err := c.key(k)
	if err != nil {
		return err
	}
	c.stats.writes.Add(1)
	if c.cfg.Tier == Local {
		c.local.remove(key)
		return nil
	}
	_, err = c.send(ctx, key, &protosRequest{Op: opDelete, Keys: []string{key}}, true)
	c.dropNear(key)
	return err
}

// Take removes k and returns the value it had.
func (c *Cache[K, V]) Take(ctx context.Context, k K) (V, bool, error) {
	var zero V
	key, err := c.key(k)
	if err != nil {
		return zero, false, err
	}
	c.stats.writes.Add(1)
	if c.cfg.Tier == Local {
		it, ok := c.local.remove(key)
		if !ok || it.err != "" {
			c.miss(1)
			return zero, false, nil
		}
		c.hit(1)
		return it.val, true, nil
	}
	resp, err := c.send(ctx, key, &protosRequest{Op: opTake, Keys: []string{key}}, true)
	c.dropNear(key)
	if err != nil {
		return zero, false, err
	}
	if len(resp.Entries) == 0 || !resp.Entries[0].Found || resp.Entries[0].Error != "" {
		c.miss(1)
		return zero, false, nil
	}
	v, err := c.decode(resp.Entries[0].Value)
	if err != nil {
		return zero, false, err
	}
	c.hit(1)
	return v, true, nil
}

// Incr adds delta to the integer value of k (0 when absent) and returns
// the sum. The value's encoding must be a decimal integer (ErrNotInteger):
// use it with JSON of an integer type, or Strings. The entry keeps its
// time to live.
func (c *Cache[K, V]) Incr(ctx context.Context, k K, delta int64) (int64, error) {
	key, err := c.key(k)
	if err != nil {
		return 0, err
	}
	c.stats.writes.Add(1)
	if c.cfg.Tier == Local {
		n, _, err := c.local.incr(key, delta, c.clk.next(), func(v V) (int64, bool) {
			b, err := c.codec.Encode(v)
			if err != nil {
				return 0, false
			}
			return parseInt(b)
		}, func(n int64) (V, int64, error) {
			s := itoa(n)
			v, err := c.codec.Decode([]byte(s))
			if err != nil {
				return v, 0, fmt.Errorf("%w: the codec cannot decode the integer %s", ErrNotInteger, s)
			}
			return v, int64(len(s)), nil
		})
		return n, err
	}
	resp, err := c.send(ctx, key, &protosRequest{Op: opIncr, Keys: []string{key}, Delta: delta}, true)
	c.dropNear(key)
	if err != nil {
		return 0, err
	}
	return resp.Number, nil
}

// TTL returns the time k has left to live (0: it does not expire) and
// whether k has a value.
func (c *Cache[K, V]) TTL(ctx context.Context, k K) (time.Duration, bool, error) {
	key, err := c.key(k)
	if err != nil {
		return 0, false, err
	}
	if c.cfg.Tier == Local {
		it, ok := c.local.get(key)
		if !ok {
			return 0, false, nil
		}
		return remaining(it), true, nil
	}
	resp, err := c.send(ctx, key, &protosRequest{Op: opGet, Keys: []string{key}}, false)
	if err != nil || resp == nil || len(resp.Entries) == 0 || !resp.Entries[0].Found {
		return 0, false, err
	}
	return remaining(itemOf(resp.Entries[0])), true, nil
}

// Expire sets k's time to live to ttl from now (0: no expiry); false if k
// has no value.
func (c *Cache[K, V]) Expire(ctx context.Context, k K, ttl time.Duration) (bool, error) {
	if ttl < 0 {
		return false, fmt.Errorf("%w: Expire: ttl %v: want >= 0 (0: no expiry)", ErrInvalid, ttl)
	}
	return c.expire(ctx, k, ttl, false)
}

// Touch restarts k's time to live (the one it was written with) from now;
// false if k has no value.
func (c *Cache[K, V]) Touch(ctx context.Context, k K) (bool, error) {
	return c.expire(ctx, k, 0, true)
}

func (c *Cache[K, V]) expire(ctx context.Context, k K, ttl time.Duration, touch bool) (bool, error) {
	key, err := c.key(k)
	if err != nil {
		return false, err
	}
	if c.cfg.Tier == Local {
		ok, _ := c.local.expire(key, ttl, touch, c.clk.next())
		return ok, nil
	}
	op := opExpire
	if touch {
		op = opTouch
	}
	resp, err := c.send(ctx, key, &protosRequest{Op: op, Keys: []string{key}, TtlNanos: int64(ttl)}, true)
	c.dropNear(key)
	if err != nil {
		return false, err
	}
	return resp.Changed, nil
}

// GetAll returns the values of the keys that have one (one request per
// owner).
func (c *Cache[K, V]) GetAll(ctx context.Context, keys []K) (map[K]V, error) {
	out := make(map[K]V, len(keys))
	byOwner := map[string][]string{}
	ks := map[string]K{}
	for _, k := range keys {
		key, err := c.key(k)
		if err != nil {
			return nil, err
		}
		if v, ok := c.fast(key); ok {
			c.hit(1)
			out[k] = v
			continue
		}
		if c.cfg.Tier == Local {
			c.miss(1)
			continue
		}
		ks[key] = k
		o := c.r.topo.Load().owner(key)
		byOwner[o] = append(byOwner[o], key)
	}
	for _, group := range byOwner {
		gen := c.gen.Load()
		resp, err := c.send(ctx, group[0], &protosRequest{Op: opGet, Keys: group}, false)
		if err != nil {
			return nil, err
		}
		found := map[string]bool{}
		if resp != nil {
			for _, e := range resp.Entries {
				if !e.Found || e.Error != "" {
					continue
				}
				v, err := c.decode(e.Value)
				if err != nil {
					return nil, err
				}
				found[e.Key] = true
				out[ks[e.Key]] = v
				c.keepNear(gen, e.Key, v, e)
			}
		}
		c.hit(len(found))
		c.miss(len(group) - len(found))
	}
	return out, nil
}

// PutAll stores every entry of m for ttl (0: Config.DefaultTTL), one
// request per owner. It stops at the first error.
func (c *Cache[K, V]) PutAll(ctx context.Context, m map[K]V, ttl time.Duration) error {
	ttl, err := c.ttl(ttl)
	if err != nil {
		return err
	}
	byOwner := map[string][]*protos.CacheEntry{}
	for k, v := range m {
		key, err := c.key(k)
		if err != nil {
			return err
		}
		b, err := c.encode(v)
		if err != nil {
			return err
		}
		c.stats.writes.Add(1)
		if c.cfg.Tier == Local {
			c.local.put(key, v, int64(len(b)), ttl, protos.CachePutMode_CACHE_PUT_ALWAYS, c.clk.next())
			continue
		}
		o := c.r.topo.Load().owner(key)
		byOwner[o] = append(byOwner[o], &protos.CacheEntry{Key: key, Value: b, TtlNanos: int64(ttl)})
	}
	return c.putEntries(ctx, byOwner)
}

func (c *Cache[K, V]) putEntries(ctx context.Context, byOwner map[string][]*protos.CacheEntry) error {
	for _, es := range byOwner {
		_, err := c.send(ctx, es[0].Key, &protosRequest{Op: opPut, Entries: es}, true)
		for _, e := range es {
			c.dropNear(e.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Warm reads keys into this member's near cache (Multilevel) or replica
// (Replicated): the hot keys of a member that has just joined.
func (c *Cache[K, V]) Warm(ctx context.Context, keys ...K) error {
	_, err := c.GetAll(ctx, keys)
	return err
}
