package telemetry

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/internal/telctx"
)

// Span attribute keys set by Foundation.
const (
	AttrMember        = "foundation.member"
	AttrTarget        = "foundation.target"
	AttrMessageType   = "foundation.message.type"
	AttrActorKind     = "foundation.actor.kind"
	AttrGrainKind     = "foundation.grain.kind"
	AttrGrainIdentity = "foundation.grain.identity"
	AttrService       = "foundation.service"
	AttrMethod        = "foundation.method"
	AttrTopic         = "foundation.topic"
	AttrChild         = "foundation.supervisor.child"
	AttrReason        = "foundation.reason"
)

// W3C trace context headers, as they travel in message headers.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
	HeaderBaggage     = "baggage"
)

// tracing is the tracing machinery of one started Telemetry.
type tracing struct {
	t      *Telemetry
	mode   Tracing
	tp     *sdktrace.TracerProvider
	tr     trace.Tracer
	prop   propagation.TextMapPropagator
	member string
	ratio  atomic.Uint64 // math.Float64bits of the sample ratio
}

// propagator is the W3C trace context and baggage, as OpenTelemetry's
// TraceContext and Baggage propagators carry them in headers.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

func newTracing(t *Telemetry, res *resource.Resource) (*tracing, error) {
	tg := &tracing{t: t, mode: t.cfg.Tracing, prop: propagator, member: t.member}
	tg.ratio.Store(math.Float64bits(t.cfg.SampleRatio))
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler{tg}),
		sdktrace.WithSpanProcessor(t.rec),
	}
	exp, err := otlpExporter(t.lookupEnv)
	if err != nil {
		return nil, err
	}
	if exp != nil {
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)))
		t.log.Info("exporting spans over OTLP")
	}
	if t.cfg.SpanExporter != nil {
		opts = append(opts, sdktrace.WithBatcher(t.cfg.SpanExporter, sdktrace.WithBatchTimeout(100*time.Millisecond)))
	}
	tg.tp = sdktrace.NewTracerProvider(opts...)
	tg.tr = tg.tp.Tracer("github.com/foundation-go/foundation")
	return tg, nil
}

// otlpExporter returns the OTLP span exporter the OTEL_* variables ask
// for, or nil: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint set and
// OTEL_TRACES_EXPORTER unset. Protocol http/protobuf (the default) or grpc.
func otlpExporter(env func(string) (string, bool)) (sdktrace.SpanExporter, error) {
	get := func(k string) string { v, _ := env(k); return strings.TrimSpace(v) }
	endpoint := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	generic := false
	if endpoint == "" {
		endpoint, generic = get("OTEL_EXPORTER_OTLP_ENDPOINT"), true
	}
	switch get("OTEL_TRACES_EXPORTER") {
	case "none":
		return nil, nil
	case "", "otlp":
		if endpoint == "" && get("OTEL_TRACES_EXPORTER") == "" {
			return nil, nil
		}
	default:
		return nil, fmt.Errorf("%w: OTEL_TRACES_EXPORTER %q: only otlp and none are supported", ErrInvalidConfig, get("OTEL_TRACES_EXPORTER"))
	}
	proto := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = get("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	ctx := context.Background()
	switch proto {
	case "grpc":
		var opts []otlptracegrpc.Option
		if endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		}
		return otlptracegrpc.New(ctx, opts...)
	case "", "http/protobuf":
		var opts []otlptracehttp.Option
		if endpoint != "" {
			if generic {
				// The generic endpoint is a base URL (OTLP spec).
				endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("%w: OTLP protocol %q: want http/protobuf or grpc", ErrInvalidConfig, proto)
}

// sampler is parent-based: a span with a parent follows its sampled flag;
// a root is sampled always in debug mode, never with TracingFollow, and
// by trace id with the sample ratio with TracingOn.
type sampler struct{ tg *tracing }

func (s sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	psc := trace.SpanContextFromContext(p.ParentContext)
	res := sdktrace.SamplingResult{Tracestate: psc.TraceState()}
	if psc.IsValid() {
		if psc.IsSampled() {
			res.Decision = sdktrace.RecordAndSample
		}
		return res
	}
	if s.tg.sampleRoot(p.TraceID) {
		res.Decision = sdktrace.RecordAndSample
	}
	return res
}

func (s sampler) Description() string { return "foundation.ParentBased(ratio)" }

func (tg *tracing) sampleRoot(id trace.TraceID) bool {
	if tg.t.debug.Load() {
		return true
	}
	if tg.mode != TracingOn {
		return false
	}
	r := math.Float64frombits(tg.ratio.Load())
	switch {
	case r >= 1:
		return true
	case r <= 0:
		return false
	}
	x := binary.BigEndian.Uint64(id[8:16]) >> 1
	return x < uint64(r*(1<<63))
}

// rootsPossible reports whether a call outside any trace may start one:
// when false, such calls skip tracing altogether.
func (tg *tracing) rootsPossible() bool {
	return tg.t.debug.Load() || (tg.mode == TracingOn && tg.ratio.Load() != 0)
}

// parent finds the trace a send belongs to: the span in ctx, else a
// traceparent in the headers ctx carries. ok is false outside a trace.
func (tg *tracing) parent(ctx context.Context, h actor.Headers) (context.Context, bool) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, true
	}
	if h[HeaderTraceparent] == "" {
		return ctx, false
	}
	ctx = tg.prop.Extract(ctx, propagation.MapCarrier(h))
	return ctx, trace.SpanContextFromContext(ctx).IsValid()
}

// inject returns h with ctx's trace context (and baggage), as a new map.
func (tg *tracing) inject(ctx context.Context, h actor.Headers) actor.Headers {
	out := make(actor.Headers, len(h)+2)
	for k, v := range h {
		out[k] = v
	}
	tg.prop.Inject(ctx, propagation.MapCarrier(out))
	return out
}

// --- the actor.Observer ---

// actorObserver is the actor.Observer of a Telemetry: spans for calls and
// handlers, call latency, before Start nothing.
type actorObserver struct{ t *Telemetry }

var _ actor.ErrorObserver = actorObserver{}

// callToken carries a traced call's span and start to Replied.
type callToken struct {
	span  trace.Span
	start time.Duration // since the Telemetry's epoch
}

// timedCall is the token of an untraced call that is timed: its start
// since the Telemetry's epoch.
type timedCall time.Duration

// timeOneIn is how many untraced calls the latency summary's histogram
// samples one of when metrics are off (a call is timed with two clock
// reads, a tenth of a local Call where the clock is slow, as kvm-clock
// is). With metrics on every call is timed: Prometheus's histograms
// count every call.
const timeOneIn = 16

func (o actorObserver) Send(ctx context.Context, target *actor.PID, msg any, call bool, h actor.Headers) (actor.Headers, any) {
	tg := o.t.tracing.Load()
	var timed any
	if call && (o.t.metrics.Load() != nil || rand.Uint32()%timeOneIn == 0) {
		timed = timedCall(o.t.now())
	}
	if tg == nil {
		return h, timed
	}
	pctx, inTrace := tg.parent(ctx, h)
	if !inTrace && !tg.rootsPossible() {
		return h, timed
	}
	if !call || telctx.IsQuiet(ctx) {
		// A tell starts no span, and a hop traced by the layer above
		// (a grain call) none of its own: both carry the trace on.
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return h, timed // h carries the traceparent already, if any
		}
		return tg.inject(ctx, h), timed
	}
	sctx, span := tg.tr.Start(pctx, "actor.call", trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(attribute.String(AttrMember, tg.member), attribute.String(AttrTarget, actor.PIDString(target)),
			attribute.String(AttrMessageType, typeName(msg)))
	}
	return tg.inject(sctx, h), callToken{span: span, start: o.t.now()}
}

func (o actorObserver) Replied(tok any, target *actor.PID, _ any, err error) {
	o.t.stats.actorCalls.add(err != nil)
	var start time.Duration
	switch tk := tok.(type) {
	case timedCall:
		start = time.Duration(tk)
	case callToken:
		endSpan(tk.span, err)
		start = tk.start
	default:
		return // not timed
	}
	d := o.t.now() - start
	if m := o.t.metrics.Load(); m != nil {
		m.actorCall(target, d, err)
	}
	o.t.stats.actorCalls.took(d)
}

// grainIdentifier is implemented by grain activations.
type grainIdentifier interface {
	GrainIdentity() (kind, identity string)
}

// receiveToken carries a handler's span to Received.
type receiveToken struct{ span trace.Span }

func (o actorObserver) Receive(self *actor.PID, kind string, b any, msg any, h actor.Headers) (context.Context, any) {
	tg := o.t.tracing.Load()
	if tg == nil || h[HeaderTraceparent] == "" {
		return nil, nil
	}
	ctx := actor.WithHeaders(context.Background(), h)
	ctx = tg.prop.Extract(ctx, propagation.MapCarrier(h))
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ctx, nil
	}
	name, attrs := "actor.receive", []attribute.KeyValue{attribute.String(AttrMember, tg.member),
		attribute.String(AttrActorKind, kind), attribute.String(AttrMessageType, typeName(msg))}
	if g, ok := b.(grainIdentifier); ok {
		gk, gid := g.GrainIdentity()
		name = "grain.receive"
		attrs = append(attrs, attribute.String(AttrGrainKind, gk), attribute.String(AttrGrainIdentity, gid))
	}
	ctx, span := tg.tr.Start(ctx, name+" "+shortKind(kind), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	_ = self
	return ctx, receiveToken{span}
}

func (o actorObserver) Received(tok any) {
	if rt, ok := tok.(receiveToken); ok {
		rt.span.End()
	}
}

// ReceivedError ends the handler's span with the error it answered with
// (or its crash): the span of the hop where a failure began is marked.
func (o actorObserver) ReceivedError(tok any, err error) {
	if rt, ok := tok.(receiveToken); ok {
		endSpan(rt.span, err)
	}
}

// shortKind drops the "grain:" prefix of an activation's kind.
func shortKind(kind string) string { return strings.TrimPrefix(kind, "grain:") }

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// --- the grain.Observer ---

// grainObserver is the grain.Observer of a Telemetry.
type grainObserver struct{ t *Telemetry }

type grainToken struct{ span trace.Span }

func (o grainObserver) CallStart(ctx context.Context, kind, identity string, msg any) (context.Context, any) {
	tg := o.t.tracing.Load()
	if tg == nil {
		return ctx, nil
	}
	h := actor.HeadersFrom(ctx)
	pctx, inTrace := tg.parent(ctx, h)
	if !inTrace && !tg.rootsPossible() {
		return ctx, nil
	}
	sctx, span := tg.tr.Start(pctx, "grain.call "+kind, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(attribute.String(AttrMember, tg.member), attribute.String(AttrGrainKind, kind),
			attribute.String(AttrGrainIdentity, identity), attribute.String(AttrMessageType, typeName(msg)))
	}
	// The trace context goes in the headers the call carries to the
	// activation, on this member or another.
	return actor.WithHeaders(sctx, tg.inject(sctx, nil)), grainToken{span}
}

func (o grainObserver) CallDone(tok any, kind string, d time.Duration, err error) {
	if gt, ok := tok.(grainToken); ok {
		endSpan(gt.span, err)
	}
	if m := o.t.metrics.Load(); m != nil {
		m.grainCall(kind, d, err)
	}
	o.t.stats.grainCalls.add(err != nil)
	o.t.stats.grainCalls.took(d)
}

func (o grainObserver) Activated(ctx context.Context, kind, identity string, start time.Time, err error) {
	if m := o.t.metrics.Load(); m != nil {
		m.grainActivated(kind, err)
	}
	msg := "activated " + kind + "/" + identity
	if err != nil {
		msg = "activation of " + kind + "/" + identity + " failed: " + err.Error()
	}
	ev := Event{Kind: "grain", Message: msg}
	if tg := o.t.tracing.Load(); tg != nil {
		if pctx, ok := tg.parent(ctx, actor.HeadersFrom(ctx)); ok && trace.SpanContextFromContext(pctx).IsSampled() {
			_, span := tg.tr.Start(pctx, "grain.activate "+kind, trace.WithTimestamp(start),
				trace.WithAttributes(attribute.String(AttrMember, tg.member), attribute.String(AttrGrainKind, kind),
					attribute.String(AttrGrainIdentity, identity)))
			ev.TraceID = span.SpanContext().TraceID().String()
			endSpan(span, err)
		}
	}
	if rec := o.t.rec; rec != nil && o.t.debug.Load() {
		rec.event(ev)
	}
}

func (o grainObserver) Deactivated(kind, identity, reason string, lived time.Duration) {
	if m := o.t.metrics.Load(); m != nil {
		m.grainDeactivated(kind, reason)
	}
	if rec := o.t.rec; rec != nil && o.t.debug.Load() {
		rec.event(Event{Kind: "grain", Message: fmt.Sprintf("deactivated %s/%s (%s) after %v", kind, identity, reason, lived.Round(time.Millisecond))})
	}
}
