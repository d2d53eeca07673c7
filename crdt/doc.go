// Package crdt holds conflict-free replicated data types: values that
// replicas change independently, without coordination, and that converge
// when they exchange their states in any order. They are plain values —
// deterministic, goroutine-free, reading no clock — so that the replicator
// that ships them between members (one actor per member, built on this
// package) and every test can treat them as data.
//
// # The model
//
// Each type is a join semilattice: Merge(other) makes the receiver the
// least upper bound of both, and is commutative, associative and
// idempotent, so replicas that have merged the same states hold the same
// value whatever the order, repetition or grouping of the merges. Every
// operation names the acting replica — the id of the cluster member (and
// incarnation) that applies it — because that is whose contribution it is:
//
//	c.Increment("node-a", 1)        // GCounter: node-a's total grows
//	s.Add("node-a", "x")            // ORSet: x tagged with node-a's next dot
//	m.Put("node-a", k, v, clk, now) // LWWMap: a write stamped by node-a's HLC
//
// The types, with what wins a conflict:
//
//	GCounter, PNCounter  per-replica totals, summed; Merge takes each total's max
//	GSet                 grow-only set; union
//	ORSet                add-wins set: an Add concurrent with a Remove wins
//	LWWRegister          newest (HLC timestamp, replica id) wins
//	MVRegister           concurrent writes all kept until a later write
//	Flag                 enable-wins flag (only Enable: a one-way switch)
//	ORMap                add-wins keys, CRDT values merged per key; removal resets
//	LWWMap               ORMap of LWWRegisters
//	PNCounterMap         ORMap of PNCounters
//	ORMultiMap           add-wins set per key, per-element deltas
//
// ORSet, Flag, MVRegister, ORMap and ORMultiMap are dot-based (Almeida,
// Shoker and Baquero, "Delta State Replicated Data Types", 2018): an add or
// write is tagged with a dot (replica, n), the value keeps the dots still
// live and a causal context of every dot it has seen, and Merge keeps a dot
// that both sides have, or that one side has and the other has not seen.
// So a remove removes exactly the adds it observed, and "removed" is told
// from "not yet received" without tombstones. The context is a version
// vector with gaps: per replica, a few spans of dots.
//
// Values are not safe for concurrent use; one goroutine owns each. Element,
// key and value types are type parameters (comparable for set elements and
// map keys); values of reference types are stored as given and must be
// treated as immutable. ORMap values are any type implementing CRDT,
// including user-defined ones and ORMaps.
//
// # Deltas
//
// Shipping whole states is wasteful when one element of a large set
// changed. Every operation therefore also records a delta: the smallest
// value of the same type whose merge has the operation's effect. The
// deltas of successive operations accumulate (joined) until TakeDelta
// returns them and starts afresh; HasDelta says whether there are any.
// A delta is an ordinary value — merge it, encode it, decode it — but apply
// no operations to it. An Add to an ORSet of any size has a delta of a few
// dozen bytes.
//
// No type in this package needs causal delivery of its deltas for
// convergence: deltas are lattice states, so joining them in any order,
// with duplicates, into any replica is safe. In particular an ORSet or
// ORMap remove whose delta arrives before the add it removes still removes
// it (the dot waits in the receiver's causal context), and no remove is
// ever lost to reordering. What a replicator must do:
//
//  1. Give each replica an id that is never reused after its state is
//     lost: a member restarting without its persisted state takes a new id
//     (an incarnation suffix), and a persisted state is written before any
//     delta that follows it is sent. A reused id would mint dots and totals
//     that collide with its old ones.
//  2. Apply local operations with the local replica's id, call TakeDelta
//     when it ships (after batching a few milliseconds, say), and Merge
//     every delta or state received. Deltas may be batched, duplicated,
//     reordered or dropped.
//  3. Repair what dropped deltas miss by anti-entropy: now and then
//     compare digests of the encodings (the encoding is canonical: equal
//     states give equal bytes) and send the full state where they differ;
//     the receiver merges it. Convergence needs every state to reach every
//     replica eventually, directly or through merges.
//  4. Only if reads must be causally consistent — a replica never showing
//     an effect before its cause, say element y (added after x) before x —
//     deliver each origin's deltas in order: number them per origin, and on
//     a gap buffer or fall back to full state, as Akka's replicator does.
//     This is not needed for convergence. Meanwhile a dot-based value that
//     merged deltas out of order carries gaps in its causal context (extra
//     spans): they close when the missing deltas, or a full state, arrive.
//
// # Pruning
//
// Counters and causal contexts record every replica that ever operated on
// a value, so in a cluster whose members come and go the bookkeeping would
// grow forever. Pruning (as Akka's) removes a departed replica without
// changing the value: Prune(owner, removed) folds removed's contributions
// into owner's — its totals added to owner's, the elements only its adds
// kept re-added under owner's dots, map entries it wrote rewritten under
// an owner dot — and forgets it; PruneCleanup(removed) only forgets it.
// NeedsPruning(removed) says whether there is anything to do. Prune acts
// as an operation of owner and records a delta; a remove elsewhere,
// concurrent with the pruning, of an element only removed's dot kept
// loses to it, as to any concurrent add.
//
// Folding is not idempotent (merging a pruned state with an unpruned one
// would count removed's total twice, or revive elements removed had
// added), so the replicator must apply it consistently:
//
//  1. Prune only a replica that has permanently left: its id never
//     operates again.
//  2. Choose one owner for the removal (the oldest member, say), and before
//     it prunes make sure it has merged every contribution of removed that
//     any live replica holds (collect their full states, or wait until
//     every member has acknowledged a "pruning started" marker gossiped
//     with the states, as Akka does). What a live replica holds and the
//     owner lacks is lost.
//  3. The owner calls Prune(self, removed) on each value that NeedsPruning
//     and marks the removal as pruned in the envelope it gossips with the
//     key's state.
//  4. Every other replica, when it learns of the marker, and before it
//     merges any state or delta the owner produced after pruning, calls
//     PruneCleanup(removed) on its value. Until no data produced before
//     the pruning can arrive any more (a time-to-live longer than the
//     longest gossip or delta delay), it also applies PruneCleanup(removed)
//     to every incoming state and delta before merging it. Then the marker
//     can be dropped.
//
// Followed this way, the bookkeeping names only the live replicas however
// many have come and gone, and every replica converges to the owner's
// value. GSet and LWWRegister keep no per-replica bookkeeping (a register
// keeps only its last writer's id, as a tie-breaker); their pruning
// methods do nothing.
//
// # Time
//
// LWWRegister and LWWMap order writes by hybrid logical clock timestamps.
// HLC takes the physical time from the caller (time.Now(), or a test's
// clock) and never goes backwards; a write is stamped after the current
// value's timestamp, so a replica's write always wins over what it has
// seen even when its physical clock is behind. Equal timestamps from
// different replicas are ordered by replica id.
//
// # Encoding
//
// AppendBinary, MarshalBinary and UnmarshalBinary give every value and
// delta a compact, versioned, deterministic binary encoding built on
// encoding/binary varints: a header (EncodingVersion, the Kind, flags),
// then the type's fields with every set and map sorted by the encoding of
// its elements or keys and every replica named once. The element, key and
// value types of the generic types are encoded by a Codec given to their
// constructor; StringCodec, Int64Codec and BytesCodec are built in. KindOf
// reads the kind from a header.
//
// Decoders accept only canonical encodings (so decode-then-encode gives
// the input back), never panic on any input, and allocate no more than a
// small constant times the input's length. They fail with ErrMalformed,
// ErrTooLarge, ErrVersion or ErrTypeMismatch; values made without their
// codecs fail with ErrNoCodec.
//
// # The replicator
//
// A Replicator (NewReplicator(membership, Config), Start, Stop) keeps this
// member's replicas of the cluster's keys and keeps them in sync with the
// other members', over ProtocolCRDT streams of the member's cluster port
// (cluster.Membership.Dial and Handle: authenticated, mutual TLS when
// configured, cut by clustertest's Network like any other traffic). The
// values stay the goroutine-free types above; the replicator owns them
// under one lock (its core, store.go, does no I/O and takes the time as an
// argument) and runs a few owned goroutines: a flusher, a ticker, a
// membership follower and one sender per peer.
//
// Keys are typed: Key[T] names a value of type T (GCounterKey, ORSetKey,
// LWWMapKey... or NewKey for any ORMap), and
//
//	err := crdt.Update(ctx, r, key, crdt.Majority, func(v *crdt.ORSet[string], op crdt.Op) {
//		v.Add(op.Replica, "x")
//	})
//	v, err := crdt.Get(ctx, r, key, crdt.Majority)
//	err = crdt.Delete(ctx, r, key, crdt.Majority)
//	sub, err := r.Subscribe("carts/*")
//
// Update applies modify to the current value, or to a new one from the
// key's constructor (Akka's "initial"), as this member's replica
// (Op.Replica) with its HLC (Op.Clock); Get returns a copy; Delete
// tombstones the key forever (as Akka: it cannot be created again);
// Subscribe delivers batches of changed key ids matching an id or a prefix
// pattern ("carts/*"), coalescing while the subscriber is busy and never
// blocking the replicator. SharedMap and SharedValue wrap an LWWMap and an
// LWWRegister as a map and a value that read like local ones (no context,
// no network) and notify on change.
//
// A member that never used a key still holds it, as a raw value of its
// encoding's Kind (elements, keys and values as their encoded bytes: a
// Codec is injective, so a raw value merges and encodes exactly as the
// typed one would); the first Key to use it converts it. A key used with
// two types fails with ErrKeyType locally, and a peer's replica of another
// type is refused and counted (Stats.Rejected): nothing is corrupted.
//
// Consistency (per call): Local, To(n), Majority (N/2+1), MajorityPlus(k)
// and All, with Akka's meaning: this member counts as one, and a read sees
// the latest acknowledged write when replicas written plus replicas read
// exceed N. N is every member of this member's view, Up or unreachable:
// counting only the Up ones would let both sides of a partition reach
// their "majority". Each call above Local reads the membership's current
// view (not the copy the replicator keeps up to date behind it), so a
// member that has just joined counts the others at once; a member removed
// from the view while a call waits for it is no longer counted. A write
// that misses its level within ctx (or Config.DefaultTimeout) returns an
// error wrapping ErrWriteIncomplete: the write is applied locally and may
// still spread.
//
// Dissemination. A local update's delta (TakeDelta) joins the key's
// pending delta; one BatchWindow (2ms) after the first pending change,
// every pending key's delta is pushed to every Up peer in one DELTAS frame
// (Akka waits for a 200ms tick). A write above Local sends its delta at
// once as a WRITE that peers acknowledge after merging (and persisting).
// Deltas need no causal delivery, so frames may be lost, duplicated or
// reordered.
//
// Anti-entropy repairs what deltas missed. A key's digest hashes its
// envelope (the canonical encoding of its value, tombstone, pruning
// markers, access time); keys fall into 256 buckets by the hash of their
// id, a bucket's digest is the XOR of its keys' (kept up to date
// incrementally), and the root hashes the buckets. Every
// AntiEntropyInterval (1s) a member sends one random Up peer its root
// (SYNC, about 20 bytes: an idle cluster exchanges nothing else). Where
// roots differ the peer answers with its 256 bucket digests
// (SYNC_BUCKETS), the differing buckets' key digests follow (SYNC_KEYS),
// and only the differing keys' full states travel (STATES, with a
// SYNC_REQUEST for the other direction). A joining (or returning) member
// gets such a round at once from the oldest other member: the full state
// of every key it lacks.
//
// Wire protocol (internal/protos/foundation_crdt.proto): 4-byte
// length-prefixed CRDTFrames, each member writing only on the stream it
// dialled to a peer; answers (WRITE_ACK, READ_REPLY, SYNC_*) travel on the
// answerer's own stream, matched by id. A CRDTEntry is a key's envelope:
// the encoding of its value or of a delta, the tombstone, the pruning
// markers and the access time. Frames from members not in the view are
// dropped.
//
// Pruning follows the protocol above, with replica ids never reused: a
// member's replica id is its member id (unique per run), and a member
// downed by the split-brain resolver (which the others remove, but which
// may come back under the same member id after the heal) switches to a
// new incarnation ("id#1") at once. The oldest member (serving, every
// member Up) prunes the replicas no member uses any more: older
// incarnations of current members and members that left gracefully at
// once, members gone from the view otherwise (killed, removed) after
// PruneAfter (5 minutes; a removed member that returns within it loses
// nothing). For each key naming such a replica it gossips a marker with
// the full state, which every member joins, pushing its own full state;
// once every member of its view has joined (so their states, holding every
// contribution of the departed replica, have reached it) it calls Prune
// and marks the removal performed. The others PruneCleanup, and clean
// every incoming state and delta until the marker expires
// (PruningMarkerTTL, 6h). Values then name only live replicas however many
// members came and went. After a whole-cluster restart on durable keys the
// previous run's replica ids are pruned PruneAfter later.
//
// Durable keys (Config.Durable: a bbolt file and key patterns) are written
// before Update returns (or within WriteBehind) and before a peer
// acknowledges a WRITE, and Start restores them: a member, or a whole
// cluster, restarted on its files has them back. Keys matching
// Config.Expire patterns vanish everywhere after that long without a read
// or write anywhere (the last access travels with the state) and may be
// created again.
//
// Limits: a value's encoding is bounded by MaxValueSize (1 MiB); an update
// that would exceed it fails with ErrValueTooLarge and changes nothing.
// Values up to 64 KiB (or above a quarter of the limit) are updated on a
// copy; in between in place, where a single operation adding more than
// three quarters of the limit at once is not refused. Modify functions run
// under the replicator's lock: keep them short and do not call the
// replicator from them.
package crdt
