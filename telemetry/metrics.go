package telemetry

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
)

// metrics are the OpenTelemetry instruments of one started Telemetry,
// exported for Prometheus through a registry of its own (never the
// process-wide default one).
type metrics struct {
	t        *Telemetry
	mp       *sdkmetric.MeterProvider
	reg      *prometheus.Registry
	meter    metric.Meter
	selfAddr string

	actorCallDur  metric.Float64Histogram
	grainCallDur  metric.Float64Histogram
	grainActs     metric.Int64Counter
	grainDeacts   metric.Int64Counter
	grainActive   metric.Int64UpDownCounter
	memberEvents  metric.Int64Counter
	splitBrain    metric.Int64Counter
	restarts      metric.Int64Counter
	intensity     metric.Int64Counter
	cacheRequests metric.Int64Counter
	replLag       metric.Float64Histogram
	serviceDur    metric.Float64Histogram
	published     metric.Int64Counter

	okLocal, errLocal, okRemote, errRemote metric.MeasurementOption
}

// latencyBuckets are the call duration histograms' bounds, in seconds:
// 10µs to 10s.
var latencyBuckets = []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newMetrics(t *Telemetry, res *resource.Resource) (*metrics, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	m := &metrics{t: t, mp: mp, reg: reg, meter: mp.Meter("github.com/foundation-go/foundation")}
	if t.sys != nil {
		m.selfAddr = t.sys.Address()
	}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := m.meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(latencyBuckets...))
		check(err)
		return h
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		check(err)
		return c
	}
	m.actorCallDur = hist("foundation.actor.call.duration", "Duration of actor Calls made on this member, by outcome and target (local or remote).")
	m.grainCallDur = hist("foundation.grain.call.duration", "Duration of grain calls made on this member, retries included, by kind and outcome.")
	m.grainActs = counter("foundation.grain.activations", "{activation}", "Grain activations on this member, by kind and outcome.")
	m.grainDeacts = counter("foundation.grain.passivations", "{activation}", "Grain activations ended on this member (idle passivation, moved, stopped), by kind and reason.")
	var gerr error
	m.grainActive, gerr = m.meter.Int64UpDownCounter("foundation.grain.active", metric.WithUnit("{activation}"), metric.WithDescription("Live grain activations on this member, by kind."))
	check(gerr)
	m.memberEvents = counter("foundation.cluster.membership.events", "{event}", "Membership events seen by this member, by kind.")
	m.splitBrain = counter("foundation.cluster.split_brain.decisions", "{decision}", "Split-brain resolver decisions taken on this member: down_others (this side survives), down_self, fenced.")
	m.restarts = counter("foundation.supervisor.restarts", "{restart}", "Children restarted by supervisors on this member, by child id.")
	m.intensity = counter("foundation.supervisor.intensity_exceeded", "{event}", "Supervisors on this member that exceeded their restart intensity.")
	m.cacheRequests = counter("foundation.cache.requests", "{request}", "Cache lookups, by cache and result (hit or miss). Fed by Telemetry.CacheLookup.")
	m.replLag = hist("foundation.crdt.replication.lag", "Time from a CRDT update to its delta being applied on this member. Fed by Telemetry.ReplicationLag.")
	m.serviceDur = hist("foundation.service.call.duration", "Duration of service calls made on this member. Fed by Telemetry.StartServiceCall.")
	m.published = counter("foundation.pubsub.published", "{message}", "Messages published on this member, by topic. Fed by Telemetry.StartPublish.")

	messages, err := m.meter.Int64ObservableCounter("foundation.actor.messages", metric.WithUnit("{message}"),
		metric.WithDescription("User messages handled by this member's processes, by process kind."))
	check(err)
	calls, err := m.meter.Int64ObservableCounter("foundation.actor.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls handled by this member's Servers, by process kind."))
	check(err)
	processes, err := m.meter.Int64ObservableGauge("foundation.actor.processes", metric.WithUnit("{process}"),
		metric.WithDescription("Live processes on this member, by kind."))
	check(err)
	depth, err := m.meter.Int64ObservableGauge("foundation.actor.mailbox.depth", metric.WithUnit("{message}"),
		metric.WithDescription("Messages waiting in the mailboxes of this member's processes, by kind: the sum (stat=sum) and the largest mailbox (stat=max)."))
	check(err)
	// One walk of the processes per collection feeds all four.
	_, err = m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, k := range t.kinds() {
			kind := attribute.String("kind", k.Kind)
			o.ObserveInt64(messages, int64(k.Messages), metric.WithAttributes(kind))
			if k.Calls > 0 {
				o.ObserveInt64(calls, int64(k.Calls), metric.WithAttributes(kind))
			}
			o.ObserveInt64(processes, int64(k.Processes), metric.WithAttributes(kind))
			o.ObserveInt64(depth, int64(k.MailboxDepth), metric.WithAttributes(kind, attribute.String("stat", "sum")))
			o.ObserveInt64(depth, int64(k.MaxMailbox), metric.WithAttributes(kind, attribute.String("stat", "max")))
		}
		return nil
	}, messages, calls, processes, depth)
	check(err)
	_, err = m.meter.Int64ObservableGauge("foundation.cluster.members", metric.WithUnit("{member}"),
		metric.WithDescription("Members in this member's view, by status (up, unreachable)."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			if t.ms == nil {
				return nil
			}
			up, unreachable := 0, 0
			for _, mem := range t.ms.Members() {
				if mem.Status == cluster.Up {
					up++
				} else {
					unreachable++
				}
			}
			o.Observe(int64(up), metric.WithAttributes(attribute.String("status", "up")))
			o.Observe(int64(unreachable), metric.WithAttributes(attribute.String("status", "unreachable")))
			return nil
		}))
	check(err)
	// No unit: the exporter would name a gauge of unit "1"
	// foundation_cluster_ready_ratio.
	_, err = m.meter.Int64ObservableGauge("foundation.cluster.ready",
		metric.WithDescription("1 when this member is ready (/readyz), else 0; the label status is its own status."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			if t.ms == nil {
				return nil
			}
			v := int64(0)
			if ok, _ := t.ready(); ok {
				v = 1
			}
			o.Observe(v, metric.WithAttributes(attribute.String("status", t.ms.Status().String())))
			return nil
		}))
	check(err)
	m.okLocal = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "ok"), attribute.String("target", "local")))
	m.errLocal = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "error"), attribute.String("target", "local")))
	m.okRemote = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "ok"), attribute.String("target", "remote")))
	m.errRemote = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "error"), attribute.String("target", "remote")))
	if err := errors.Join(errs...); err != nil {
		_ = mp.Shutdown(context.Background())
		return nil, err
	}
	return m, nil
}

func (m *metrics) actorCall(target *actor.PID, d time.Duration, err error) {
	local := target == nil || target.Address == m.selfAddr || target.Address == "nonhost"
	var opt metric.MeasurementOption
	switch {
	case local && err == nil:
		opt = m.okLocal
	case local:
		opt = m.errLocal
	case err == nil:
		opt = m.okRemote
	default:
		opt = m.errRemote
	}
	m.actorCallDur.Record(context.Background(), d.Seconds(), opt)
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, grain.ErrTimeout), errors.Is(err, actor.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}

func (m *metrics) grainCall(kind string, d time.Duration, err error) {
	m.grainCallDur.Record(context.Background(), d.Seconds(), metric.WithAttributes(attribute.String("kind", kind), attribute.String("outcome", outcome(err))))
}

func (m *metrics) grainActivated(kind string, err error) {
	oc := "ok"
	if err != nil {
		oc = "failed"
	}
	m.grainActs.Add(context.Background(), 1, metric.WithAttributes(attribute.String("kind", kind), attribute.String("outcome", oc)))
	if err == nil {
		m.grainActive.Add(context.Background(), 1, metric.WithAttributes(attribute.String("kind", kind)))
	}
}

func (m *metrics) grainDeactivated(kind, reason string) {
	if strings.HasPrefix(reason, "claimed") {
		reason = "claimed"
	}
	m.grainDeacts.Add(context.Background(), 1, metric.WithAttributes(attribute.String("kind", kind), attribute.String("reason", reason)))
	m.grainActive.Add(context.Background(), -1, metric.WithAttributes(attribute.String("kind", kind)))
}

func (m *metrics) membershipEvent(ev cluster.MemberEvent) {
	ctx := context.Background()
	m.memberEvents.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", ev.Kind.String())))
	if d := splitBrainDecision(ev); d != "" {
		m.splitBrain.Add(ctx, 1, metric.WithAttributes(attribute.String("decision", d)))
	}
}

// splitBrainDecision classifies a membership event that records a
// split-brain resolver decision ("" for other events).
func splitBrainDecision(ev cluster.MemberEvent) string {
	switch {
	case ev.Kind == cluster.Removed && strings.HasPrefix(ev.Reason, "downed by the split-brain resolver"):
		return "down_others"
	case ev.Kind == cluster.SelfChanged && ev.Self == cluster.Downed:
		return "down_self"
	case ev.Kind == cluster.SelfChanged && ev.Self == cluster.Fenced:
		return "fenced"
	}
	return ""
}

func (m *metrics) shutdown(ctx context.Context) error { return m.mp.Shutdown(ctx) }
