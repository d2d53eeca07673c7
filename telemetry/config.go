package telemetry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
)

// Errors of this package.
var (
	// ErrInvalidConfig: a Config field is out of range; the message names
	// it and what is allowed.
	ErrInvalidConfig = errors.New("telemetry: invalid config")
	// ErrNotStarted: the Telemetry has not started, or has stopped.
	ErrNotStarted = errors.New("telemetry: not started")
	// ErrControl: a member did not answer a cluster-wide query (its
	// message names the member and the cause).
	ErrControl = errors.New("telemetry: cluster query failed")
	// ErrNotFound: no member recorded spans of the trace asked for.
	ErrNotFound = errors.New("telemetry: not found")
	// ErrInvalidTraceID: a trace id is not 32 lower-case hex digits (or is
	// all zero, which W3C trace context forbids).
	ErrInvalidTraceID = errors.New("telemetry: invalid trace id")
)

// Tracing is a tracing mode.
type Tracing uint8

const (
	// TracingOff: no spans, no trace context added to messages (context
	// values still travel). The zero value.
	TracingOff Tracing = iota
	// TracingFollow: spans only for work whose caller sampled its trace
	// (a traceparent with the sampled flag, from an HTTP front or another
	// member); this member starts no trace of its own. Costs nothing for
	// calls outside a trace.
	TracingFollow
	// TracingOn: TracingFollow, and new traces are started for calls made
	// outside one, a fraction Config.SampleRatio of them sampled.
	TracingOn
)

func (t Tracing) String() string {
	switch t {
	case TracingOff:
		return "off"
	case TracingFollow:
		return "follow"
	case TracingOn:
		return "on"
	}
	return "tracing(" + strconv.Itoa(int(t)) + ")"
}

// ParseTracing parses "off", "follow" or "on".
func ParseTracing(s string) (Tracing, error) {
	switch s {
	case "off":
		return TracingOff, nil
	case "follow":
		return TracingFollow, nil
	case "on":
		return TracingOn, nil
	}
	return 0, fmt.Errorf("%w: tracing %q must be off, follow or on", ErrInvalidConfig, s)
}

// Advisor is the performance advisor's mode.
type Advisor uint8

const (
	// AdvisorOff: no recommendations. The zero value.
	AdvisorOff Advisor = iota
	// AdvisorRecommend: recommendations are listed in /health and on the
	// dashboard; nothing is changed.
	AdvisorRecommend
	// AdvisorApply: recommendations, and the safe ones are applied to the
	// registered Tunables (within their bounds).
	AdvisorApply
)

func (a Advisor) String() string {
	switch a {
	case AdvisorOff:
		return "off"
	case AdvisorRecommend:
		return "recommend"
	case AdvisorApply:
		return "apply"
	}
	return "advisor(" + strconv.Itoa(int(a)) + ")"
}

// ParseAdvisor parses "off", "recommend" or "apply".
func ParseAdvisor(s string) (Advisor, error) {
	switch s {
	case "off":
		return AdvisorOff, nil
	case "recommend":
		return AdvisorRecommend, nil
	case "apply":
		return AdvisorApply, nil
	}
	return 0, fmt.Errorf("%w: advisor %q must be off, recommend or apply", ErrInvalidConfig, s)
}

// DefaultRecorderSize is the flight recorder's capacity in spans when
// Config.RecorderSize is 0 (events get a quarter of it).
const DefaultRecorderSize = 4096

// Config configures a Telemetry. The zero value collects nothing and
// serves nothing; foundation.Start fills it from the telemetry section of
// the cluster configuration (docs/reference/telemetry.md).
type Config struct {
	// Address is the host:port of the member's HTTP listener (/metrics,
	// /healthz, /readyz, /health, /debug/..., /dashboard); port 0 picks a
	// free port (Telemetry.Address tells which). "": no listener.
	Address string
	// Handlers are more routes of the HTTP listener, by ServeMux pattern
	// ("POST /admin/restore"): the node's administration endpoints.
	Handlers map[string]http.Handler
	// Metrics collects OpenTelemetry metrics and serves them for
	// Prometheus on /metrics. Default false.
	Metrics bool
	// Tracing is the tracing mode. Default TracingOff.
	Tracing Tracing
	// SampleRatio is the fraction of the traces this member starts that
	// are sampled (recorded and exported), 0..1, with TracingOn. Traces
	// started elsewhere follow their caller's decision. Debug mode
	// (SetDebug) samples every trace while it is on.
	SampleRatio float64
	// RecorderSize is how many finished spans the flight recorder keeps
	// (the oldest go first); events get a quarter as many. 0 means
	// DefaultRecorderSize; at most 1<<20.
	RecorderSize int
	// ExpectedMembers is the cluster size /health compares the view with.
	// 0: unknown (not compared).
	ExpectedMembers int
	// Advisor is the performance advisor's mode. Default AdvisorOff.
	Advisor Advisor
	// SampleEvery is how often rates, latency percentiles and the advisor
	// are computed (and the dashboard updated). 0 means 1s.
	SampleEvery time.Duration
	// Cluster is the cluster's name, a resource attribute of every span
	// and metric. "" means "foundation".
	Cluster string
	// Logger logs the telemetry's own problems (an exporter that fails).
	// Nil: none.
	Logger *zap.Logger
	// LookupEnv reads the OTEL_* variables that configure OTLP export:
	// OTEL_TRACES_EXPORTER (otlp or none), OTEL_EXPORTER_OTLP_ENDPOINT,
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL and
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (http/protobuf or grpc),
	// OTEL_SERVICE_NAME. Nil: os.LookupEnv. (The exporters read their
	// other OTEL_EXPORTER_OTLP_* variables — headers, timeouts,
	// certificates — from the process environment themselves.)
	LookupEnv func(string) (string, bool)
	// SpanExporter, when set, receives every sampled span too (batched),
	// beside OTLP export and the flight recorder. For tests and custom
	// back-ends. Nil: none.
	SpanExporter sdktrace.SpanExporter
}

// Validate reports every out-of-range field, each naming the field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...)))
	}
	if c.Address != "" {
		host, port, err := net.SplitHostPort(c.Address)
		if err != nil {
			bad("Address", "%q is not host:port (e.g. 127.0.0.1:7352, or :0 for a free port)", c.Address)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("Address", "%q: port must be 0..65535", c.Address)
		} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
			bad("Address", "%q: host must be an IP address (or empty: every interface)", c.Address)
		}
	}
	if c.Tracing > TracingOn {
		bad("Tracing", "%d is not TracingOff, TracingFollow or TracingOn", c.Tracing)
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 || c.SampleRatio != c.SampleRatio {
		bad("SampleRatio", "%v must be in 0..1", c.SampleRatio)
	}
	if c.RecorderSize < 0 || c.RecorderSize > 1<<20 {
		bad("RecorderSize", "%d must be 0..%d (0: %d)", c.RecorderSize, 1<<20, DefaultRecorderSize)
	}
	if c.ExpectedMembers < 0 {
		bad("ExpectedMembers", "%d must be >= 0 (0: unknown)", c.ExpectedMembers)
	}
	if c.Advisor > AdvisorApply {
		bad("Advisor", "%d is not AdvisorOff, AdvisorRecommend or AdvisorApply", c.Advisor)
	}
	if c.SampleEvery < 0 {
		bad("SampleEvery", "%v must be >= 0 (0: 1s)", c.SampleEvery)
	}
	return errors.Join(errs...)
}
