package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/supervision"
)

// Telemetry is one member's telemetry: its tracer and meter providers (of
// its own: no OpenTelemetry globals are set), the flight recorder, the
// cluster-wide query protocol and the HTTP listener.
//
// Build it with New before the actor system and the grain host, give them
// its observers (ActorObserver, GrainObserver), then Start it with the
// running member. foundation.Start does all of this.
type Telemetry struct {
	cfg       Config
	log       *zap.Logger
	lookupEnv func(string) (string, bool)

	sys    *actor.System
	ms     *cluster.Membership
	grains *grain.Host
	member string
	rec    *recorder

	tracing atomic.Pointer[tracing]
	metrics atomic.Pointer[metrics]
	debug   atomic.Bool
	stats   counters

	mu        sync.Mutex
	state     int // lifeNew, lifeRunning, lifeStopped
	lastTopo  time.Time
	perf      Performance
	advice    []Recommendation
	tunables  map[string]Tunable
	services  map[string]HealthCheck
	flaps     []time.Time // suspicions refuted (unreachable, then reachable)
	http      *httpServer
	stopHooks []func()
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopOnce  sync.Once
	stopErr   error
	startedAt time.Time
	epoch     time.Time // the monotonic origin of now
}

const (
	lifeNew = iota
	lifeRunning
	lifeStopped
)

// New checks cfg and returns a Telemetry that has not started.
func New(cfg Config) (*Telemetry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Telemetry{cfg: cfg, log: cfg.Logger, lookupEnv: cfg.LookupEnv,
		tunables: map[string]Tunable{}, services: map[string]HealthCheck{}, epoch: time.Now()}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	if t.lookupEnv == nil {
		t.lookupEnv = os.LookupEnv
	}
	if t.cfg.SampleEvery == 0 {
		t.cfg.SampleEvery = time.Second
	}
	if t.cfg.Cluster == "" {
		t.cfg.Cluster = "foundation"
	}
	t.rec = newRecorder("", cfg.RecorderSize)
	return t, nil
}

// ActorObserver is the actor.Observer to give the member's actor system
// (actor.WithObserver). It does nothing until Start.
func (t *Telemetry) ActorObserver() actor.Observer { return actorObserver{t} }

// GrainObserver is the grain.Observer to give the member's grain host
// (grain.Config.Observer). It does nothing until Start.
func (t *Telemetry) GrainObserver() grain.Observer { return grainObserver{t} }

// Member is what Start observes: the member's running actor system and
// membership, and its grain host when it has one.
type Member struct {
	System     *actor.System
	Membership *cluster.Membership
	Grains     *grain.Host // nil: no grains
}

// Start starts tracing and metrics as configured, follows the membership
// and the supervisors, serves the cluster-wide queries on the member's
// cluster port (cluster.ProtocolControl) and, with an Address, the HTTP
// listener. It is idempotent; after Stop it returns ErrNotStarted.
func (t *Telemetry) Start(ctx context.Context, m Member) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state {
	case lifeRunning:
		return nil
	case lifeStopped:
		return fmt.Errorf("%w: Start after Stop", ErrNotStarted)
	}
	if m.System == nil || m.Membership == nil {
		return fmt.Errorf("%w: Start needs the member's System and Membership", ErrInvalidConfig)
	}
	t.sys, t.ms, t.grains = m.System, m.Membership, m.Grains
	self := m.Membership.Self()
	t.member = self.ID
	t.rec.setMember(self.ID)
	t.startedAt = time.Now()
	t.lastTopo = t.startedAt
	res, err := t.resource(ctx, self)
	if err != nil {
		return err
	}
	var tg *tracing
	if t.cfg.Tracing != TracingOff {
		if tg, err = newTracing(t, res); err != nil {
			return err
		}
	}
	var mt *metrics
	if t.cfg.Metrics {
		if mt, err = newMetrics(t, res); err != nil {
			t.shutdownProviders(context.Background(), tg, nil)
			return err
		}
	}
	if t.cfg.Address != "" {
		hs, err := t.listen(t.cfg.Address)
		if err != nil {
			t.shutdownProviders(context.Background(), tg, mt)
			return err
		}
		t.http = hs
	}
	if err := m.Membership.Handle(cluster.ProtocolControl, t.serveControl); err != nil {
		if t.http != nil {
			_ = t.http.srv.Close()
		}
		t.shutdownProviders(context.Background(), tg, mt)
		return err
	}
	if tg != nil {
		t.tracing.Store(tg)
	}
	if mt != nil {
		t.metrics.Store(mt)
	}
	sub, err := supervision.Subscribe(m.System, 1024)
	if err != nil {
		sub = nil // the system stopped under us: no supervisor events
	}
	events, unsub := m.Membership.Subscribe(1024)
	lctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.goFunc(func() { t.followMembership(lctx, events) })
	t.goFunc(func() { t.followSupervisors(lctx, sub) })
	t.goFunc(func() { t.sampleLoop(lctx) })
	if t.http != nil {
		t.goFunc(t.http.serve)
	}
	t.stopHooks = append(t.stopHooks, unsub)
	t.state = lifeRunning
	return nil
}

// now is the time since the Telemetry was made, from the monotonic clock
// only (one clock read; time.Now reads the wall clock too).
func (t *Telemetry) now() time.Duration { return time.Since(t.epoch) }

func (t *Telemetry) goFunc(f func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
}

func (t *Telemetry) resource(ctx context.Context, self cluster.Member) (*resource.Resource, error) {
	name := t.cfg.Cluster
	if v, ok := t.lookupEnv("OTEL_SERVICE_NAME"); ok && v != "" {
		name = v
	}
	return resource.New(ctx, resource.WithAttributes(
		semconv.ServiceName(name),
		semconv.ServiceInstanceID(self.ID),
		semconv.ServiceVersion(self.Version),
		attribute.String(AttrMember, self.ID),
		attribute.String("foundation.cluster", t.cfg.Cluster),
		attribute.String("foundation.address", self.Address),
	))
}

// Stop stops the HTTP listener (open dashboard streams end), the
// cluster-wide query handler and the followers, and flushes and shuts
// down the tracer and meter providers (spans still batched for OTLP are
// sent within ctx). Idempotent.
func (t *Telemetry) Stop(ctx context.Context) error {
	t.stopOnce.Do(func() {
		t.mu.Lock()
		running := t.state == lifeRunning
		t.state = lifeStopped
		hs, cancel, hooks := t.http, t.cancel, t.stopHooks
		t.mu.Unlock()
		if !running {
			return
		}
		var errs []error
		if hs != nil {
			errs = append(errs, hs.shutdown(ctx))
		}
		_ = t.ms.Handle(cluster.ProtocolControl, nil)
		for _, h := range hooks {
			h()
		}
		cancel()
		t.wg.Wait()
		tg, mt := t.tracing.Swap(nil), t.metrics.Swap(nil)
		errs = append(errs, t.shutdownProviders(ctx, tg, mt))
		t.stopErr = errors.Join(errs...)
	})
	return t.stopErr
}

func (t *Telemetry) shutdownProviders(ctx context.Context, tg *tracing, mt *metrics) error {
	var errs []error
	if tg != nil {
		errs = append(errs, tg.tp.Shutdown(ctx))
	}
	if mt != nil {
		errs = append(errs, mt.shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Flush sends the spans batched for export (OTLP, Config.SpanExporter)
// now, within ctx.
func (t *Telemetry) Flush(ctx context.Context) error {
	if tg := t.tracing.Load(); tg != nil {
		return tg.tp.ForceFlush(ctx)
	}
	return nil
}

// Address is the HTTP listener's address once started ("" without one).
func (t *Telemetry) Address() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.http == nil {
		return ""
	}
	return t.http.ln.Addr().String()
}

// Member is this member's id ("" before Start).
func (t *Telemetry) MemberID() string { return t.member }

// SetDebug switches this member's debug mode: while on, every trace this
// member starts is sampled (whatever the sample ratio) and grain
// activations are recorded as events. SetClusterDebug switches every
// member.
func (t *Telemetry) SetDebug(on bool) {
	if t.debug.Swap(on) != on {
		state := "off"
		if on {
			state = "on"
		}
		t.rec.event(Event{Kind: "debug", Message: "debug mode " + state})
	}
}

// Debug reports whether debug mode is on here.
func (t *Telemetry) Debug() bool { return t.debug.Load() }

// kinds returns the actor system's per-kind counts.
func (t *Telemetry) kinds() []actor.KindStats {
	if t.sys == nil {
		return nil
	}
	return t.sys.Kinds()
}

// followMembership counts membership events, records them and tracks the
// last topology change and refuted suspicions.
func (t *Telemetry) followMembership(ctx context.Context, events <-chan cluster.MemberEvent) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if m := t.metrics.Load(); m != nil {
				m.membershipEvent(ev)
			}
			kind := "membership"
			if splitBrainDecision(ev) != "" {
				kind = "split-brain"
			}
			t.rec.event(Event{At: ev.At, Kind: kind, Message: ev.String()})
			t.mu.Lock()
			if ev.Kind != cluster.Updated {
				t.lastTopo = ev.At
			}
			if ev.Kind == cluster.MemberReachable {
				t.flaps = append(t.flaps, ev.At)
			}
			t.mu.Unlock()
		}
	}
}

// followSupervisors records supervisor restarts: a metric, an event and a
// span from the child's exit to its replacement.
func (t *Telemetry) followSupervisors(ctx context.Context, sub *supervision.Subscription) {
	if sub == nil {
		return
	}
	defer sub.Close()
	exits := map[string]time.Time{} // supervisor/child -> when it terminated
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			now := time.Now()
			switch e := ev.(type) {
			case supervision.ChildTerminated:
				if len(exits) > 4096 {
					clear(exits)
				}
				exits[actor.PIDString(e.Supervisor)+"/"+e.ID] = now
			case supervision.ChildRestarted:
				k := actor.PIDString(e.Supervisor) + "/" + e.ID
				start, ok := exits[k]
				delete(exits, k)
				if !ok {
					start = now
				}
				if m := t.metrics.Load(); m != nil {
					m.restarts.Add(ctx, 1, metric.WithAttributes(attribute.String("child", e.ID)))
				}
				ev := Event{Kind: "supervisor", Message: fmt.Sprintf("%s restarted child %s (%v)", actor.PIDString(e.Supervisor), e.ID, e.Reason)}
				if tg := t.tracing.Load(); tg != nil && tg.sampleRoot(trace.TraceID{}) {
					_, span := tg.tr.Start(context.Background(), "supervisor.restart "+e.ID, trace.WithTimestamp(start),
						trace.WithAttributes(attribute.String(AttrMember, t.member), attribute.String(AttrChild, e.ID),
							attribute.String(AttrReason, e.Reason.String()), attribute.String(AttrTarget, actor.PIDString(e.PID))))
					ev.TraceID = span.SpanContext().TraceID().String()
					span.End()
				}
				t.rec.event(ev)
			case supervision.IntensityExceeded:
				if m := t.metrics.Load(); m != nil {
					m.intensity.Add(ctx, 1)
				}
				t.rec.event(Event{Kind: "supervisor", Message: fmt.Sprintf("%s exceeded its restart intensity (%d in %v)", actor.PIDString(e.Supervisor), e.MaxRestarts, e.Period)})
			}
		}
	}
}

// --- hooks for the layers to come ---

// StartServiceCall starts the span of a call to a service (package
// service uses it; it is here so that the layer to come needs no change
// in telemetry): ctx's trace is its parent, and the returned context's
// actor headers carry it to the instance. Call end with the call's error.
func (t *Telemetry) StartServiceCall(ctx context.Context, service, method string) (context.Context, func(err error)) {
	start := time.Now()
	ctx, span := t.startClientSpan(ctx, "service.call "+service, attribute.String(AttrService, service), attribute.String(AttrMethod, method))
	return ctx, func(err error) {
		if span != nil {
			endSpan(span, err)
		}
		if m := t.metrics.Load(); m != nil {
			m.serviceDur.Record(context.Background(), time.Since(start).Seconds(),
				metric.WithAttributes(attribute.String("service", service), attribute.String("outcome", outcome(err))))
		}
	}
}

// StartPublish starts the span of a publish to a topic (package pubsub
// uses it): subscribers' handlers become its children through the headers
// of the returned context. Call end once the publish was handed over.
func (t *Telemetry) StartPublish(ctx context.Context, topic string) (context.Context, func(err error)) {
	ctx, span := t.startClientSpan(ctx, "pubsub.publish "+topic, attribute.String(AttrTopic, topic))
	if m := t.metrics.Load(); m != nil {
		m.published.Add(context.Background(), 1, metric.WithAttributes(attribute.String("topic", topic)))
	}
	return ctx, func(err error) {
		if span != nil {
			endSpan(span, err)
		}
	}
}

// CacheLookup counts one lookup of cache, a hit or a miss (package cache
// feeds it).
func (t *Telemetry) CacheLookup(cache string, hit bool) {
	if m := t.metrics.Load(); m != nil {
		r := "miss"
		if hit {
			r = "hit"
		}
		m.cacheRequests.Add(context.Background(), 1, metric.WithAttributes(attribute.String("cache", cache), attribute.String("result", r)))
	}
}

// ReplicationLag records how long a CRDT update took to reach this member
// (the CRDT replicator feeds it).
func (t *Telemetry) ReplicationLag(key string, lag time.Duration) {
	if m := t.metrics.Load(); m != nil {
		m.replLag.Record(context.Background(), lag.Seconds())
	}
	_ = key
}

// startClientSpan starts a client span under ctx's trace (or a new one
// when this member may start traces) and puts its context in ctx's
// headers; span is nil when nothing is traced.
func (t *Telemetry) startClientSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	tg := t.tracing.Load()
	if tg == nil {
		return ctx, nil
	}
	pctx, inTrace := tg.parent(ctx, actor.HeadersFrom(ctx))
	if !inTrace && !tg.rootsPossible() {
		return ctx, nil
	}
	sctx, span := tg.tr.Start(pctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, attribute.String(AttrMember, t.member))...))
	return actor.WithHeaders(sctx, tg.inject(sctx, nil)), span
}

// HealthCheck reports the health of something on this member (a service
// instance, a connection): nil when healthy. It is called for /health with
// a short deadline and must honour ctx.
type HealthCheck func(ctx context.Context) error

// RegisterHealthCheck adds a named check to this member's health report
// (package service registers its instances' checks here). A nil check
// removes it.
func (t *Telemetry) RegisterHealthCheck(name string, check HealthCheck) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if check == nil {
		delete(t.services, name)
		return
	}
	t.services[name] = check
}

// listenTCP binds addr, naming it in the error.
func listenTCP(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("telemetry: HTTP listener on %s: %w", addr, err)
	}
	return ln, nil
}
