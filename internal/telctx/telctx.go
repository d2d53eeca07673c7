// Package telctx marks contexts for telemetry across Foundation's layers
// without a public API: a layer that traced a hop itself (a grain call)
// marks the context it hands to the layer below (the actor Call to the
// activation), so that the hop is not traced twice.
package telctx

import "context"

type quietKey struct{}

// Quiet returns ctx marked: an actor Call made with it carries ctx's trace
// context on but starts no span of its own.
func Quiet(ctx context.Context) context.Context {
	if IsQuiet(ctx) {
		return ctx
	}
	return context.WithValue(ctx, quietKey{}, true)
}

// IsQuiet reports whether ctx was marked by Quiet.
func IsQuiet(ctx context.Context) bool {
	q, _ := ctx.Value(quietKey{}).(bool)
	return q
}
