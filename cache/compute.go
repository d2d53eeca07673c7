package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foundation-go/foundation/internal/protos"
)

// ComputeOption adjusts one GetOrCompute.
type ComputeOption interface{ apply(*computeOpts) }

type computeOpts struct {
	ttl    time.Duration
	errTTL time.Duration
}

type computeOpt func(*computeOpts)

func (f computeOpt) apply(o *computeOpts) { f(o) }

// WithTTL stores the computed value for ttl (default Config.DefaultTTL).
func WithTTL(ttl time.Duration) ComputeOption {
	return computeOpt(func(o *computeOpts) { o.ttl = ttl })
}

// CacheErrors caches a failed computation for ttl: callers in that time
// get ErrCompute with its message instead of computing again. By default
// a failure is not cached (the callers waiting for it share it; the next
// caller computes).
func CacheErrors(ttl time.Duration) ComputeOption {
	return computeOpt(func(o *computeOpts) { o.errTTL = ttl })
}

// GetOrCompute returns k's value, computing it with compute on a miss:
// one computation per key cluster-wide at a time. Concurrent callers on
// this member share one request; callers on every member wait at the
// key's owner for the member that computes. Exactly once on a stable
// cluster; at least once across an owner's or a computing member's
// failure (the next caller computes). A failure is returned to the
// callers waiting for it (ErrCompute on other members), and not cached
// unless CacheErrors.
//
// The callers on this member share the first one's ctx.
func (c *Cache[K, V]) GetOrCompute(ctx context.Context, k K, compute func(context.Context) (V, error), opts ...ComputeOption) (V, error) {
	var zero V
	if compute == nil {
		return zero, fmt.Errorf("%w: GetOrCompute: nil compute function", ErrInvalid)
	}
	key, err := c.key(k)
	if err != nil {
		return zero, err
	}
	var o computeOpts
	for _, op := range opts {
		if op != nil {
			op.apply(&o)
		}
	}
	if o.ttl < 0 || o.errTTL < 0 {
		return zero, fmt.Errorf("%w: GetOrCompute: WithTTL %v, CacheErrors %v: want >= 0", ErrInvalid, o.ttl, o.errTTL)
	}
	if o.ttl == 0 {
		o.ttl = c.cfg.DefaultTTL
	}
	if v, ok := c.fast(key); ok {
		c.hit(1)
		if c.cfg.Tier != Local {
			c.stats.near.Add(1)
		}
		return v, nil
	}
	v, err, _ := c.sf.Do(key, func() (any, error) {
		if c.cfg.Tier == Local {
			return c.computeLocal(ctx, key, compute, o)
		}
		return c.computeRemote(ctx, key, compute, o)
	})
	if v == nil {
		return zero, err
	}
	return v.(V), err
}

func (c *Cache[K, V]) computeLocal(ctx context.Context, key string, compute func(context.Context) (V, error), o computeOpts) (V, error) {
	if it, ok := c.local.get(key); ok {
		c.hit(1)
		if it.err != "" {
			var zero V
			return zero, fmt.Errorf("%w: %s", ErrCompute, it.err)
		}
		return it.val, nil
	}
	c.miss(1)
	v, err := compute(ctx)
	if err != nil {
		if o.errTTL > 0 {
			c.local.set(&item[V]{key: key, err: err.Error(), ttl: int64(o.errTTL), exp: expiry(o.errTTL), ver: c.clk.next(), cost: int64(len(key)+len(err.Error())) + 64})
		}
		return v, err
	}
	b, err := c.encode(v)
	if err != nil {
		return v, err
	}
	c.stats.writes.Add(1)
	c.local.put(key, v, int64(len(b)), o.ttl, protos.CachePutMode_CACHE_PUT_ALWAYS, c.clk.next())
	return v, nil
}

func (c *Cache[K, V]) computeRemote(ctx context.Context, key string, compute func(context.Context) (V, error), o computeOpts) (V, error) {
	var zero V
	if c.h.isClosed() {
		return zero, ErrClosed
	}
	// Waiting may outlast one request: the computation may take up to
	// ComputeTimeout.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.ComputeTimeout+c.cfg.RequestTimeout)
		defer cancel()
	}
	var failingSince time.Time
	backoff := 10 * time.Millisecond
	for {
		owner := c.r.topo.Load().owner(key)
		if owner == "" {
			// No member hosts the cache (this one is leaving): compute
			// without caching.
			c.miss(1)
			return compute(ctx)
		}
		gen := c.gen.Load()
		resp, err := c.h.do(ctx, owner, &protosRequest{Cache: c.name, Op: opAcquire, Keys: []string{key}})
		if transient(resp, err) {
			if ctx.Err() != nil {
				return zero, ctx.Err()
			}
			if failingSince.IsZero() {
				failingSince = time.Now()
			} else if time.Since(failingSince) > c.cfg.RequestTimeout {
				// The owner has been unreachable for long and is still
				// in the view: compute here rather than fail.
				c.miss(1)
				return compute(ctx)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return zero, ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, 200*time.Millisecond)
			c.r.refresh()
			continue
		}
		if err != nil {
			return zero, err
		}
		switch resp.Status {
		case statusOK:
			c.hit(1)
			e := resp.Entries[0]
			v, err := c.decode(e.Value)
			if err != nil {
				return zero, err
			}
			c.keepNear(gen, key, v, e)
			return v, nil
		case statusFailed:
			c.hit(1)
			return zero, fmt.Errorf("%w: %s", ErrCompute, resp.Error)
		case statusGranted:
			c.miss(1)
			return c.holdLease(ctx, owner, key, resp.Lease, compute, o)
		default:
			return zero, respErr(resp)
		}
	}
}

// holdLease computes key's value under lease and hands the result to the
// owner (which answers the waiting callers).
func (c *Cache[K, V]) holdLease(ctx context.Context, owner, key string, lease uint64, compute func(context.Context) (V, error), o computeOpts) (v V, err error) {
	fill := &protosRequest{Cache: c.name, Op: opFill, Keys: []string{key}, Lease: lease}
	defer func() {
		// Also when compute panics: the lease passes on.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RequestTimeout)
		defer cancel()
		_, _ = c.h.do(fctx, owner, fill)
	}()
	v, err = compute(ctx)
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			fill.Error, fill.CacheErrorNanos = err.Error(), int64(o.errTTL)
		} // else: this caller gave up; the next waiter computes
		return v, err
	}
	b, err := c.encode(v)
	if err != nil {
		fill.Error = err.Error()
		return v, err
	}
	c.stats.writes.Add(1)
	fill.Entries = []*protos.CacheEntry{{Key: key, Value: b, TtlNanos: int64(o.ttl)}}
	return v, nil
}
