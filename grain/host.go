package grain

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
)

// Config configures a Host. Zero values are the defaults.
type Config struct {
	// Kinds are the kinds this member calls or hosts (those with New).
	Kinds []Kind
	// CallTimeout bounds a call whose ctx has no deadline. Default: 5s.
	CallTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between attempts of a call
	// across topology changes. Defaults: 1ms and 50ms.
	RetryMin, RetryMax time.Duration
	// SerializeMessages makes calls and tells within this member pass
	// their messages and replies through protobuf serialization too, so a
	// message that could not cross members fails (ErrNotSerializable) in a
	// one-member test as it would in a cluster. graintest turns it on.
	// Default: off (local messages are passed as they are).
	SerializeMessages bool
	// Logger records activation failures, moves and rejected peers. Nil:
	// no logging.
	Logger *zap.Logger
	// Observer traces and counts grain calls and activations (package
	// telemetry implements it). Nil: none.
	Observer Observer
}

// Host runs grains on one member: it activates the identities placed here,
// routes calls to the members that hold the others, and keeps the
// activations in step with the membership view. Build it with NewHost,
// then Start; Stop deactivates every local activation.
type Host struct {
	cfg  Config
	sys  *actor.System
	ms   *cluster.Membership
	log  *zap.Logger
	self string

	kinds map[string]*kindState
	view  atomic.Pointer[view]
	load  atomic.Int64 // live local activations

	topoMu sync.Mutex
	gone   map[string]time.Time // members whose cluster port refused us, recently

	peersMu sync.Mutex
	peers   map[string]*conn
	dialing map[string]*dialing

	connMu sync.Mutex
	conns  map[*conn]struct{}

	ctx       context.Context // ends when the host stops
	cancel    context.CancelFunc
	closing   atomic.Bool // no new activations or connections
	startOnce sync.Once
	stopOnce  sync.Once
	stopped   chan struct{}
	stopErr   error
	unsub     func()
	unsubSet  atomic.Bool // Start succeeded
	wg        sync.WaitGroup
}

// kindState is one declared kind and its local state.
type kindState struct {
	def    Kind
	hosted bool

	mu   sync.Mutex
	acts map[string]*act      // local activations by identity
	dir  map[string]*dirEntry // sticky kinds: where the identities this member owns live
	locs map[string]string    // sticky kinds: where callers here last found an identity
}

// act is one local activation, from the claim to the end.
type act struct {
	pid      *actor.PID
	ready    chan struct{} // closed when pid is set or activation failed
	err      error
	stopping bool
	gone     chan struct{} // closed when the activation has ended
}

// holding is what a holds for the claim decision. k.mu must be held.
func (a *act) holding() holding {
	switch {
	case a == nil:
		return holdsNothing
	case a.pid == nil:
		return holdsActivating
	case a.stopping:
		return holdsStopping
	}
	return holdsActive
}

// NewHost returns a Host for the member of sys and ms. The member (ms's
// Self) must list the kinds that have a New. Start serves grain streams on
// ms's cluster port.
func NewHost(sys *actor.System, ms *cluster.Membership, cfg Config) (*Host, error) {
	if sys == nil || ms == nil {
		return nil, fmt.Errorf("%w: NewHost needs a System and a Membership", ErrInvalid)
	}
	if cfg.CallTimeout < 0 || cfg.RetryMin < 0 || cfg.RetryMax < 0 {
		return nil, fmt.Errorf("%w: Config.CallTimeout, RetryMin and RetryMax must be >= 0", ErrInvalid)
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 50 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		return nil, fmt.Errorf("%w: Config.RetryMax %v is below RetryMin %v", ErrInvalid, cfg.RetryMax, cfg.RetryMin)
	}
	for _, k := range cfg.Kinds {
		if err := k.validate(); err != nil {
			return nil, err
		}
	}
	self := ms.Self()
	h := &Host{
		cfg: cfg, sys: sys, ms: ms, self: self.ID,
		kinds:   make(map[string]*kindState, len(cfg.Kinds)),
		gone:    make(map[string]time.Time),
		peers:   make(map[string]*conn),
		dialing: make(map[string]*dialing),
		conns:   make(map[*conn]struct{}),
		stopped: make(chan struct{}),
	}
	h.log = cfg.Logger
	if h.log == nil {
		h.log = zap.NewNop()
	}
	h.log = h.log.With(zap.String("member", self.ID))
	for _, k := range cfg.Kinds {
		if _, dup := h.kinds[k.Name]; dup {
			return nil, fmt.Errorf("%w: kind %q declared twice", ErrInvalid, k.Name)
		}
		if k.IdleTimeout == 0 {
			k.IdleTimeout = DefaultIdleTimeout
		}
		hosted := k.New != nil
		if hosted && !slices.Contains(self.Kinds, k.Name) {
			return nil, fmt.Errorf("%w: kind %q has New but the member does not list it in its kinds %v", ErrInvalid, k.Name, self.Kinds)
		}
		h.kinds[k.Name] = &kindState{def: k, hosted: hosted, acts: map[string]*act{},
			dir: map[string]*dirEntry{}, locs: map[string]string{}}
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.refresh()
	return h, nil
}

// Start serves grain streams on the member's cluster port and follows the
// membership view.
func (h *Host) Start(context.Context) error {
	if h.closing.Load() {
		return ErrStopped
	}
	var err error
	h.startOnce.Do(func() {
		events, unsub := h.ms.Subscribe(1024)
		h.unsub = unsub
		h.refresh()
		if err = h.ms.Handle(cluster.ProtocolGrain, h.serveStream); err != nil {
			unsub()
			return
		}
		h.goFunc(func() { h.followView(events) })
		h.unsubSet.Store(true)
	})
	return err
}

// Self is this member's id.
func (h *Host) Self() string { return h.self }

// System is the actor system the host's activations run in.
func (h *Host) System() *actor.System { return h.sys }

// Serving reports whether the host has started and is not stopping: its
// grain streams are registered on the cluster port (readiness probes ask).
func (h *Host) Serving() bool { return h.unsubSet.Load() && !h.closing.Load() }

// Activations is the number of live activations on this member.
func (h *Host) Activations() int { return int(h.load.Load()) }

// Stop deactivates every local activation (OnDeactivate runs), then closes
// the grain listener and connections: peers see this member's grains gone
// and place them elsewhere. Call it before the membership leaves. It is
// idempotent and returns within ctx.
func (h *Host) Stop(ctx context.Context) error {
	h.stopOnce.Do(func() {
		h.closing.Store(true)
		err := h.deactivateAll(ctx)
		h.shutdown()
		h.stopErr = err
		close(h.stopped)
	})
	select {
	case <-h.stopped:
		return h.stopErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Abort closes the host as a crash would: connections drop and nothing is
// deactivated (the activations end with the actor system).
func (h *Host) Abort() {
	h.stopOnce.Do(func() {
		h.closing.Store(true)
		h.shutdown()
		close(h.stopped)
	})
}

func (h *Host) shutdown() {
	h.cancel()
	if h.unsub != nil {
		h.unsub()
	}
	_ = h.ms.Handle(cluster.ProtocolGrain, nil)
	h.connMu.Lock()
	cs := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		cs = append(cs, c)
	}
	h.connMu.Unlock()
	for _, c := range cs {
		c.close()
	}
	h.wg.Wait()
}

// goFunc runs f on a goroutine Stop waits for. Outside Start it must be
// called with connMu held and the host not stopping (spawnTracked,
// trackGo): Stop cancels, then takes connMu, then waits.
func (h *Host) goFunc(f func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
}

// spawnTracked runs f on its own goroutine unless the host is stopping.
func (h *Host) spawnTracked(f func()) bool {
	h.connMu.Lock()
	defer h.connMu.Unlock()
	if h.ctx.Err() != nil {
		return false
	}
	h.goFunc(f)
	return true
}

func (h *Host) track(c *conn) bool {
	h.connMu.Lock()
	defer h.connMu.Unlock()
	if h.ctx.Err() != nil {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

// trackGo registers c and runs f on a goroutine Stop waits for, unless the
// host is stopping (false: neither happened).
func (h *Host) trackGo(c *conn, f func()) bool {
	h.connMu.Lock()
	defer h.connMu.Unlock()
	if h.ctx.Err() != nil {
		return false
	}
	h.conns[c] = struct{}{}
	h.goFunc(f)
	return true
}

func (h *Host) untrack(c *conn) {
	h.connMu.Lock()
	delete(h.conns, c)
	h.connMu.Unlock()
}

// followView rebuilds the view on every membership event and moves what no
// longer belongs here: identities placed elsewhere now, and every exclusive
// and sticky activation when this member stops serving (fenced, downed).
func (h *Host) followView(events <-chan cluster.MemberEvent) {
	for {
		select {
		case <-h.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			h.onEvent(ev)
			// Coalesce a burst of events into one rebuild.
			for more := true; more; {
				select {
				case ev, ok := <-events:
					if !ok {
						return
					}
					h.onEvent(ev)
				default:
					more = false
				}
			}
			h.refresh()
			h.rebalance()
		}
	}
}

func (h *Host) onEvent(ev cluster.MemberEvent) {
	switch ev.Kind {
	case cluster.Removed, cluster.Left, cluster.MemberUnreachable:
		// Calls in flight to an unreachable member end now (their outcome
		// is unknown either way) instead of at their deadlines.
		h.forgetPeer(ev.Member.ID)
	case cluster.SelfChanged:
		if ev.Self != cluster.Serving && ev.Self != cluster.Stopped {
			h.log.Warn("this member stops hosting exclusive grains", zap.String("status", ev.Self.String()), zap.String("reason", ev.Reason))
		}
	}
}

// forgetPeer drops a member that left the view: its connection.
func (h *Host) forgetPeer(id string) {
	h.peersMu.Lock()
	c := h.peers[id]
	delete(h.peers, id)
	h.peersMu.Unlock()
	if c != nil {
		c.close()
	}
}

// refresh rebuilds the view from the membership.
func (h *Host) refresh() {
	// The membership view is read under topoMu: a refresh that read an
	// older view must not store it after a newer one.
	h.topoMu.Lock()
	defer h.topoMu.Unlock()
	cv := h.ms.View()
	for id, at := range h.gone {
		if time.Since(at) > time.Minute {
			delete(h.gone, id)
		}
	}
	h.view.Store(buildView(h.self, cv, h.kinds))
}

// rebalance deactivates local activations that the view no longer keeps
// here (keepHere), and drops directory entries and cached locations that
// point at members gone from the view.
func (h *Host) rebalance() {
	v := h.view.Load()
	for name, k := range h.kinds {
		var move []*act
		k.mu.Lock()
		for id, a := range k.acts {
			if a.pid == nil || a.stopping {
				continue
			}
			if !keepHere(v, k.def.Placement, name, id) {
				a.stopping = true
				move = append(move, a)
			}
		}
		if k.def.Placement.sticky() {
			for id, e := range k.dir {
				if e.done != nil && !isClosed(e.done) {
					continue // being placed: locateHere settles it
				}
				owner := v.place(k.def.Placement, name, id)
				if e.location != "" && v.nodes[e.location] == nil || owner == nil || owner.id != h.self {
					delete(k.dir, id)
				}
			}
			for id, loc := range k.locs {
				if v.nodes[loc] == nil {
					delete(k.locs, id)
				}
			}
		}
		k.mu.Unlock()
		for _, a := range move {
			h.sys.Tell(a.pid, deactivate{reason: "moved"})
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// deactivateAll deactivates every local activation and waits for them.
func (h *Host) deactivateAll(ctx context.Context) error {
	var gone []chan struct{}
	for _, k := range h.kinds {
		k.mu.Lock()
		for _, a := range k.acts {
			if a.pid != nil && !a.stopping {
				a.stopping = true
				h.sys.Tell(a.pid, deactivate{reason: "host stopping"})
			}
			gone = append(gone, a.gone)
		}
		k.mu.Unlock()
	}
	for _, g := range gone {
		select {
		case <-g:
		case <-ctx.Done():
			return fmt.Errorf("grain: stopping: %w", ctx.Err())
		}
	}
	return nil
}

// ViewSize is the number of Up members in this host's view.
func (h *Host) ViewSize() int {
	n := 0
	for _, x := range h.view.Load().nodes {
		if x.up {
			n++
		}
	}
	return n
}
