package service

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/router"
)

// Instance is one registered instance of a service.
type Instance struct {
	// Service is the service's name.
	Service string
	// PID is the process that serves it.
	PID *actor.PID
	// Member is the id of the member the process runs on.
	Member string
	// Metadata and Capabilities were given at Register.
	Metadata     map[string]string
	Capabilities []string
	// Healthy is false while the instance's health check fails.
	Healthy bool
	// Registered is when it was registered (by its member's clock).
	Registered time.Time
}

// ID identifies the instance in its service: its process.
func (i Instance) ID() string { return i.PID.Address + "/" + i.PID.Id }

// Local reports whether the instance runs on member self.
func (i Instance) local(self string) bool { return i.Member == self }

// Store holds the registry's records, replicated to every member (package
// crdt's replicator in a node; see NewStore). Put and Delete are called by
// the member that owns the record (its instance, or a removed member's
// records by the member that cleans them); List and Services read this
// member's replica and must not block (every call and Discover uses them).
// OnChange registers f, called on a goroutine of the store with the name
// of a service whose records changed, here or on another member; f must
// not block for long.
type Store interface {
	Put(ctx context.Context, inst Instance) error
	Delete(ctx context.Context, service, id string) error
	List(service string) []Instance
	Services() []string
	OnChange(f func(service string))
}

// Config configures a Registry. Zero values are the defaults.
type Config struct {
	// HealthInterval is how often instances with a health check are
	// checked. Default: 1s.
	HealthInterval time.Duration
	// Logger: default none.
	Logger *zap.Logger
}

// Registry is the service registry of one member: see the package
// documentation.
type Registry struct {
	cfg   Config
	sys   *actor.System
	ms    *cluster.Membership
	store Store
	log   *zap.Logger
	self  string

	mu      sync.Mutex
	mine    map[string]*Registration // by service/id: instances registered here
	views   map[string]*atomic.Pointer[snapshot]
	watches map[string]map[int]chan []Instance
	nextW   int
	closed  bool

	up atomic.Pointer[map[string]bool] // Up members of the view
	// rebuildMu makes rebuilds one at a time: each reads the Up set and
	// the store, then publishes, so the last published is the newest.
	// Without it a rebuild from a store change that read the Up set
	// before a join could publish after the join's rebuild, and the
	// joined member's instances stayed out until the next change.
	rebuildMu sync.Mutex
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	started   bool
}

// snapshot is one service's instances as this member routes to them:
// healthy instances on Up members, local ones first, as router routees.
type snapshot struct {
	instances []Instance
	routees   router.Snapshot
}

// New returns a Registry for the member of sys and ms, keeping its records
// in store. Start follows the membership.
func New(sys *actor.System, ms *cluster.Membership, store Store, cfg Config) (*Registry, error) {
	switch {
	case sys == nil || ms == nil:
		return nil, fmt.Errorf("%w: New needs a System and a Membership", ErrInvalid)
	case store == nil:
		return nil, fmt.Errorf("%w: New needs a Store (NewStore)", ErrInvalid)
	case cfg.HealthInterval < 0:
		return nil, fmt.Errorf("%w: Config.HealthInterval %v must be >= 0 (0: 1s)", ErrInvalid, cfg.HealthInterval)
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	r := &Registry{cfg: cfg, sys: sys, ms: ms, store: store, log: log, self: ms.Self().ID,
		mine: map[string]*Registration{}, views: map[string]*atomic.Pointer[snapshot]{},
		watches: map[string]map[int]chan []Instance{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.refreshUp()
	return r, nil
}

// Start follows the membership (instances of members that are not Up are
// not routed to; a removed member's records are deleted) and the store's
// changes.
func (r *Registry) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.started {
		return nil
	}
	r.started = true
	r.store.OnChange(r.changed)
	events, unsub := r.ms.Subscribe(256)
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		defer unsub()
		// The view may have changed between New and Subscribe.
		r.refreshUp()
		r.rebuildAll()
		for {
			select {
			case <-r.ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				r.refreshUp()
				r.rebuildAll()
				if ev.Kind == cluster.Removed || ev.Kind == cluster.Left {
					r.cleanup(ev.Member.ID)
				}
			}
		}
	}()
	go func() {
		defer r.wg.Done()
		r.healthLoop()
	}()
	return nil
}

// Stop deregisters this member's instances and stops. Idempotent.
func (r *Registry) Stop(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	regs := slices.Collect(maps.Values(r.mine))
	for _, ws := range r.watches {
		for id, ch := range ws {
			close(ch)
			delete(ws, id)
		}
	}
	r.mu.Unlock()
	var err error
	for _, reg := range regs {
		if e := reg.deregister(ctx, true); e != nil && err == nil {
			err = e
		}
	}
	r.cancel()
	r.wg.Wait()
	return err
}

// RegisterOption configures a registration.
type RegisterOption interface{ apply(*Registration) }

type regOpt func(*Registration)

func (f regOpt) apply(r *Registration) { f(r) }

// WithMetadata attaches metadata to the instance (for Discover's criteria).
func WithMetadata(md map[string]string) RegisterOption {
	return regOpt(func(r *Registration) { r.inst.Metadata = maps.Clone(md) })
}

// WithCapabilities attaches capabilities to the instance.
func WithCapabilities(caps ...string) RegisterOption {
	return regOpt(func(r *Registration) { r.inst.Capabilities = slices.Clone(caps) })
}

// WithHealthCheck makes the registry call check every Config.HealthInterval
// (with a ctx bounded by it); while it fails, the instance is marked
// unhealthy cluster-wide and not routed to.
func WithHealthCheck(check func(ctx context.Context) error) RegisterOption {
	return regOpt(func(r *Registration) { r.check = check })
}

// Registration is one instance registered by this member.
type Registration struct {
	r     *Registry
	mu    sync.Mutex // guards inst.Healthy (the health loop writes it)
	inst  Instance
	check func(context.Context) error
	watch *actor.ExitWatch
	done  chan struct{}
	once  sync.Once
}

// Instance is the registered instance.
func (g *Registration) Instance() Instance {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inst
}

// Register registers pid (a process on this member) as an instance of
// service name. The instance is removed when the process exits, when
// Deregister is called, or when this member leaves or is removed.
func (r *Registry) Register(ctx context.Context, name string, pid *actor.PID, opts ...RegisterOption) (*Registration, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if pid == nil {
		return nil, fmt.Errorf("%w: Register: nil pid", ErrInvalid)
	}
	if pid.Address != r.sys.Address() {
		return nil, fmt.Errorf("%w: Register: %s is on another member; register on the member it runs on", ErrInvalid, actor.PIDString(pid))
	}
	g := &Registration{r: r, inst: Instance{Service: name, PID: pid, Member: r.self, Healthy: true, Registered: time.Now()}, done: make(chan struct{})}
	for _, o := range opts {
		if o != nil {
			o.apply(g)
		}
	}
	w, err := r.sys.WatchExit(pid)
	if err != nil {
		return nil, fmt.Errorf("service: Register: %w", err)
	}
	g.watch = w
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		w.Close()
		return nil, ErrClosed
	}
	key := name + "/" + g.inst.ID()
	if _, dup := r.mine[key]; dup {
		r.mu.Unlock()
		w.Close()
		return nil, fmt.Errorf("%w: %s is already registered as %q", ErrInvalid, actor.PIDString(pid), name)
	}
	r.mine[key] = g
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		select {
		case <-w.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = g.deregister(dctx, true) // its process exited
			cancel()
		case <-g.done:
		}
	}()
	if err := r.store.Put(ctx, g.inst); err != nil {
		_ = g.deregister(ctx, false)
		return nil, fmt.Errorf("service: registering %q: %w", name, err)
	}
	r.changed(name)
	return g, nil
}

// Deregister removes the instance. Idempotent.
func (g *Registration) Deregister(ctx context.Context) error { return g.deregister(ctx, true) }

func (g *Registration) deregister(ctx context.Context, fromStore bool) error {
	var err error
	g.once.Do(func() {
		g.mu.Lock()
		close(g.done)
		g.mu.Unlock()
		g.watch.Close()
		r := g.r
		r.mu.Lock()
		delete(r.mine, g.inst.Service+"/"+g.inst.ID())
		r.mu.Unlock()
		if fromStore {
			err = r.store.Delete(ctx, g.inst.Service, g.inst.ID())
		}
		r.changed(g.inst.Service)
	})
	return err
}

// Criterion filters instances in Discover.
type Criterion func(Instance) bool

// HasMetadata matches instances whose metadata has key = value.
func HasMetadata(key, value string) Criterion {
	return func(i Instance) bool { return i.Metadata[key] == value }
}

// HasCapability matches instances with capability c.
func HasCapability(c string) Criterion {
	return func(i Instance) bool { return slices.Contains(i.Capabilities, c) }
}

// Discover returns the routable instances of service name that match every
// criterion: healthy, on members Up in the view, this member's first. It
// reads this member's replica of the registry: no network. ErrUnknownService
// when the service has no routable instance.
func (r *Registry) Discover(name string, criteria ...Criterion) ([]Instance, error) {
	sn := r.snapshot(name)
	var out []Instance
	for _, i := range sn.instances {
		ok := true
		for _, c := range criteria {
			if c != nil && !c(i) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q has no routable instance", ErrUnknownService, name)
	}
	return out, nil
}

// Services lists the services with at least one record.
func (r *Registry) Services() []string { return r.store.Services() }

// Watch returns a channel that receives the routable instances of name
// (as Discover would) now and after every change, and a cancel function.
// It never blocks the registry: a reader that falls behind sees only the
// latest listing.
func (r *Registry) Watch(name string) (<-chan []Instance, func()) {
	ch := make(chan []Instance, 1)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	id := r.nextW
	r.nextW++
	if r.watches[name] == nil {
		r.watches[name] = map[int]chan []Instance{}
	}
	r.watches[name][id] = ch
	r.mu.Unlock()
	offer(ch, r.snapshot(name).instances)
	return ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if c, ok := r.watches[name][id]; ok {
			close(c)
			delete(r.watches[name], id)
		}
	}
}

// offer replaces whatever waits in ch with v.
func offer(ch chan []Instance, v []Instance) {
	for {
		select {
		case ch <- slices.Clone(v):
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// Routees makes the instances of service name a router.Routees: a router
// over it balances over the routable instances, following every change.
func (r *Registry) Routees(name string) router.Routees { return routees{r, name} }

type routees struct {
	r    *Registry
	name string
}

func (x routees) Routees() router.Snapshot { return x.r.snapshot(x.name).routees }

// snapshot returns name's routing snapshot (one atomic load).
func (r *Registry) snapshot(name string) *snapshot {
	r.mu.Lock()
	p := r.views[name]
	if p == nil {
		p = &atomic.Pointer[snapshot]{}
		r.views[name] = p
		r.mu.Unlock()
		r.rebuild(name)
		return p.Load()
	}
	r.mu.Unlock()
	return p.Load()
}

// changed rebuilds name's snapshot and notifies its watchers.
func (r *Registry) changed(name string) {
	r.rebuild(name)
}

func (r *Registry) rebuildAll() {
	r.mu.Lock()
	names := slices.Collect(maps.Keys(r.views))
	r.mu.Unlock()
	for _, n := range names {
		r.rebuild(n)
	}
}

var version atomic.Uint64

func (r *Registry) rebuild(name string) {
	r.rebuildMu.Lock()
	defer r.rebuildMu.Unlock()
	up := *r.up.Load()
	all := r.store.List(name)
	var local, remote []Instance
	for _, i := range all {
		if !i.Healthy || !up[i.Member] {
			continue
		}
		if i.local(r.self) {
			local = append(local, i)
		} else {
			remote = append(remote, i)
		}
	}
	byID := func(a, b Instance) int { return strings.Compare(a.ID(), b.ID()) }
	slices.SortFunc(local, byID)
	slices.SortFunc(remote, byID)
	inst := append(local, remote...)
	sn := &snapshot{instances: inst, routees: router.Snapshot{Version: version.Add(1)}}
	for _, i := range inst {
		sn.routees.PIDs = append(sn.routees.PIDs, i.PID)
	}
	r.mu.Lock()
	p := r.views[name]
	if p == nil {
		p = &atomic.Pointer[snapshot]{}
		r.views[name] = p
	}
	p.Store(sn)
	var ws []chan []Instance
	for _, ch := range r.watches[name] {
		ws = append(ws, ch)
	}
	for _, ch := range ws {
		offer(ch, inst)
	}
	r.mu.Unlock()
}

func (r *Registry) refreshUp() {
	up := map[string]bool{}
	for _, m := range r.ms.View().Up() {
		up[m.ID] = true
	}
	r.up.Store(&up)
}

// cleanup deletes the records of a member that left or was removed: the
// lowest-id Up member does it, so that they do not linger in the store.
func (r *Registry) cleanup(gone string) {
	if r.ms.View().LowestUp() != r.self {
		return
	}
	for _, name := range r.store.Services() {
		for _, i := range r.store.List(name) {
			if i.Member == gone {
				ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
				if err := r.store.Delete(ctx, name, i.ID()); err != nil {
					r.log.Warn("service: deleting a gone member's instance", zap.String("service", name), zap.Error(err))
				}
				cancel()
			}
		}
	}
}

// healthLoop runs the health checks of this member's instances.
func (r *Registry) healthLoop() {
	t := time.NewTicker(r.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		regs := slices.Collect(maps.Values(r.mine))
		r.mu.Unlock()
		r.reconcile(regs)
		for _, g := range regs {
			if g.check == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(r.ctx, r.cfg.HealthInterval)
			healthy := g.check(ctx) == nil
			cancel()
			g.mu.Lock()
			if healthy == g.inst.Healthy {
				g.mu.Unlock()
				continue
			}
			g.inst.Healthy = healthy
			inst := g.inst
			g.mu.Unlock()
			r.log.Info("service instance health", zap.String("service", inst.Service), zap.String("pid", actor.PIDString(inst.PID)), zap.Bool("healthy", healthy))
			ctx, cancel = context.WithTimeout(r.ctx, 5*time.Second)
			if err := r.store.Put(ctx, inst); err != nil {
				r.log.Warn("service: recording health", zap.Error(err))
			}
			cancel()
			r.changed(inst.Service)
		}
	}
}

// reconcile writes again the records of this member's instances that the
// store lacks: after this member was downed by the split-brain resolver
// (another member deleted its records) and came back, say.
func (r *Registry) reconcile(regs []*Registration) {
	for _, g := range regs {
		inst := g.Instance()
		present := false
		for _, i := range r.store.List(inst.Service) {
			if i.ID() == inst.ID() {
				present = true
				break
			}
		}
		if present {
			continue
		}
		// Under g.mu, which deregister takes to close g.done: a record
		// written here is deleted by the deregistration, never left behind.
		g.mu.Lock()
		select {
		case <-g.done:
			g.mu.Unlock()
			continue // deregistered meanwhile
		default:
		}
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		if err := r.store.Put(ctx, g.inst); err != nil {
			r.log.Warn("service: re-registering an instance", zap.String("service", inst.Service), zap.Error(err))
		}
		cancel()
		g.mu.Unlock()
		r.changed(inst.Service)
	}
}

// checkName rejects empty or odd service names.
func checkName(name string) error {
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: service name %q: want 1..255 bytes without '/' or NUL", ErrInvalid, name)
	}
	return nil
}
