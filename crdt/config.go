package crdt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Config configures a Replicator. The zero value of every field is its
// default, named in the field's comment. NewReplicator does not modify the
// caller's Config.
type Config struct {
	// BatchWindow is how long local updates' deltas (and change
	// notifications) are collected before they are pushed to every peer at
	// once. Default 2ms (Akka pushes deltas every 200ms).
	BatchWindow time.Duration
	// AntiEntropyInterval is how often the replicator compares digests
	// with one random peer, to repair what deltas missed. An idle round is
	// one frame of about twenty bytes. Default 1s (Akka gossips every 2s).
	AntiEntropyInterval time.Duration
	// PruningInterval is how often the pruning owner looks for departed
	// replicas to prune and advances pruning markers. Default 1s.
	PruningInterval time.Duration
	// PruneAfter is how long a member must have been out of the view
	// before its replica is pruned, unless it left gracefully (pruned at
	// once) or came back under a new incarnation (pruned at once). A member
	// removed by the split-brain resolver may rejoin under the same id;
	// until PruneAfter its writes are kept for that. Default 5m.
	PruneAfter time.Duration
	// PruningMarkerTTL is how long a performed pruning marker is kept
	// (cleaning data from before the pruning that may still arrive).
	// Default 6h (Akka's).
	PruningMarkerTTL time.Duration
	// MaxValueSize bounds a value's encoding, in bytes: an update that
	// would exceed it fails with ErrValueTooLarge. Default 1 MiB; at most
	// 32 MiB.
	MaxValueSize int
	// DefaultTimeout bounds a call (Update, Get, Delete) at a consistency
	// level above Local whose context has no deadline. Default 5s.
	DefaultTimeout time.Duration
	// Durable persists the keys it names to disk. Default: none.
	Durable DurableConfig
	// Expire maps key patterns (an id, or a prefix ending in '*') to an
	// inactivity timeout: a key not read or written anywhere for that long
	// is dropped on every member (not tombstoned: it may be created again).
	// Default: no key expires.
	Expire map[string]time.Duration
	// Logger receives warnings (refused replicas, failed persistence).
	// Nil: none.
	Logger *zap.Logger
	// Now is the replicator's clock (operations' physical time, pruning
	// markers, expiry). Nil: time.Now.
	Now func() time.Time
}

// DurableConfig chooses the keys persisted to disk, with go.etcd.io/bbolt.
type DurableConfig struct {
	// Path is the database file. Empty: nothing is durable.
	Path string
	// Keys are the durable keys' patterns: an id, or a prefix ending in
	// '*' ("*" alone: every key).
	Keys []string
	// WriteBehind, when positive, writes local updates of durable keys at
	// most this long after they were acknowledged (a crash may lose them);
	// zero writes them before Update returns. States merged from peers are
	// always written behind, every BatchWindow.
	WriteBehind time.Duration
}

// maxValueLimit bounds MaxValueSize (a frame holds at least one value).
const maxValueLimit = 32 << 20

// Validate reports every problem of cfg, each wrapping ErrInvalidConfig
// and naming its field. NewReplicator calls it.
func (cfg Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...)))
	}
	dur := func(field string, d, lo, hi time.Duration) {
		if d != 0 && (d < lo || d > hi) {
			bad(field, "%v must be 0 (the default) or in [%v, %v]", d, lo, hi)
		}
	}
	dur("BatchWindow", cfg.BatchWindow, 0, time.Second)
	dur("AntiEntropyInterval", cfg.AntiEntropyInterval, time.Millisecond, time.Hour)
	dur("PruningInterval", cfg.PruningInterval, time.Millisecond, time.Hour)
	dur("PruneAfter", cfg.PruneAfter, time.Millisecond, 30*24*time.Hour)
	dur("PruningMarkerTTL", cfg.PruningMarkerTTL, time.Millisecond, 365*24*time.Hour)
	dur("DefaultTimeout", cfg.DefaultTimeout, time.Millisecond, time.Hour)
	dur("Durable.WriteBehind", cfg.Durable.WriteBehind, 0, time.Minute)
	if cfg.BatchWindow < 0 {
		bad("BatchWindow", "%v must be >= 0", cfg.BatchWindow)
	}
	if cfg.MaxValueSize < 0 || cfg.MaxValueSize > maxValueLimit {
		bad("MaxValueSize", "%d must be 0 (the default, 1 MiB) or in [1, %d]", cfg.MaxValueSize, maxValueLimit)
	}
	for i, p := range cfg.Durable.Keys {
		if err := checkPattern(p); err != nil {
			bad(fmt.Sprintf("Durable.Keys[%d]", i), "%v", err)
		}
	}
	if len(cfg.Durable.Keys) > 0 && cfg.Durable.Path == "" {
		bad("Durable.Path", "must be set when Durable.Keys are")
	}
	for p, d := range cfg.Expire {
		if err := checkPattern(p); err != nil {
			bad(fmt.Sprintf("Expire[%q]", p), "%v", err)
		}
		if d <= 0 {
			bad(fmt.Sprintf("Expire[%q]", p), "%v must be > 0", d)
		}
	}
	return errors.Join(errs...)
}

func checkPattern(p string) error {
	if p == "*" {
		return nil
	}
	id := strings.TrimSuffix(p, "*")
	if err := checkKeyID(id); err != nil {
		return fmt.Errorf("pattern %q: %w", p, err)
	}
	return nil
}

// matchPattern reports whether key id matches pattern p.
func matchPattern(p, id string) bool {
	if pre, ok := strings.CutSuffix(p, "*"); ok {
		return strings.HasPrefix(id, pre)
	}
	return p == id
}

func (cfg Config) withDefaults() Config {
	if cfg.BatchWindow == 0 {
		cfg.BatchWindow = 2 * time.Millisecond
	}
	if cfg.AntiEntropyInterval == 0 {
		cfg.AntiEntropyInterval = time.Second
	}
	if cfg.PruningInterval == 0 {
		cfg.PruningInterval = time.Second
	}
	if cfg.PruneAfter == 0 {
		cfg.PruneAfter = 5 * time.Minute
	}
	if cfg.PruningMarkerTTL == 0 {
		cfg.PruningMarkerTTL = 6 * time.Hour
	}
	if cfg.MaxValueSize == 0 {
		cfg.MaxValueSize = 1 << 20
	}
	if cfg.DefaultTimeout == 0 {
		cfg.DefaultTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	cfg.Durable.Keys = append([]string(nil), cfg.Durable.Keys...)
	exp := make(map[string]time.Duration, len(cfg.Expire))
	for p, d := range cfg.Expire {
		exp[p] = d
	}
	cfg.Expire = exp
	return cfg
}
