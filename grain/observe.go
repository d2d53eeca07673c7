package grain

import (
	"context"
	"time"
)

// Observer watches a Host's grains for telemetry: package telemetry
// implements it to trace grain calls and activations across members and to
// count them. Set it in Config.Observer; a Host without one pays a nil
// check per call.
//
// The Host calls it synchronously on the goroutines named below: every
// method must return quickly and must not block or call back into the
// Host. Tokens are the Observer's own values, handed back unchanged.
type Observer interface {
	// CallStart is called on the caller's goroutine when Ref.Call starts.
	// It returns the context the call goes on with — whose actor headers
	// (actor.WithHeaders) carry the trace context to the activation, on
	// whichever member — and a token for CallDone.
	CallStart(ctx context.Context, kind, identity string, msg any) (context.Context, any)
	// CallDone is called on the caller's goroutine when the call returns:
	// d is its duration, retries included, err its error (nil on success).
	CallDone(token any, kind string, d time.Duration, err error)
	// Activated is called on the goroutine that activated (kind,
	// identity) on this member, once OnActivate returned (err is its error,
	// or the spawn's): start is when the activation began, ctx the context
	// of the call that caused it.
	Activated(ctx context.Context, kind, identity string, start time.Time, err error)
	// Deactivated is called on the activation's goroutine once it ended
	// (OnDeactivate returned): reason says why ("idle", "moved", "host
	// stopping", "claimed by another member"), lived how long it ran.
	Deactivated(kind, identity, reason string, lived time.Duration)
}

// callContext is the context a grain's Receive sees during a call: the
// activation's cancellation, with the values of the call's context (its
// headers and trace span, see actor.ContextOf) in front.
type callContext struct {
	context.Context
	vals context.Context
}

func (c callContext) Value(k any) any {
	if v := c.vals.Value(k); v != nil {
		return v
	}
	return c.Context.Value(k)
}
