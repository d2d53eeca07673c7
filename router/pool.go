package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/supervision"
)

// Defaults of PoolConfig.
const (
	// DefaultResizeInterval is how often a pool with a resizer consults it.
	DefaultResizeInterval = time.Second
	// DefaultPoolMaxRestarts is the restart intensity of a pool's
	// supervisor: at most this many routee restarts within
	// DefaultPoolRestartPeriod. (OTP's default of 1 suits a supervisor of
	// distinct children, not of many interchangeable ones.)
	DefaultPoolMaxRestarts = 10
	// DefaultPoolRestartPeriod is the intensity window.
	DefaultPoolRestartPeriod = supervision.DefaultPeriod
)

// PoolConfig configures a Pool. The zero value is a fixed pool of one
// routee, round-robin.
type PoolConfig struct {
	// Size is how many routees NewPool starts. Zero: the resizer's lower
	// bound (see Resizer's Bounds), or 1 without a resizer. It must be
	// within the resizer's bounds.
	Size int
	// Strategy picks routees for the pool's Router. Nil: RoundRobin.
	Strategy Strategy
	// Resizer resizes the pool. Nil: the pool keeps Size routees (crashed
	// ones are restarted by the supervisor).
	Resizer Resizer
	// ResizeInterval is how often the resizer is consulted, on Clock.
	// Zero: DefaultResizeInterval (1 s).
	ResizeInterval time.Duration
	// MaxRestarts and RestartPeriod are the restart intensity of the
	// pool's supervisor (supervision.DynamicSpec): one more routee restart
	// and the supervisor gives up, every routee stops and the pool is
	// empty (Err reports it). Zero: DefaultPoolMaxRestarts (10) within
	// DefaultPoolRestartPeriod (5 s).
	MaxRestarts   int
	RestartPeriod time.Duration
	// Clock is the clock the resizer's ticks and Observation.Now come
	// from. Nil: the system's clock (actor.System.Clock).
	Clock actor.Clock
}

// Validate reports the first problem with c, naming the field and what is
// allowed. It does not modify c.
func (c PoolConfig) Validate() error {
	switch {
	case c.Size < 0:
		return fmt.Errorf("%w: PoolConfig.Size is %d; want >= 1 (0: the resizer's lower bound, or 1)", ErrInvalidResizer, c.Size)
	case c.ResizeInterval < 0:
		return fmt.Errorf("%w: PoolConfig.ResizeInterval is %v; want > 0 (0: %v)", ErrInvalidResizer, c.ResizeInterval, DefaultResizeInterval)
	case c.MaxRestarts < supervision.NoRestarts:
		return fmt.Errorf("%w: PoolConfig.MaxRestarts is %d; want >= 0 (0: %d), or supervision.NoRestarts", ErrInvalidResizer, c.MaxRestarts, DefaultPoolMaxRestarts)
	case c.RestartPeriod < 0:
		return fmt.Errorf("%w: PoolConfig.RestartPeriod is %v; want > 0 (0: %v)", ErrInvalidResizer, c.RestartPeriod, DefaultPoolRestartPeriod)
	}
	if v, ok := c.Resizer.(validator); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	if b, ok := c.Resizer.(interface{ Bounds() (int, int) }); ok && c.Size != 0 {
		if lo, hi := b.Bounds(); c.Size < lo || c.Size > hi {
			return fmt.Errorf("%w: PoolConfig.Size is %d; want within the resizer's bounds [%d, %d]", ErrInvalidResizer, c.Size, lo, hi)
		}
	}
	return nil
}

func (c PoolConfig) size() int {
	if c.Size > 0 {
		return c.Size
	}
	if b, ok := c.Resizer.(interface{ Bounds() (int, int) }); ok {
		lo, _ := b.Bounds()
		return lo
	}
	return 1
}

// Pool is a set of supervised routees started from one spec (Akka's pool
// routers, Orleans' stateless workers): a supervision.Dynamic supervisor
// starts them and restarts each one that crashes; the pool sees every
// replacement and every exit at once, so routing skips a dead routee as
// soon as its supervisor has noticed. An optional Resizer grows and shrinks
// the pool.
//
// Route through Router (or a Router of your own: New(sys, pool, strategy)).
// Routing never waits for the pool; the resizer runs on a goroutine the
// pool owns, which Stop ends. A Pool is safe for concurrent use.
type Pool struct {
	sys       *actor.System
	sup       *supervision.Dynamic
	spec      supervision.ChildSpec
	members   set
	router    *Router
	count     counter
	resizer   Resizer // the resizer goroutine's
	resizable bool    // a resizer was configured; fixed at NewPool
	clock     actor.Clock
	interval  time.Duration
	log       *zap.Logger
	sub       *supervision.Subscription
	watches   sync.WaitGroup // one per routee: removes it when it exits
	watchMu   sync.Mutex
	watching  map[*actor.ExitWatch]struct{}

	ctx      context.Context // canceled by Stop: ends the resizer's calls
	cancel   context.CancelFunc
	tick     chan struct{}
	loopDone chan struct{}

	closing  atomic.Bool
	failed   atomic.Pointer[error]
	stopMu   sync.Mutex
	stopping bool
	stopped  chan struct{}
	stopErr  error
}

// NewPool starts a pool of routees, each started by routee (a ChildSpec as
// for any supervisor: supervision.Worker(id, newServer) is the usual one;
// its Restart and Shutdown apply to every routee), under a new Dynamic
// supervisor. It returns when cfg.Size routees have started; if one fails,
// the supervisor and the routees already started are stopped and the error
// (a *supervision.StartError) is returned. A nil sys or routee.Start is
// ErrInvalid; a bad cfg or resizer is ErrInvalidResizer; a bad strategy is
// its error.
func NewPool(ctx context.Context, sys *actor.System, routee supervision.ChildSpec, cfg PoolConfig) (*Pool, error) {
	if sys == nil {
		return nil, fmt.Errorf("%w: NewPool: system is nil", ErrInvalid)
	}
	if routee.Start == nil {
		return nil, fmt.Errorf("%w: NewPool: routee.Start is nil; want a supervision.StartFunc (see supervision.Worker)", ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	strategy, err := resolveStrategy(sys, cfg.Strategy)
	if err != nil {
		return nil, err
	}
	maxRestarts, period := cfg.MaxRestarts, cfg.RestartPeriod
	if maxRestarts == 0 {
		maxRestarts = DefaultPoolMaxRestarts
	}
	if period == 0 {
		period = DefaultPoolRestartPeriod
	}
	p := &Pool{
		sys:       sys,
		resizer:   cfg.Resizer,
		resizable: cfg.Resizer != nil,
		clock:     cfg.Clock,
		interval:  cfg.ResizeInterval,
		log:       sys.Logger().Named("router.pool"),
		tick:      make(chan struct{}, 1),
		loopDone:  make(chan struct{}),
		stopped:   make(chan struct{}),
	}
	if p.clock == nil {
		p.clock = sys.Clock()
	}
	if p.interval == 0 {
		p.interval = DefaultResizeInterval
	}
	p.count.kick = p.tick
	if m, ok := cfg.Resizer.(interface{ messagesPerResize() int }); ok {
		p.count.every = uint64(m.messagesPerResize())
	}
	p.router = &Router{sys: sys, src: p, strategy: strategy, clock: p.clock, count: p.routedCounter()}
	p.ctx, p.cancel = context.WithCancel(context.Background())

	dspec := supervision.DynamicSpec{MaxRestarts: maxRestarts, Period: period}
	if b, ok := cfg.Resizer.(interface{ Bounds() (int, int) }); ok {
		_, dspec.MaxChildren = b.Bounds() // a safety net under the resizer's own clamp
	}
	sup, err := supervision.StartDynamic(ctx, sys, dspec)
	if err != nil {
		p.cancel()
		return nil, err
	}
	p.sup = sup
	p.subscribe()

	// Every start of a routee, first or restart, goes through this
	// function on the supervisor's goroutine: the pool adds the PID as soon
	// as it exists. Exits reach the pool as ChildTerminated events.
	start := routee.Start
	p.spec = routee
	p.spec.Start = func(sc supervision.StartContext) (*actor.PID, error) {
		pid, err := start(sc)
		if err == nil && pid != nil && !p.closing.Load() {
			p.members.add(pid)
			p.watch(pid)
		}
		return pid, err
	}
	for range cfg.size() {
		if _, err := p.sup.StartChild(ctx, p.spec); err != nil {
			close(p.loopDone) // no resizer goroutine was started
			_ = p.Stop(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	if p.resizer != nil {
		go p.loop()
	} else {
		close(p.loopDone)
	}
	return p, nil
}

// watch removes pid from the routees when it exits (a crash before its
// restart, a shrink, the supervisor giving up): exit watches never miss an
// exit, where an event subscription may drop events.
func (p *Pool) watch(pid *actor.PID) {
	w, err := p.sys.WatchExit(pid)
	if err != nil {
		p.members.remove(pid)
		return
	}
	p.watchMu.Lock()
	if p.watching == nil {
		p.watching = map[*actor.ExitWatch]struct{}{}
	}
	p.watching[w] = struct{}{}
	p.watches.Add(1)
	p.watchMu.Unlock()
	go func() {
		defer p.watches.Done()
		select {
		case <-w.Done():
			p.members.remove(pid)
		case <-p.ctx.Done():
		}
		w.Close()
		p.watchMu.Lock()
		delete(p.watching, w)
		p.watchMu.Unlock()
	}()
}

// subscribe follows the supervisor's events: a supervisor that gave up
// fails the pool. The goroutine ends when the subscription is closed.
func (p *Pool) subscribe() {
	supPID := p.sup.PID()
	sub, err := supervision.Subscribe(p.sys, 64)
	if err != nil {
		p.log.Warn("pool: cannot follow its supervisor's events", zap.Error(err))
		return
	}
	p.sub = sub
	p.watches.Add(1)
	go func() {
		defer p.watches.Done()
		for ev := range sub.C() {
			e, ok := ev.(supervision.IntensityExceeded)
			if !ok || !samePID(ev.SupervisorPID(), supPID) {
				continue
			}
			err := fmt.Errorf("router: pool supervisor %s gave up after more than %d routee restarts in %v (last: %s, %v)",
				actor.PIDString(supPID), e.MaxRestarts, e.Period, e.ID, e.Reason)
			p.failed.CompareAndSwap(nil, &err)
			p.log.Warn("pool failed: its supervisor's restart intensity was exceeded", zap.Error(err))
		}
	}()
}

// Router is the pool's router, with PoolConfig.Strategy.
func (p *Pool) Router() *Router { return p.router }

// Routees returns the routees running now.
func (p *Pool) Routees() Snapshot { return p.members.load() }

// Size is the number of routees running now.
func (p *Pool) Size() int { return len(p.members.load().PIDs) }

// Supervisor is the pool's supervisor, for WhichChildren and the like.
// Starting or terminating children through it bypasses the resizer.
func (p *Pool) Supervisor() *supervision.Dynamic { return p.sup }

// Err is nil while the pool works. It reports why it stopped working: its
// supervisor gave up (too many routee restarts; the pool is then empty and
// routing returns ErrNoRoutees), or ErrStopped after Stop.
func (p *Pool) Err() error {
	if e := p.failed.Load(); e != nil {
		return *e
	}
	if p.closing.Load() {
		return ErrStopped
	}
	return nil
}

// routedCounter is the counter a Router of the pool increments per message
// routed: nil (no counting at all) without a resizer.
func (p *Pool) routedCounter() *counter {
	if !p.resizable {
		return nil
	}
	return &p.count
}

// Stop stops the resizer and every routee (through the supervisor, each
// within its Shutdown) and waits for them. Routing through the pool then
// returns ErrNoRoutees. Stop is idempotent: later calls wait for the first
// and return its result. If ctx ends first it returns ctx's error; the
// supervisor still completes the stop.
func (p *Pool) Stop(ctx context.Context) error {
	p.stopMu.Lock()
	if p.stopping {
		p.stopMu.Unlock()
		select {
		case <-p.stopped:
			return p.stopErr
		case <-ctx.Done():
			return fmt.Errorf("router: pool stop: %w", ctx.Err())
		}
	}
	p.stopping = true
	p.stopMu.Unlock()

	p.closing.Store(true)
	p.cancel()
	var err error
	select {
	case <-p.loopDone:
	case <-ctx.Done():
		err = fmt.Errorf("router: pool stop: the resizer is still busy: %w", ctx.Err())
	}
	if err == nil && p.sup != nil {
		err = p.sup.Stop(ctx)
	}
	if p.sub != nil {
		p.sub.Close()
	}
	p.watches.Wait()
	p.members.update(func(cur []*actor.PID) ([]*actor.PID, bool) { return nil, len(cur) > 0 })
	p.stopErr = err
	close(p.stopped)
	return err
}

// loop is the resizer's goroutine: it consults the resizer on every tick
// and every kick from the router, until Stop or the system stops.
func (p *Pool) loop() {
	defer close(p.loopDone)
	arm := func() actor.Timer {
		return p.clock.AfterFunc(p.interval, func() {
			select {
			case p.tick <- struct{}{}:
			default:
			}
		})
	}
	timer := arm()
	defer func() { timer.Stop() }()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.sys.Done():
			return
		case <-p.tick:
		}
		if p.failed.Load() != nil {
			return
		}
		// The next tick is an interval after this consultation, whether a
		// tick or a kick from the router woke it.
		timer.Stop()
		timer = arm()
		p.consult()
	}
}

// consult observes the pool, asks the resizer, and applies its answer.
func (p *Pool) consult() {
	rs := p.members.load()
	depths := make([]int, len(rs.PIDs))
	for i, pid := range rs.PIDs {
		if n, ok := p.sys.MailboxLen(pid); ok {
			depths[i] = n
		} else {
			depths[i] = -1
		}
	}
	want, next := p.resizer.Resize(Observation{Now: p.clock.Now(), Mailboxes: depths, Routed: p.count.n.Load()})
	if next != nil {
		p.resizer = next
	}
	want = max(want, 0)
	cur := len(rs.PIDs)
	switch {
	case want > cur:
		for range want - cur {
			if _, err := p.sup.StartChild(p.ctx, p.spec); err != nil {
				if p.ctx.Err() == nil {
					p.log.Warn("pool could not grow", zap.Int("from", cur), zap.Int("to", want), zap.Error(err))
				}
				return
			}
		}
		p.log.Debug("pool grew", zap.Int("from", cur), zap.Int("to", want))
	case want < cur:
		victims := shrinkVictims(depths, cur-want)
		pids := make([]*actor.PID, len(victims))
		for i, v := range victims {
			pids[i] = rs.PIDs[v]
		}
		// Out of the set first, so that no new message goes to them; each
		// then handles what it has queued before the Shutdown exit signal
		// (which queues behind), within its spec's Shutdown.
		p.members.remove(pids...)
		for _, pid := range pids {
			err := p.sup.TerminateChild(p.ctx, pid)
			if err != nil && !errors.Is(err, supervision.ErrNotFound) && p.ctx.Err() == nil {
				p.log.Warn("pool could not stop a routee", zap.Stringer("routee", pid), zap.Error(err))
			}
		}
		p.log.Debug("pool shrank", zap.Int("from", cur), zap.Int("to", want))
	}
}
