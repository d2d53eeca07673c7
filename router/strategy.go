package router

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/foundation-go/foundation/actor"
)

// Strategy chooses the routee of one message: Akka's RoutingLogic.
//
// Pick is called by a Router on the goroutine of the Tell or Call that
// routes msg — the caller's — concurrently from every goroutine using the
// router. It must be safe for concurrent use, must not block, and should
// not allocate. rs.PIDs is never empty and must not be modified. Pick
// returns an index into rs.PIDs, or an error that the Tell or Call returns.
//
// The strategies of this package keep the choice itself in pure functions
// of their inputs (choice.go); Pick only gathers the inputs (a counter, a
// random draw, a key, mailbox depths, loads).
type Strategy interface {
	Pick(msg any, rs Snapshot) (int, error)
}

// binder is implemented by strategies that need the router's system (for
// mailbox depths); New calls bind once and uses the strategy it returns.
type binder interface {
	bind(sys *actor.System) Strategy
}

// validator is implemented by strategies with arguments to check; New and
// NewPool call Validate.
type validator interface {
	Validate() error
}

// RoundRobin sends each message to the next routee in turn (Akka's
// RoundRobinRoutingLogic). The turn is one atomic counter shared by every
// caller: no lock. When routees are added or removed the turn continues
// from the counter, so one routee may be skipped or served twice around a
// change.
func RoundRobin() Strategy { return &roundRobin{} }

type roundRobin struct {
	_    [64]byte // keep the counter off the cache line of whatever precedes it
	next atomic.Uint64
	_    [56]byte
}

func (r *roundRobin) Pick(_ any, rs Snapshot) (int, error) {
	return roundRobinIndex(r.next.Add(1)-1, len(rs.PIDs)), nil
}

// Random sends each message to a routee drawn uniformly (Akka's
// RandomRoutingLogic). src is the source of draws; nil uses the runtime's
// per-thread generator (math/rand/v2's top-level functions), which needs no
// lock. An injected src (a seeded rand.PCG for a reproducible test) is used
// under a mutex, since sources are not safe for concurrent use.
func Random(src rand.Source) Strategy { return &random{src: newDraws(src)} }

type random struct{ src draws }

func (r *random) Pick(_ any, rs Snapshot) (int, error) {
	return randomIndex(r.src.Uint64(), len(rs.PIDs)), nil
}

// draws is a source of uniform 64-bit values, safe for concurrent use.
type draws struct {
	mu  *sync.Mutex
	src rand.Source
}

func newDraws(src rand.Source) draws {
	if src == nil {
		return draws{}
	}
	return draws{mu: &sync.Mutex{}, src: src}
}

func (d draws) Uint64() uint64 {
	if d.src == nil {
		return rand.Uint64()
	}
	d.mu.Lock()
	x := d.src.Uint64()
	d.mu.Unlock()
	return x
}

// KeyFunc extracts the consistent-hash key of a message; ok is false if the
// message has none (the Tell or Call then fails with ErrNoKey). It is called
// on the caller's goroutine for every message routed and must not block.
type KeyFunc func(msg any) (key string, ok bool)

// ConsistentHashable is implemented by messages that carry their own
// consistent-hash key (Akka's ConsistentHashable); MessageKey reads it.
type ConsistentHashable interface {
	ConsistentHashKey() string
}

// MessageKey is the KeyFunc of messages that implement ConsistentHashable.
func MessageKey(msg any) (string, bool) {
	if h, ok := msg.(ConsistentHashable); ok {
		return h.ConsistentHashKey(), true
	}
	return "", false
}

// ConsistentHash sends every message with the same key to the same routee
// while the routee set is unchanged (Akka's ConsistentHashingRoutingLogic).
// key extracts the key; nil is ErrNoKeyFunc (at New or NewPool).
//
// The scheme is rendezvous (highest-random-weight) hashing rather than a
// ring with virtual nodes: each routee scores every key with a 64-bit mix
// of the key's hash and its own, and the highest score wins. Adding a
// routee moves to it exactly the keys it now wins (1/(n+1) of them in
// expectation) and no key between two old routees; removing one moves only
// its keys, each to its runner-up. There are no virtual nodes to tune and
// no ring to rebuild or to keep in memory: a routee's hash is computed once
// per membership version (cached here, keyed by the Snapshot) and a pick
// costs one hash of the key and n multiply-xorshift mixes — tens of
// nanoseconds for the tens of routees of a local pool. (A ring would win
// only for hundreds of routees: O(log n) instead of O(n) per pick.) The
// grain package places identities by rendezvous too. Hashes are FNV-1a
// with a MurmurHash3 finalizer and no per-process seed, so every member
// routing the same key over the same routees picks the same one.
func ConsistentHash(key KeyFunc) Strategy { return &consistentHash{key: key} }

type consistentHash struct {
	key   KeyFunc
	cache atomic.Pointer[routeeHashes]
}

// routeeHashes caches the routees' hashes for one Snapshot, identified by
// its version and its slice (the cache holds the slice, so its address
// cannot be reused while it is cached).
type routeeHashes struct {
	version uint64
	pids    *(*actor.PID)
	n       int
	h       []uint64
}

func (c *consistentHash) Validate() error {
	if c.key == nil {
		return fmt.Errorf("%w: ConsistentHash(nil): want a KeyFunc, or router.MessageKey for messages implementing ConsistentHashable", ErrNoKeyFunc)
	}
	return nil
}

func (c *consistentHash) Pick(msg any, rs Snapshot) (int, error) {
	if c.key == nil {
		return 0, c.Validate()
	}
	key, ok := c.key(msg)
	if !ok {
		return 0, fmt.Errorf("%w: %T", ErrNoKey, msg)
	}
	return rendezvousIndex(keyHash(key), c.hashes(rs)), nil
}

func (c *consistentHash) hashes(rs Snapshot) []uint64 {
	data := unsafe.SliceData(rs.PIDs)
	if h := c.cache.Load(); h != nil && h.version == rs.Version && h.pids == data && h.n == len(rs.PIDs) {
		return h.h
	}
	h := &routeeHashes{version: rs.Version, pids: data, n: len(rs.PIDs), h: make([]uint64, len(rs.PIDs))}
	for i, pid := range rs.PIDs {
		h.h[i] = pidHash(pid)
	}
	c.cache.Store(h)
	return h.h
}

// DepthFunc reports the mailbox depth of a routee; ok is false when it is
// unknown (a remote routee). actor.System.MailboxLen is one.
type DepthFunc func(pid *actor.PID) (depth int, ok bool)

// SmallestMailbox sends each message to the routee with the fewest queued
// messages, preferring an idle one, which it takes at once (Akka's
// SmallestMailboxRoutingLogic). depth reads a routee's mailbox; nil reads
// the router's system (actor.System.MailboxLen). The scan starts at a
// rotating routee, so ties are spread rather than always going to the
// first. Routees whose depth is unknown are chosen only when none is known.
//
// A pick reads up to n mailboxes: it costs more than RoundRobin and is meant
// for routees whose messages take uneven time. The depth of a Foundation
// process counts the batch it is handling (see actor.System.MailboxLen).
func SmallestMailbox(depth DepthFunc) Strategy { return &smallestMailbox{depth: depth} }

type smallestMailbox struct {
	depth DepthFunc
	next  atomic.Uint64
}

func (s *smallestMailbox) bind(sys *actor.System) Strategy {
	if s.depth != nil {
		return s
	}
	return &smallestMailbox{depth: sys.MailboxLen}
}

func (s *smallestMailbox) Validate() error {
	if s.depth == nil {
		return fmt.Errorf("%w: SmallestMailbox: depth function is nil and no system to read mailboxes from (use it through New)", ErrInvalid)
	}
	return nil
}

func (s *smallestMailbox) Pick(_ any, rs Snapshot) (int, error) {
	if s.depth == nil {
		return 0, s.Validate()
	}
	n := len(rs.PIDs)
	start := roundRobinIndex(s.next.Add(1)-1, n)
	return smallestIndex(n, start, func(i int) int {
		if d, ok := s.depth(rs.PIDs[i]); ok {
			return d
		}
		return -1
	}), nil
}

// LoadFunc reports the load of a routee, any non-negative figure where more
// is busier (a mailbox depth, requests in flight, a CPU share); ok is false
// when it is unknown. It is called on the caller's goroutine, once per
// routee per message routed, and must not block.
type LoadFunc func(pid *actor.PID) (load float64, ok bool)

// MailboxLoad is the LoadFunc of mailbox depth in sys.
func MailboxLoad(sys *actor.System) LoadFunc {
	return func(pid *actor.PID) (float64, bool) {
		n, ok := sys.MailboxLen(pid)
		return float64(n), ok
	}
}

// Adaptive sends each message to a routee drawn at random with weights from
// their loads (Akka's AdaptiveLoadBalancingRoutingLogic, with loads you
// supply instead of node metrics): a routee's weight is 1/(1+load), and one
// whose load is unknown gets the mean weight of the others. load nil uses
// the router system's mailbox depths (MailboxLoad). src is the source of
// draws, as for Random.
//
// Unlike SmallestMailbox, a lightly loaded routee does not take every
// message while its load figure catches up: load is spread in proportion.
// Each pick reads every routee's load.
func Adaptive(load LoadFunc, src rand.Source) Strategy {
	return &adaptive{load: load, src: newDraws(src)}
}

type adaptive struct {
	load LoadFunc
	src  draws
}

func (a *adaptive) bind(sys *actor.System) Strategy {
	if a.load != nil {
		return a
	}
	return &adaptive{load: MailboxLoad(sys), src: a.src}
}

func (a *adaptive) Validate() error {
	if a.load == nil {
		return fmt.Errorf("%w: Adaptive: load function is nil and no system to read mailboxes from (use it through New)", ErrInvalid)
	}
	return nil
}

// adaptiveStack is the routee count up to which a pick needs no allocation.
const adaptiveStack = 32

func (a *adaptive) Pick(_ any, rs Snapshot) (int, error) {
	if a.load == nil {
		return 0, a.Validate()
	}
	n := len(rs.PIDs)
	var buf [adaptiveStack]float64
	w := buf[:0]
	if n > adaptiveStack {
		w = make([]float64, 0, n)
	}
	w = w[:n]
	for i, pid := range rs.PIDs {
		if l, ok := a.load(pid); ok {
			w[i] = l // NaN stays NaN: unknown
		} else {
			w[i] = math.NaN()
		}
	}
	adaptiveWeights(w, w) // in place: loads become weights
	return weightedIndex(w, unitFloat(a.src.Uint64())), nil
}
