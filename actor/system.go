package actor

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/foundation-go/foundation/internal/zslog"
)

// PID identifies a process, local or on another member. It is proto.actor's
// PID: Foundation and proto.actor code can exchange PIDs freely.
type PID = actor.PID

// Context is proto.actor's actor context, seen by Actor implementations.
type Context = actor.Context

// Actor is proto.actor's actor interface: Receive(Context).
type Actor = actor.Actor

// ReceiveFunc adapts a function to Actor.
type ReceiveFunc = actor.ReceiveFunc

const (
	stateNew int32 = iota
	stateRunning
	stateStopping
	stateStopped
)

// System is one actor system: a proto.actor ActorSystem with a lifecycle
// that is safe to start and stop more than once, optional remoting, and the
// Foundation process table (links, monitors, names, groups).
//
// Create it with NewSystem, call Start, and Stop it when done. All methods
// are safe for concurrent use.
type System struct {
	as      *actor.ActorSystem
	root    *actor.RootContext
	log     *zap.Logger
	clock   Clock
	opts    options
	remote  *remote.Remote
	inbound *inboundConns // the remoting server's connections from other members

	state   atomic.Int32
	startMu sync.Mutex // guards state transitions; never held while waiting
	stopErr error
	stopped chan struct{}

	infra map[string]struct{} // registry ids present after Start: not user actors
	subs  []*eventstream.Subscription

	slots chan *replySlot
	slotN atomic.Uint64

	table table
	live  atomic.Int64 // Foundation processes spawned and not yet exited

	propsOnce sync.Once
	props     [4]*actor.Props // plain, server; child, top level
	pend      pending
	disp      *dispatcher
	kinds     kinds // per-kind counters, with an Observer
}

type options struct {
	dialOpts     []grpc.DialOption
	serverOpts   []grpc.ServerOption
	serverCreds  credentials.TransportCredentials
	logger       *zap.Logger
	clock        Clock
	remoteAddr   string
	advertise    string
	stopTimeout  time.Duration
	callSlotPool int
	observer     Observer
}

// Option configures a System. Options are sealed: build them with the With…
// functions of this package.
type Option interface{ apply(*options) error }

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

// WithLogger sets the zap logger for the system and for proto.actor's own
// logs, which are routed into the same core. Default: no logging (zap.NewNop).
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) error { o.logger = l; return nil })
}

// WithClock injects the clock used for idle timeouts and timers. Default: the
// real clock.
func WithClock(c Clock) Option {
	return optionFunc(func(o *options) error {
		if c == nil {
			return fmt.Errorf("%w: WithClock: clock must not be nil", ErrInvalid)
		}
		o.clock = c
		return nil
	})
}

// WithRemote enables remoting on addr, a host:port to listen on; port 0 picks
// a free port (see System.Address). Default: no remoting, local only.
func WithRemote(addr string) Option {
	return optionFunc(func(o *options) error {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("%w: WithRemote: address %q must be host:port: %v", ErrInvalid, addr, err)
		}
		if host == "" {
			return fmt.Errorf("%w: WithRemote: address %q needs an explicit host (for example 127.0.0.1)", ErrInvalid, addr)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("%w: WithRemote: port %q must be 0..65535", ErrInvalid, port)
		}
		o.remoteAddr = addr
		return nil
	})
}

// WithAdvertisedAddress sets the host:port other members use to reach this
// one, when it differs from the listen address. Default: the listen address.
func WithAdvertisedAddress(addr string) Option {
	return optionFunc(func(o *options) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%w: WithAdvertisedAddress: %q must be host:port", ErrInvalid, addr)
		}
		o.advertise = addr
		return nil
	})
}

// WithRemoteDialOptions adds gRPC dial options used to reach other members
// (transport credentials for mTLS, a custom dialer). Default: insecure
// transport, the system dialer.
func WithRemoteDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(o *options) error {
		o.dialOpts = append(o.dialOpts, opts...)
		return nil
	})
}

// WithRemoteServerCredentials sets the remoting listener's transport
// credentials (TLS for mTLS). Default: plaintext. (Use this rather than
// grpc.Creds in WithRemoteServerOptions: the system needs to wrap them.)
func WithRemoteServerCredentials(c credentials.TransportCredentials) Option {
	return optionFunc(func(o *options) error {
		if c == nil {
			return fmt.Errorf("%w: WithRemoteServerCredentials: nil credentials", ErrInvalid)
		}
		o.serverCreds = c
		return nil
	})
}

// WithRemoteServerOptions adds gRPC server options for the remoting listener.
// Default: none.
func WithRemoteServerOptions(opts ...grpc.ServerOption) Option {
	return optionFunc(func(o *options) error {
		o.serverOpts = append(o.serverOpts, opts...)
		return nil
	})
}

// NewSystem builds a System. It starts nothing; call Start.
func NewSystem(opts ...Option) (*System, error) {
	o := options{callSlotPool: 4096}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return nil, err
		}
	}
	if o.logger == nil {
		o.logger = zap.NewNop()
	}
	if o.clock == nil {
		o.clock = RealClock()
	}
	s := &System{
		log:     o.logger,
		clock:   o.clock,
		opts:    o,
		stopped: make(chan struct{}),
		slots:   make(chan *replySlot, o.callSlotPool),
	}
	s.table.init()
	return s, nil
}

// Start starts the actor system and, when configured, remoting. Calling it
// again after success does nothing; after Stop it returns ErrStopped.
func (s *System) Start(ctx context.Context) error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	switch s.state.Load() {
	case stateRunning:
		return nil
	case stateStopping, stateStopped:
		return fmt.Errorf("%w: Start after Stop", ErrStopped)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	logger := s.log
	s.as = actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return zslog.New(logger, s.engineLevel) }),
		actor.WithDeadLetterThrottleInterval(100*time.Millisecond),
		actor.WithDeadLetterRequestLogging(false),
	)
	s.root = s.as.Root
	s.disp = newDispatcher(300, int32(4*runtime.GOMAXPROCS(0)+16))
	if s.opts.remoteAddr != "" {
		if err := s.startRemote(); err != nil {
			_ = s.disp.close(context.Background())
			s.as.Shutdown()
			return err
		}
	}
	s.infra = make(map[string]struct{})
	for _, id := range s.registryIDs() {
		s.infra[id] = struct{}{}
	}
	s.state.Store(stateRunning)
	s.log.Info("actor system started", zap.String("id", s.as.ID), zap.String("address", s.as.Address()))
	return nil
}

func (s *System) startRemote() (err error) {
	host, port, _ := net.SplitHostPort(s.opts.remoteAddr)
	p, _ := strconv.Atoi(port)
	if p != 0 {
		// The engine's listen failure is a panic that keeps only the text of
		// its cause: try the address first, so that the error wraps the
		// system's (EADDRINUSE, EADDRNOTAVAIL, ...).
		ln, lerr := net.Listen("tcp", s.opts.remoteAddr)
		if lerr != nil {
			return fmt.Errorf("%w: remoting on %s: %w", ErrListen, s.opts.remoteAddr, lerr)
		}
		_ = ln.Close()
	}
	var ropts []remote.ConfigOption
	if s.opts.advertise != "" {
		ropts = append(ropts, remote.WithAdvertisedHost(s.opts.advertise))
	}
	// The engine's option replaces its defaults: keep plaintext as the base
	// so that a dialer alone works; credentials given later win. A
	// connection attempt gives up after two seconds (gRPC's default is
	// twenty): the engine's endpoint writer blocks on it, and so does this
	// system's Stop when the member it dials has vanished without a RST.
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: 2 * time.Second}),
	}, s.opts.dialOpts...)
	ropts = append(ropts, remote.WithDialOptions(dial...))
	creds := s.opts.serverCreds
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	s.inbound = &inboundConns{TransportCredentials: creds}
	ropts = append(ropts, remote.WithServerOptions(append([]grpc.ServerOption{grpc.Creds(s.inbound)}, s.opts.serverOpts...)...))
	cfg := remote.Configure(host, p, ropts...)
	// The engine's endpoint writer blocks its actor for two seconds after
	// each failed connection attempt, five times by default: a member that
	// is gone held messages to it for ten seconds, and held this system's
	// Stop as long. Membership decides whether a member is gone, and the
	// next message to it starts a new writer: one attempt is enough.
	cfg.MaxRetryCount = 1
	r := remote.NewRemote(s.as, cfg)
	defer func() {
		// remote.Start panics when it cannot listen: make that an error.
		if v := recover(); v != nil {
			if cause, ok := v.(error); ok {
				err = fmt.Errorf("%w: remoting on %s: %w", ErrListen, s.opts.remoteAddr, cause)
			} else {
				err = fmt.Errorf("%w: remoting on %s: %v", ErrListen, s.opts.remoteAddr, v)
			}
		}
	}()
	r.Start()
	s.remote = r
	return nil
}

// engineLevel demotes the engine's error records that are not errors: a
// connection closed because this system is shutting down, or because a peer
// closed it (the membership layer reports peers that leave or fail).
func (s *System) engineLevel(lvl zapcore.Level, msg string) zapcore.Level {
	if lvl < zapcore.ErrorLevel {
		return lvl
	}
	if s.state.Load() >= stateStopping {
		return zapcore.DebugLevel
	}
	switch msg {
	case "EndpointWriter lost connection":
		return zapcore.InfoLevel
	case "EndpointWriter failed to connect":
		return zapcore.WarnLevel // retried by the engine
	}
	return lvl
}

// Address is the host:port other members reach this system at, or "nonhost"
// without remoting.
func (s *System) Address() string {
	if s.as == nil {
		return ""
	}
	return s.as.Address()
}

// Logger returns the system's zap logger.
func (s *System) Logger() *zap.Logger { return s.log }

// Clock returns the system's clock.
func (s *System) Clock() Clock { return s.clock }

// ProtoActor exposes the underlying proto.actor ActorSystem, for code that
// needs the engine directly (the cluster layer does). Nil before Start.
func (s *System) ProtoActor() *actor.ActorSystem { return s.as }

// Running reports whether the system has started and is not stopping.
func (s *System) Running() bool { return s.state.Load() == stateRunning }

func (s *System) check() error {
	switch s.state.Load() {
	case stateRunning:
		return nil
	case stateNew:
		return fmt.Errorf("%w: system not started", ErrStopped)
	default:
		return ErrStopped
	}
}

// Stop stops every process (children before their parents), waits for all of
// them to finish, shuts remoting down and releases the engine. It is
// idempotent: later calls wait for the first and return its result. If ctx
// ends first, Stop returns ctx's error; processes still running are those
// stuck in a handler.
func (s *System) Stop(ctx context.Context) error {
	s.startMu.Lock()
	switch s.state.Load() {
	case stateNew:
		s.state.Store(stateStopped)
		close(s.stopped)
		s.startMu.Unlock()
		return nil
	case stateStopping, stateStopped:
		// Another Stop is at work or done: wait for it within our own ctx.
		s.startMu.Unlock()
		select {
		case <-s.stopped:
			return s.stopErr
		case <-ctx.Done():
			return fmt.Errorf("actor: stop: %w", ctx.Err())
		}
	}
	s.state.Store(stateStopping)
	s.startMu.Unlock()

	err := s.stopActors(ctx)
	if s.remote != nil {
		s.inbound.closeAll()
		quiesceReaders(s.remote, 2*time.Second)
		// The engine's graceful shutdown waits up to ten seconds for the
		// gRPC server's streams; after two (or when ctx ends) the server
		// is stopped outright, which ends that wait.
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.remote.Shutdown(true)
		}()
		t := time.NewTimer(2 * time.Second)
		select {
		case <-done:
		case <-t.C:
			s.remote.Shutdown(false)
			<-done
		case <-ctx.Done():
			s.remote.Shutdown(false)
			<-done
		}
		t.Stop()
	}
	for _, sub := range s.subs {
		s.as.EventStream.Unsubscribe(sub)
	}
	s.drainSlots()
	if derr := s.disp.close(ctx); err == nil && derr != nil {
		err = fmt.Errorf("actor: stop: a handler is still running: %w", derr)
	}
	s.as.Shutdown()
	s.stopErr = err
	s.state.Store(stateStopped)
	close(s.stopped)
	if err != nil {
		s.log.Warn("actor system stopped before every process finished", zap.Error(err))
	} else {
		s.log.Info("actor system stopped", zap.String("id", s.as.ID))
	}
	return err
}

// Done is closed when the system has stopped.
func (s *System) Done() <-chan struct{} { return s.stopped }

func (s *System) registryIDs() []string {
	var ids []string
	for _, bucket := range s.as.ProcessRegistry.LocalPIDs.LocalPIDs {
		for _, k := range bucket.Keys() {
			ids = append(ids, k)
		}
	}
	return ids
}

// actorIDs lists the ids of the engine's local actor processes. It walks
// the registry's shards in this goroutine: the engine's IterBuffered starts
// two goroutines per shard of each of its 1024 buckets, some 65,000 per
// walk, which cost Stop (two walks) seconds on a busy machine.
func (s *System) actorIDs() []string {
	var ids []string
	for _, bucket := range s.as.ProcessRegistry.LocalPIDs.LocalPIDs {
		// The callback runs under the shard's read lock: it only collects.
		bucket.IterCb(func(id string, v any) {
			if _, ok := v.(*actor.ActorProcess); ok {
				ids = append(ids, id)
			}
		})
	}
	return ids
}

// stopActors stops every actor process that is not engine infrastructure
// and waits until each has terminated. It goes top down: first the processes
// nobody owns (not spawn-linked to another), so that supervisors stop their
// children themselves, in order and with their shutdown timeouts; then
// whatever is left.
func (s *System) stopActors(ctx context.Context) error {
	roots, rest := s.liveProcesses()
	if err := s.stopAndWait(ctx, roots); err != nil {
		return err
	}
	if len(roots) > 0 {
		_, rest = s.liveProcesses()
	}
	return s.stopAndWait(ctx, rest)
}

// liveProcesses lists the registered actor processes that are not engine
// infrastructure, split into unowned and owned ones.
func (s *System) liveProcesses() (roots, owned []*PID) {
	for _, id := range s.actorIDs() {
		if _, infra := s.infra[id]; infra {
			continue
		}
		if i := strings.IndexByte(id, '/'); i > 0 {
			if _, infra := s.infra[id[:i]]; infra {
				continue // the engine's own children (remoting's endpoint writers), which its shutdown stops
			}
		}
		pid := s.as.NewLocalPID(id)
		isOwned := false
		s.table.peek(pid, func(e *entry) { isOwned = e.owned })
		if isOwned {
			owned = append(owned, pid)
		} else {
			roots = append(roots, pid)
		}
	}
	return roots, owned
}

func (s *System) stopAndWait(ctx context.Context, targets []*PID) error {
	if len(targets) == 0 {
		return nil
	}
	w := newReaper(s)
	defer w.close()
	w.expect(len(targets))
	for _, pid := range targets {
		s.sendSystem(pid, &actor.Watch{Watcher: w.pid})
		s.root.Stop(pid)
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		var still []string
		for _, pid := range targets {
			if _, ok := s.as.ProcessRegistry.Get(pid); ok && len(still) < 5 {
				still = append(still, pid.Id)
			}
		}
		return fmt.Errorf("actor: stop: %d processes still running (%s): %w", w.left(), strings.Join(still, ", "), ctx.Err())
	}
}
