package migrate

import (
	"context"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/foundation-go/foundation/grain"
)

// bridge is the proto.actor cluster Context of an installed bridge:
// Request(identity, kind, msg) is a Foundation grain Call.
type bridge struct{ h *grain.Host }

var _ pacluster.Context = (*bridge)(nil)

// timeout is the call's: a WithTimeout option, else DefaultRequestTimeout
// (proto.actor's cluster retries within its own; Foundation's grain call
// retries within the deadline).
func timeout(opts []pacluster.GrainCallOption) time.Duration {
	cfg := pacluster.GrainCallConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Timeout > 0 {
		return cfg.Timeout
	}
	return DefaultRequestTimeout
}

// Request calls the Foundation grain (kind, identity) with message and
// returns its reply, like proto.actor's Cluster.Request: at most once, an
// error when the deadline passes.
func (b *bridge) Request(identity, kind string, message any, opts ...pacluster.GrainCallOption) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout(opts))
	defer cancel()
	return grain.Get[any](b.h, kind, identity).Call(ctx, message)
}

// RequestFuture is Request with the reply delivered to a proto.actor
// Future (an error reply as the future's result, as proto.actor's own
// RequestFuture has no other channel for it).
func (b *bridge) RequestFuture(identity, kind string, message any, opts ...pacluster.GrainCallOption) (*pa.Future, error) {
	d := timeout(opts)
	as := b.h.System().ProtoActor()
	f := pa.NewFuture(as, d)
	go func() {
		res, err := b.Request(identity, kind, message, pacluster.WithTimeout(d))
		if err != nil {
			as.Root.Send(f.PID(), err)
			return
		}
		as.Root.Send(f.PID(), res)
	}()
	return f, nil
}
