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
package crdt
