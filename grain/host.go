package grain

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
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
	// Cluster is the cluster name; grain connections from other clusters
	// are refused. Required.
	Cluster string
	// Secret authenticates grain connections (an HMAC in their hello), as
	// it does membership packets.
	Secret []byte
	// Kinds are the kinds this member calls or hosts (those with New).
	Kinds []Kind
	// CallTimeout bounds a call whose ctx has no deadline. Default: 5s.
	CallTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between attempts of a call
	// across topology changes. Defaults: 1ms and 50ms.
	RetryMin, RetryMax time.Duration
	// Logger records activations failures, moves and rejected peers. Nil:
	// no logging.
	Logger *zap.Logger
	// TLS, when set, runs every grain connection over mutual TLS: the
	// listener presents TLS.Certificates and requires a client certificate
	// verified by TLS.ClientCAs (ClientAuth defaults to
	// RequireAndVerifyClientCert), and a dial presents the same
	// certificates and verifies the peer with TLS.RootCAs against the host
	// of its grain address (unless ServerName is set). The secret's hello
	// is still exchanged inside. Nil: plain TCP, authenticated by the hello
	// but not encrypted.
	TLS *tls.Config
}

// Host runs grains on one member: it activates the identities placed here,
// routes calls to the members that hold the others, and keeps the
// activations in step with the membership view. Build it with NewHost,
// then Start; Stop deactivates every local activation.
type Host struct {
	cfg  Config
	sys  *actor.System
	ms   *cluster.Membership
	ln   *Listener
	log  *zap.Logger
	self string

	kinds map[string]*kindState
	view  atomic.Pointer[view]
	load  atomic.Int64 // live local activations

	topoMu sync.Mutex
	down   map[string]bool // members found dead before the view dropped them

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

// NewHost returns a Host for the member of sys and ms, serving grain traffic
// on ln. ms's own member must carry AddressLabel = ln.Addr() and list the
// kinds with a New.
func NewHost(sys *actor.System, ms *cluster.Membership, ln *Listener, cfg Config) (*Host, error) {
	if sys == nil || ms == nil || ln == nil {
		return nil, fmt.Errorf("%w: NewHost needs a System, a Membership and a Listener", ErrInvalid)
	}
	if cfg.Cluster == "" {
		return nil, fmt.Errorf("%w: Config.Cluster is empty", ErrInvalid)
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
	if cfg.TLS != nil {
		if len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil {
			return nil, fmt.Errorf("%w: Config.TLS has no certificate (Certificates or GetCertificate)", ErrInvalid)
		}
		cfg.TLS = cfg.TLS.Clone()
		if cfg.TLS.ClientAuth == tls.NoClientCert {
			cfg.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
		if cfg.TLS.MinVersion == 0 {
			cfg.TLS.MinVersion = tls.VersionTLS12
		}
	}
	self := ms.Self()
	if got := self.Labels[AddressLabel]; !sameAddr(got, ln.Addr()) {
		return nil, fmt.Errorf("%w: the member's label %s is %q, want the listener's address %q", ErrInvalid, AddressLabel, got, ln.Addr())
	}
	h := &Host{
		cfg: cfg, sys: sys, ms: ms, ln: ln, self: self.ID,
		kinds:   make(map[string]*kindState, len(cfg.Kinds)),
		down:    make(map[string]bool),
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

// Start serves grain connections and follows the membership view.
func (h *Host) Start(context.Context) error {
	if h.closing.Load() {
		return ErrStopped
	}
	h.startOnce.Do(func() {
		events, unsub := h.ms.Subscribe(1024)
		h.unsub = unsub
		h.refresh()
		h.goFunc(h.acceptLoop)
		h.goFunc(func() { h.followView(events) })
	})
	return nil
}

// Self is this member's id.
func (h *Host) Self() string { return h.self }

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
	_ = h.ln.Close()
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
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
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

func (h *Host) untrack(c *conn) {
	h.connMu.Lock()
	delete(h.conns, c)
	h.connMu.Unlock()
}

// followView rebuilds the view on every membership event and moves what no
// longer belongs here.
func (h *Host) followView(events <-chan cluster.MemberEvent) {
	for {
		select {
		case <-h.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Kind == cluster.Removed || ev.Kind == cluster.Left {
				h.forgetPeer(ev.Member.ID)
			}
			// Coalesce a burst of events into one rebuild.
			for more := true; more; {
				select {
				case ev, ok := <-events:
					if !ok {
						return
					}
					if ev.Kind == cluster.Removed || ev.Kind == cluster.Left {
						h.forgetPeer(ev.Member.ID)
					}
				default:
					more = false
				}
			}
			h.refresh()
			h.rebalance()
		}
	}
}

// forgetPeer drops a member that left the view: its connection, its down
// mark (the view no longer lists it).
func (h *Host) forgetPeer(id string) {
	h.peersMu.Lock()
	c := h.peers[id]
	delete(h.peers, id)
	h.peersMu.Unlock()
	if c != nil {
		c.close()
	}
}

// refresh rebuilds the view from the membership and the down marks.
func (h *Host) refresh() {
	members := h.ms.Members()
	h.topoMu.Lock()
	defer h.topoMu.Unlock()
	present := make(map[string]bool, len(members))
	nodes := make([]*node, 0, len(members))
	for _, m := range members {
		present[m.ID] = true
		n := &node{id: m.ID, grain: m.Labels[AddressLabel], labels: m.Labels, kinds: make(map[string]bool, len(m.Kinds)), started: m.Started}
		for _, k := range m.Kinds {
			n.kinds[k] = true
		}
		nodes = append(nodes, n)
	}
	for id := range h.down {
		if !present[id] {
			delete(h.down, id)
		}
	}
	h.view.Store(buildView(h.self, nodes, h.down, h.kinds))
}

// markDown records that member id is dead (its grain port refuses
// connections) before the membership removes it, and re-places what it
// held.
func (h *Host) markDown(id, why string) {
	if id == h.self {
		return
	}
	h.topoMu.Lock()
	already := h.down[id]
	h.down[id] = true
	h.topoMu.Unlock()
	if already {
		return
	}
	h.log.Info("grain member down", zap.String("peer", id), zap.String("reason", why))
	h.forgetPeer(id)
	h.refresh()
	h.spawnTracked(h.rebalance)
}

func (h *Host) isDown(id string) bool {
	h.topoMu.Lock()
	defer h.topoMu.Unlock()
	return h.down[id]
}

// rebalance deactivates local activations of exclusive kinds that the view
// now places elsewhere, and drops directory entries and cached locations
// that point at members gone from the view.
func (h *Host) rebalance() {
	v := h.view.Load()
	for name, k := range h.kinds {
		var move []*act
		k.mu.Lock()
		if k.def.Placement.exclusive() {
			for id, a := range k.acts {
				if a.pid == nil || a.stopping {
					continue
				}
				if n := v.place(k.def.Placement, name, id); n == nil || n.id != h.self {
					a.stopping = true
					move = append(move, a)
				}
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

// ViewSize is the number of members in this host's view, dead ones (down)
// excluded.
func (h *Host) ViewSize() int { return len(h.view.Load().nodes) }

// sameAddr reports whether an announced grain address has the listener's
// port (its host may be the advertised one of a wildcard listener).
func sameAddr(announced, listening string) bool {
	_, ap, err1 := net.SplitHostPort(announced)
	_, lp, err2 := net.SplitHostPort(listening)
	return err1 == nil && err2 == nil && ap == lp
}
