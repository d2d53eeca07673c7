// Package cache is a distributed cache: a local tier on ristretto
// (github.com/dgraph-io/ristretto/v2) and partitioned, replicated and
// multilevel tiers across the members of a cluster, with a cluster-wide
// GetOrCompute, time to live on every tier, near-cache invalidation,
// hand-over of keys on membership changes, statistics and backups.
//
// A member runs one Host (NewHost: the member's Membership and crdt
// Replicator) and opens caches on it with New; a foundation.Node does this
// for you (Node.Caches, and foundation.NewCache for the profile's tier).
//
//	users, err := cache.New(host, "users", cache.JSON[string, User](), cache.Profile("production"))
//	u, err := users.GetOrCompute(ctx, id, func(ctx context.Context) (User, error) { return db.Load(ctx, id) })
//
// # Tiers
//
// Local keeps entries on this member only. Partitioned gives each key one
// owner: the member with the highest rendezvous hash of (member, key)
// among the Up members that opened the cache (the hosting members, an
// add-wins set replicated by package crdt under "cache/<name>"). A member
// that joins or leaves moves only the keys whose owner changes (about 1/N
// of them), never the others. Config.Backups keeps copies on the
// next-ranked members, which are exactly the members that become owners
// when the owner dies. Replicated keeps every entry on every hosting
// member and reads locally; a write goes through the key's owner, which
// sends it to every member; a member that joins receives the entries from
// their owners while writes continue (no member waits for a join).
// Multilevel is Partitioned with a near cache (ristretto) on each member.
// Profile picks the tier per cluster profile: development Local,
// production Multilevel, enterprise Multilevel with one backup.
//
// # Consistency and the near-cache bound
//
// The owner orders the writes of a key (each gets a version from the
// owner's hybrid clock). A write returns after the owner stored it and
// sent it to the members that keep copies or near caches, and after they
// acknowledged it or Config.WriteTimeout (1s) passed. So:
//
//   - once a write returned, no member the owner reached serves the old
//     value from its near cache (a read already on its way when the
//     invalidation arrives is not kept near);
//   - a member the owner could not reach (a partition, a lost frame)
//     drops its whole near cache when it sees any reachability change
//     in the membership (unreachable, reachable, joined, left, removed),
//     and in every case a near copy lives at most Config.NearTTL (5s).
//
// The bound is therefore: a near copy is stale for at most Config.NearTTL
// after a write whose invalidation it missed, and not at all after a
// write that returned while its member was reachable.
//
// # Membership changes
//
// A member that closes a cache (Cache.Close, Host.Stop, a node's graceful
// stop) first hands every entry it owns to its new owner: those keys stay
// hits. Requests that still reach it meanwhile are forwarded. A member
// that dies (kill -9) loses only the keys it owned (unless backed up):
// reads of them are misses, never errors, and the next GetOrCompute
// recomputes. A member that joins receives the entries it now owns from
// their previous owners; until they arrive (a few milliseconds), an owner
// that misses a key asks the key's previous owner (for 3s after the
// change). Warm reads named hot keys into a member's near cache.
//
// # GetOrCompute
//
// One computation per key cluster-wide at a time: callers on one member
// share one request, and at the owner the first caller gets the key's
// lease while the others wait for its result. Exactly once on a stable
// cluster; at least once when the computing member or the owner fails
// (the lease passes to a waiting caller when the computing member's
// stream breaks, it leaves or dies, or Config.ComputeTimeout passes;
// callers waiting at a dead owner retry at the new owner). A failure
// reaches the callers that waited for it and is not cached unless
// CacheErrors.
//
// # Errors
//
// Reads of an unreachable owner are misses. Writes retry on the current
// owner until the caller's deadline (Config.RequestTimeout when ctx has
// none) and then return ErrUnavailable. A codec failure is ErrCodec, a
// value over Config.MaxValueSize is ErrTooLarge, a call on a closed cache
// ErrClosed, a bad argument ErrInvalid; Incr on a non-integer is
// ErrNotInteger.
//
// # Statistics
//
// Stats counts hits, misses, writes, evictions and expirations on this
// member; with Config.Meter they are exported as OpenTelemetry counters.
// Dump writes the entries a member holds, Load puts them back.
package cache
