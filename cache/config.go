package cache

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// Tier is where a cache keeps its entries.
type Tier int

const (
	// Local keeps entries on this member only, in ristretto.
	Local Tier = iota
	// Partitioned keeps each key on one member, its owner: the member
	// with the highest rendezvous hash of (member, key) among the Up
	// members hosting the cache. A topology change moves only the keys
	// whose owner changed. Config.Backups adds copies on the next-ranked
	// members, which become the owners when the owner dies.
	Partitioned
	// Replicated keeps every entry on every hosting member; reads are
	// local, writes go through the key's owner to every member.
	Replicated
	// Multilevel is Partitioned with a near cache on each member: a read
	// served by the owner is kept near for Config.NearTTL, and every write
	// or delete drops the near copies (see the package documentation for
	// the bound).
	Multilevel
)

func (t Tier) String() string {
	switch t {
	case Local:
		return "local"
	case Partitioned:
		return "partitioned"
	case Replicated:
		return "replicated"
	case Multilevel:
		return "multilevel"
	}
	return fmt.Sprintf("Tier(%d)", int(t))
}

// Config configures one cache. Zero values are the defaults.
type Config struct {
	// Tier: default Local.
	Tier Tier
	// MaxBytes bounds this member's store of the cache (keys and encoded
	// values, plus 64 bytes per entry); ristretto evicts past it.
	// Default 64 MiB.
	MaxBytes int64
	// MaxValueSize bounds one encoded value. Default 1 MiB.
	MaxValueSize int
	// DefaultTTL is the time to live of a write given no TTL. Default 0:
	// entries do not expire.
	DefaultTTL time.Duration
	// NearTTL (Multilevel) bounds how long a near copy lives: a near copy
	// whose invalidation was lost (a partition) is dropped after it.
	// Default 5s.
	NearTTL time.Duration
	// NearMaxBytes (Multilevel) bounds the near cache. Default 16 MiB.
	NearMaxBytes int64
	// Backups (Partitioned, Multilevel) is the number of extra copies of
	// each entry, on the next-ranked hosting members. Default 0.
	Backups int
	// WriteTimeout bounds how long an owner waits for the other members
	// to acknowledge a write's invalidation (and backups' copies) before
	// it answers the writer. Default 1s.
	WriteTimeout time.Duration
	// RequestTimeout bounds a call to another member when the caller's ctx
	// has no deadline. Default 5s.
	RequestTimeout time.Duration
	// ComputeTimeout bounds how long a GetOrCompute computation holds its
	// key's lease: past it, the next waiting caller computes. Default 30s.
	ComputeTimeout time.Duration
	// Meter, when set, exports the cache's statistics as asynchronous
	// counters (cache.hits, cache.misses, cache.writes, cache.evictions,
	// cache.expirations, attribute cache=<name>).
	Meter metric.Meter
	// Observer, when set, is told of every lookup (a foundation.Node
	// passes its Telemetry: the foundation.cache.requests counter).
	Observer Observer
	// Logger: nil for none.
	Logger *zap.Logger
}

// Observer is told of each lookup of a cache, a hit or a miss. It is
// called on the caller's goroutine and must not block.
type Observer interface {
	CacheLookup(cache string, hit bool)
}

// Profile returns the preset of a cluster profile ("development",
// "production", "enterprise"; anything else is development):
// development caches locally, production is Multilevel over Partitioned,
// enterprise adds one backup copy of every entry.
func Profile(name string) Config {
	base := Config{} // every number is the documented default
	switch name {
	case "production":
		base.Tier = Multilevel
	case "enterprise":
		base.Tier = Multilevel
		base.Backups = 1
	}
	return base
}

// Validate reports the first field out of range.
func (c Config) Validate() error {
	switch {
	case c.Tier < Local || c.Tier > Multilevel:
		return fmt.Errorf("%w: Config.Tier %d: want Local, Partitioned, Replicated or Multilevel", ErrInvalid, int(c.Tier))
	case c.MaxBytes < 0:
		return fmt.Errorf("%w: Config.MaxBytes %d: want >= 0 (0: 64 MiB)", ErrInvalid, c.MaxBytes)
	case c.MaxValueSize < 0:
		return fmt.Errorf("%w: Config.MaxValueSize %d: want >= 0 (0: 1 MiB)", ErrInvalid, c.MaxValueSize)
	case c.DefaultTTL < 0:
		return fmt.Errorf("%w: Config.DefaultTTL %v: want >= 0 (0: no expiry)", ErrInvalid, c.DefaultTTL)
	case c.NearTTL < 0:
		return fmt.Errorf("%w: Config.NearTTL %v: want >= 0 (0: 5s)", ErrInvalid, c.NearTTL)
	case c.NearMaxBytes < 0:
		return fmt.Errorf("%w: Config.NearMaxBytes %d: want >= 0 (0: 16 MiB)", ErrInvalid, c.NearMaxBytes)
	case c.Backups < 0 || c.Backups > 8:
		return fmt.Errorf("%w: Config.Backups %d: want 0..8", ErrInvalid, c.Backups)
	case c.Backups > 0 && c.Tier != Partitioned && c.Tier != Multilevel:
		return fmt.Errorf("%w: Config.Backups %d with Tier %v: backups need Partitioned or Multilevel", ErrInvalid, c.Backups, c.Tier)
	case c.WriteTimeout < 0:
		return fmt.Errorf("%w: Config.WriteTimeout %v: want >= 0 (0: 1s)", ErrInvalid, c.WriteTimeout)
	case c.RequestTimeout < 0:
		return fmt.Errorf("%w: Config.RequestTimeout %v: want >= 0 (0: 5s)", ErrInvalid, c.RequestTimeout)
	case c.ComputeTimeout < 0:
		return fmt.Errorf("%w: Config.ComputeTimeout %v: want >= 0 (0: 30s)", ErrInvalid, c.ComputeTimeout)
	}
	return nil
}

// withDefaults returns a copy with the zero fields set.
func (c Config) withDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = 64 << 20
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = 1 << 20
	}
	if c.NearTTL == 0 {
		c.NearTTL = 5 * time.Second
	}
	if c.NearMaxBytes == 0 {
		c.NearMaxBytes = 16 << 20
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.ComputeTimeout == 0 {
		c.ComputeTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}
