// Package router balances messages over a set of processes: Akka's routers
// and Orleans' stateless workers, run in the caller's goroutine.
//
// # Routing in the caller
//
// A Router is a value, not a process. Its Tell picks a routee with the
// router's Strategy and sends to it directly (actor.System.Tell); Call[R]
// does the same and waits for the reply, exactly as actor.Call does. No
// router actor sits in the message path, so routing adds no hop, no
// mailbox and no serialization point: a round-robin Tell is one atomic load
// of the routee set, one atomic add and the send. Broadcast sends to every
// routee; ScatterGather calls every routee and returns the first successful
// reply; TailChop calls one, then another every interval, until one
// succeeds or the context ends.
//
// # Routees
//
// A Router reads its routees from a Routees source, one lock-free atomic
// load per message. A Group is a set of given PIDs, changed with Add and
// Remove; a Pool is a set of supervised processes started from one spec.
// Each change publishes a new immutable Snapshot (copy on write, swapped in
// with compare-and-swap), so readers never wait for writers. The Routees
// interface is small on purpose: the service registry implements it
// (service.Registry.Routees) to route over all instances of a service.
//
// # Strategies
//
// Each strategy's choice is a pure function of its inputs — a counter, a
// random draw, a key's hash, mailbox depths, loads — with no goroutine and
// no clock; the Strategy only gathers the inputs:
//
//   - RoundRobin: the next routee in turn (one shared atomic counter).
//   - Random: a uniform draw; the source of draws can be injected.
//   - ConsistentHash: the same key to the same routee. The scheme is
//     rendezvous (highest-random-weight) hashing: adding or removing a
//     routee moves only that routee's share of the keys, with no virtual
//     nodes to tune and no ring to rebuild (see ConsistentHash for why).
//   - SmallestMailbox: the routee with the fewest queued messages, an idle
//     one at once (actor.System.MailboxLen).
//   - Adaptive: a weighted random draw, weights 1/(1+load) from mailbox
//     depths or a LoadFunc of your own.
//
// # Pools and resizers
//
// NewPool starts routees from a supervision.ChildSpec under a
// supervision.Dynamic supervisor, which restarts each one that crashes;
// the pool adds every new PID the moment it is started and drops every PID
// whose process terminated, so routing follows restarts at once. Stop stops
// them all. A Resizer grows and shrinks the pool: DefaultResizer (Akka's
// pressure-based resizer) and OptimalSizeExploringResizer (Akka's
// throughput-seeking one). A resizer's decision is a pure function — the
// resizer and an Observation (time, mailbox depths, messages routed) in,
// the new size and the resizer's next state out — applied by the pool's
// resizer goroutine, which wakes on ticks of an injectable actor.Clock and
// every DefaultResizer.MessagesPerResize messages routed.
//
// # Goroutines and errors
//
// Routers start no goroutine except for the duration of a ScatterGather or
// TailChop call, which waits for the ones it started before returning. A
// Pool with a resizer owns one goroutine; Stop ends it and waits.
// Bad input is reported with the Err… sentinels of this package, never a
// panic: ErrNoRoutees for an empty set, ErrNoKeyFunc for ConsistentHash(nil),
// ErrInvalidResizer for bounds or rates out of range.
package router
