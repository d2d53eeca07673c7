package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/singleflight"

	"github.com/foundation-go/foundation/internal/protos"
)

// Cache is one named cache on this member, typed by its codec: see the
// package documentation. Its methods are safe for concurrent use.
type Cache[K comparable, V any] struct {
	name  string
	cfg   Config
	codec Codec[K, V]
	h     *Host
	r     *reg
	// local is the Local tier's store, or Multilevel's near cache.
	local *store[V]
	stats *stats
	sf    singleflight.Group
	// gen counts near invalidations: a read from the owner is kept near
	// only if none arrived while it was on its way.
	gen    atomic.Uint64
	clk    clock
	closed atomic.Bool
	mreg   metric.Registration
	// tier and obs are copies of cfg.Tier and cfg.Observer for the hot
	// path.
	tier Tier
	obs  Observer
	// strKey: K is string and the codec keys strings by themselves (Bytes,
	// Strings, JSON): the hot path skips the codec call.
	strKey bool
	once   sync.Once // closes local
}

// New opens the cache name on this member. h may be nil for the Local
// tier; the other tiers need the member's Host. Every member that opens
// name with a distributed tier hosts it (shares its keys); open it with
// the same Tier and Backups everywhere.
func New[K comparable, V any](h *Host, name string, codec Codec[K, V], cfg Config) (*Cache[K, V], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case name == "" || len(name) > 200 || strings.ContainsAny(name, "*\x00"):
		return nil, fmt.Errorf("%w: cache name %q: want 1..200 bytes without '*' or NUL", ErrInvalid, name)
	case codec == nil:
		return nil, fmt.Errorf("%w: New: nil codec (cache.JSON, cache.Bytes or cache.Strings)", ErrInvalid)
	case cfg.Tier != Local && h == nil:
		return nil, fmt.Errorf("%w: New: Tier %v needs a Host (NewHost)", ErrInvalid, cfg.Tier)
	}
	cfg = cfg.withDefaults()
	c := &Cache[K, V]{name: name, cfg: cfg, codec: codec, stats: &stats{}, tier: cfg.Tier, obs: cfg.Observer}
	var zk K
	if _, isString := any(zk).(string); isString {
		switch any(codec).(type) {
		case bytesCodec, stringsCodec, jsonCodec[K, V]:
			c.strKey = true
		}
	}
	var err error
	switch cfg.Tier {
	case Local:
		c.local, err = newStore[V](cfg.MaxBytes, c.stats)
	case Multilevel:
		c.local, err = newStore[V](cfg.NearMaxBytes, c.stats)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if cfg.Tier != Local {
		c.h = h
		if c.r, err = h.register(name, cfg, c.stats, c.closeLocal); err != nil {
			c.closeLocal()
			return nil, err
		}
		if c.local != nil {
			c.r.near.Store(&nearHooks{
				invalidate: func(key string) { c.gen.Add(1); c.local.del(key) },
				purge:      func() { c.gen.Add(1); c.local.clear() },
			})
		}
	}
	if cfg.Meter != nil {
		if err := c.registerMetrics(cfg.Meter); err != nil {
			_ = c.Close(context.Background())
			return nil, fmt.Errorf("cache: registering metrics: %w", err)
		}
	}
	return c, nil
}

func (c *Cache[K, V]) registerMetrics(m metric.Meter) error {
	names := []string{"cache.hits", "cache.misses", "cache.writes", "cache.evictions", "cache.expirations"}
	var obs []metric.Observable
	var counters []metric.Int64ObservableCounter
	for _, n := range names {
		ctr, err := m.Int64ObservableCounter(n)
		if err != nil {
			return err
		}
		counters = append(counters, ctr)
		obs = append(obs, ctr)
	}
	attrs := metric.WithAttributes(attribute.String("cache", c.name))
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := c.Stats()
		for i, v := range []uint64{s.Hits, s.Misses, s.Writes, s.Evictions, s.Expirations} {
			o.ObserveInt64(counters[i], int64(v), attrs)
		}
		return nil
	}, obs...)
	c.mreg = reg
	return err
}

// Name is the cache's name.
func (c *Cache[K, V]) Name() string { return c.name }

// Tier is the cache's tier.
func (c *Cache[K, V]) Tier() Tier { return c.cfg.Tier }

// Stats returns the cache's counters on this member.
func (c *Cache[K, V]) Stats() Stats { return c.stats.snapshot() }

// Close closes the cache on this member. A distributed cache first hands
// the entries this member owns to their new owners (a graceful leave:
// they stay hits); ctx bounds that. Idempotent.
func (c *Cache[K, V]) Close(ctx context.Context) error {
	if c.closed.Swap(true) {
		return nil
	}
	var err error
	if c.mreg != nil {
		_ = c.mreg.Unregister()
	}
	if c.r != nil {
		c.r.stopNear()
		err = c.r.leave(ctx)
	}
	c.closeLocal()
	return err
}

// closeLocal closes the Local store or near cache (when the cache closes,
// or its Host stops).
func (c *Cache[K, V]) closeLocal() {
	c.once.Do(func() {
		if c.local != nil {
			c.local.close()
		}
	})
}

func (c *Cache[K, V]) key(k K) (string, error) {
	if c.closed.Load() {
		return "", ErrClosed
	}
	if c.strKey {
		// K is string (checked in New): the key is k itself.
		return *(*string)(unsafe.Pointer(&k)), nil
	}
	s, err := c.codec.Key(k)
	if err != nil {
		return "", codecErr("key", err)
	}
	return s, nil
}

func (c *Cache[K, V]) encode(v V) ([]byte, error) {
	b, err := c.codec.Encode(v)
	if err != nil {
		return nil, codecErr("value", err)
	}
	if len(b) > c.cfg.MaxValueSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, over Config.MaxValueSize %d", ErrTooLarge, len(b), c.cfg.MaxValueSize)
	}
	return b, nil
}

func (c *Cache[K, V]) decode(b []byte) (V, error) {
	v, err := c.codec.Decode(b)
	if err != nil {
		return v, codecErr("stored value", err)
	}
	return v, nil
}

func (c *Cache[K, V]) ttl(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl < 0:
		return 0, fmt.Errorf("%w: ttl %v: want >= 0 (0: Config.DefaultTTL)", ErrInvalid, ttl)
	case ttl == 0:
		return c.cfg.DefaultTTL, nil
	}
	return ttl, nil
}

// reqCtx gives ctx Config.RequestTimeout when it has no deadline.
func (c *Cache[K, V]) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.RequestTimeout)
}

// transient reports a failure to reach an owner (its stream broke, it
// closed the cache or is leaving): the request may go to the next owner.
func transient(resp *protosResponse, err error) bool {
	if err != nil {
		return !errors.Is(err, ErrClosed)
	}
	return resp.Status == statusError && (resp.Code == codeClosed || resp.Code == codeNotHosting)
}

func respErr(resp *protosResponse) error {
	switch resp.Code {
	case codeNotInteger:
		return fmt.Errorf("%w: %s", ErrNotInteger, resp.Error)
	case codeTooLarge:
		return fmt.Errorf("%w: %s", ErrTooLarge, resp.Error)
	}
	return fmt.Errorf("cache: %s: %s", resp.Code, resp.Error)
}

// send sends req for key to its owner. A read gives up at the first
// failure to reach the owner (nil response: a miss); a write retries on
// the current owner until ctx ends (ErrUnavailable).
func (c *Cache[K, V]) send(ctx context.Context, key string, req *protosRequest, write bool) (*protosResponse, error) {
	if c.h.isClosed() {
		return nil, ErrClosed
	}
	req.Cache = c.name
	ctx, cancel := c.reqCtx(ctx)
	defer cancel()
	backoff := 10 * time.Millisecond
	for {
		owner := c.r.topo.Load().owner(key)
		var resp *protosResponse
		err := errNoMembers
		if owner != "" {
			resp, err = c.h.do(ctx, owner, cloneReq(req))
		}
		if !transient(resp, err) {
			if err != nil {
				return nil, err
			}
			if resp.Status == statusError {
				return nil, respErr(resp)
			}
			return resp, nil
		}
		if !write {
			return nil, nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: key %q: %v (last: %v)", ErrUnavailable, key, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 200*time.Millisecond)
		c.r.refresh()
	}
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// keepNear stores a value read from its owner in the near cache, unless
// an invalidation arrived since gen was read.
func (c *Cache[K, V]) keepNear(gen uint64, key string, v V, e *protos.CacheEntry) {
	if c.local == nil || c.cfg.Tier != Multilevel {
		return
	}
	exp := time.Now().Add(c.cfg.NearTTL).UnixNano()
	if e.ExpireUnixNano != 0 && e.ExpireUnixNano < exp {
		exp = e.ExpireUnixNano
	}
	if c.gen.Load() != gen {
		return
	}
	c.local.set(&item[V]{key: key, val: v, exp: exp, ver: e.Version, cost: int64(len(e.Value)+len(key)) + 64})
	if c.gen.Load() != gen { // an invalidation raced the store
		c.local.del(key)
	}
}

func (c *Cache[K, V]) dropNear(key string) {
	if c.local != nil && c.cfg.Tier == Multilevel {
		c.gen.Add(1)
		c.local.del(key)
	}
}

// Members returns the ids of the members hosting the cache as this member
// sees them (Up members that opened it), sorted; nil for the Local tier.
func (c *Cache[K, V]) Members() []string {
	if c.r == nil {
		return nil
	}
	return append([]string(nil), c.r.topo.Load().members...)
}

// Owner returns the id of the member owning key (its codec string) as
// this member sees it; "" for the Local tier or when no member hosts the
// cache.
func (c *Cache[K, V]) Owner(key string) string {
	if c.r == nil {
		return ""
	}
	return c.r.topo.Load().owner(key)
}

func (c *Cache[K, V]) hit(n int) {
	c.stats.hits.Add(uint64(n))
	if o := c.cfg.Observer; o != nil {
		for range n {
			o.CacheLookup(c.name, true)
		}
	}
}

func (c *Cache[K, V]) miss(n int) {
	c.stats.misses.Add(uint64(n))
	if o := c.cfg.Observer; o != nil {
		for range n {
			o.CacheLookup(c.name, false)
		}
	}
}
