package foundation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/telemetry"
)

// Errors of the context values.
var (
	// ErrContextTooLarge: the values a context carries exceed
	// MaxContextBytes. It also matches actor.ErrHeadersTooLarge, which a
	// Call, Send or grain call returns when the values together
	// with the trace context do not fit.
	ErrContextTooLarge = errors.New("foundation: context values too large")
	// ErrInvalidContext: a context key is empty or reserved.
	ErrInvalidContext = errors.New("foundation: invalid context value")
)

// MaxContextBytes bounds the values WithContext puts on a context: the sum
// of the lengths of keys and values, every value the context carries
// counted. It is actor.MaxHeaderBytes less 4 KiB kept for the trace
// context and baggage, which travel in the same headers.
const MaxContextBytes = actor.MaxHeaderBytes - 4<<10

// WithContext returns a context carrying values. They travel in message
// headers with every actor.Call, System.Send, grain Call and Tell made
// with the context (or one derived from it), on this member or another;
// the handler reads them from its context — actor.ContextOf(p) in a Server
// or plain actor, the *grain.Context in a grain — with ContextValue, and
// passes them on by making its own calls with that context. Values added
// later win over earlier ones with the same key.
//
// Keys must be non-empty and not one of the W3C headers traceparent,
// tracestate and baggage (put OpenTelemetry baggage on the context with
// go.opentelemetry.io/otel/baggage instead: it travels too). Past
// MaxContextBytes it returns ErrContextTooLarge and ctx unchanged: carry
// data in messages, not in the context.
func WithContext(ctx context.Context, values map[string]string) (context.Context, error) {
	merged := maps.Clone(map[string]string(actor.HeadersFrom(ctx)))
	if merged == nil {
		merged = make(map[string]string, len(values))
	}
	for k, v := range values {
		switch strings.ToLower(k) {
		case "":
			return ctx, fmt.Errorf("%w: empty key", ErrInvalidContext)
		case telemetry.HeaderTraceparent, telemetry.HeaderTracestate, telemetry.HeaderBaggage:
			return ctx, fmt.Errorf("%w: key %q is reserved for the W3C trace context", ErrInvalidContext, k)
		}
		merged[k] = v
	}
	n := 0
	for k, v := range merged {
		n += len(k) + len(v)
	}
	if n > MaxContextBytes {
		return ctx, fmt.Errorf("%w: %d bytes, at most %d (foundation.MaxContextBytes): %w", ErrContextTooLarge, n, MaxContextBytes, actor.ErrHeadersTooLarge)
	}
	return actor.WithHeaders(ctx, values), nil
}

// ContextValue returns the value of key the context carries (put there
// with WithContext on this member or by a caller on another), or "".
func ContextValue(ctx context.Context, key string) string {
	return actor.HeadersFrom(ctx)[key]
}

// ContextValues returns a copy of every value the context carries, the
// W3C trace context left out.
func ContextValues(ctx context.Context) map[string]string {
	out := maps.Clone(map[string]string(actor.HeadersFrom(ctx)))
	for _, k := range []string{telemetry.HeaderTraceparent, telemetry.HeaderTracestate, telemetry.HeaderBaggage} {
		delete(out, k)
	}
	return out
}
