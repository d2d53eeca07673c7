package migrate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/foundation-go/foundation/grain"
)

// DefaultRequestTimeout bounds a proto.actor-style Request (through
// Cluster.Request) without a WithTimeout option, and an activation's wait
// for its actor's response, as proto.actor's cluster request timeout does
// by default.
const DefaultRequestTimeout = 5 * time.Second

// ErrNotInstalled: a proto.actor grain kind ran on a host whose actor system
// has no bridge (Install was not called and the kind could not install
// it), or Install was given nothing to install on.
var ErrNotInstalled = errors.New("migrate: the proto.actor bridge is not installed")

// KindOptions adjust a migrated kind.
type KindOptions struct {
	// Placement of the kind's activations. Default: Partitioned, which is
	// where proto.actor's disthash identity lookup puts them.
	Placement grain.Placement
	// RequestTimeout bounds how long an activation waits for its actor to
	// respond to a Call: a grain handler does not see its caller's deadline,
	// and an actor that never responds would otherwise hold the
	// activation. Default: DefaultRequestTimeout (proto.actor's request
	// timeout).
	RequestTimeout time.Duration
	// IdleTimeout passivates idle activations (grain.Kind.IdleTimeout).
	// proto.actor keeps activations until their member leaves; the default
	// (0) is grain.DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// GrainKind runs a proto.actor cluster kind, unchanged, as a Foundation
// grain kind of the same name. Each activation spawns k.Props (with its
// cluster middleware) on the member's actor system, with the cluster
// identity set and *cluster.ClusterInit delivered as proto.actor's
// activator does; a grain Call becomes a request to that actor (the reply
// is what it Responds), a Tell a send. Calls the actor makes through
// ClusterInit.Cluster or cluster.GetCluster(system) — Request,
// RequestFuture, generated grain clients — go to Foundation grains (see
// Install). The activation's actor stops when the grain deactivates.
//
// Delivery is Foundation's: a Call is at most once (see grain's doc); the
// actor's reply must be a protobuf message when the caller is on another
// member.
func GrainKind(k *pacluster.Kind, o KindOptions) (grain.Kind, error) {
	if k == nil || k.Props == nil || k.Kind == "" {
		return grain.Kind{}, fmt.Errorf("%w: kind: want a proto.actor cluster.Kind with a name and props (cluster.NewKind)", grain.ErrInvalid)
	}
	if o.RequestTimeout < 0 {
		return grain.Kind{}, fmt.Errorf("%w: KindOptions.RequestTimeout %v: want >= 0 (0: %v)", grain.ErrInvalid, o.RequestTimeout, DefaultRequestTimeout)
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	name, props, rt := k.Kind, k.Props, o.RequestTimeout
	return grain.Kind{
		Name:        name,
		Placement:   o.Placement,
		IdleTimeout: o.IdleTimeout,
		New:         func(string) grain.Grain { return &actorGrain{kind: name, props: props, timeout: rt} },
	}, nil
}

// actorGrain is one activation of a migrated kind.
type actorGrain struct {
	kind    string
	props   *pa.Props
	timeout time.Duration
	as      *pa.ActorSystem
	pid     *pa.PID
}

func (g *actorGrain) OnActivate(ctx *grain.Context) error {
	h := ctx.Host()
	if h == nil {
		return ErrNotInstalled
	}
	if err := install(h); err != nil {
		return err
	}
	g.as = h.System().ProtoActor()
	ci := pacluster.NewClusterIdentity(ctx.Identity(), g.kind)
	props := g.props.Clone(pa.WithOnInit(func(c pa.Context) { pacluster.SetClusterIdentity(c, ci) }))
	pid, err := g.as.Root.SpawnNamed(props, "migrate/"+g.kind+"/"+ctx.Identity())
	if err != nil {
		return fmt.Errorf("migrate: spawning %s/%s: %w", g.kind, ctx.Identity(), err)
	}
	g.pid = pid
	return nil
}

func (g *actorGrain) OnDeactivate(*grain.Context) {
	if g.pid != nil {
		// PoisonFuture waits for the actor's Stopped handling, as a
		// proto.actor member's shutdown does.
		_ = g.as.Root.PoisonFuture(g.pid).Wait()
	}
}

func (g *actorGrain) Receive(ctx *grain.Context, msg any) (any, error) {
	if ctx.IsTell() {
		g.as.Root.Send(g.pid, msg)
		return nil, nil
	}
	timeout := g.timeout
	res, err := g.as.Root.RequestFuture(g.pid, msg, timeout).Result()
	if errors.Is(err, pa.ErrTimeout) {
		return nil, fmt.Errorf("migrate: %s/%s did not respond within %v: %w", g.kind, ctx.Identity(), timeout, context.DeadlineExceeded)
	}
	if err != nil {
		return nil, err
	}
	if e, ok := res.(error); ok {
		return nil, e
	}
	return res, nil
}

// Install makes proto.actor's cluster API work on the member of h: it
// registers a proto.actor Cluster on the member's actor system (never
// started: Foundation is the membership) whose Request and RequestFuture
// call Foundation grains through h, so that code written against
// cluster.GetCluster(system).Request(identity, kind, msg) — and the
// grain clients protoc-gen-go-grain generates — runs unchanged. Migrated
// kinds install it on their first activation; call Install after
// foundation.Start when code outside grains uses the proto.actor API.
// Install is idempotent.
func Install(h *grain.Host) (*pacluster.Cluster, error) {
	if h == nil || h.System() == nil {
		return nil, fmt.Errorf("%w: nil grain host (start the node with grains)", ErrNotInstalled)
	}
	if err := install(h); err != nil {
		return nil, err
	}
	return pacluster.GetCluster(h.System().ProtoActor()), nil
}

// installMu serializes installs (proto.actor's extension registry is a
// plain slice).
var installMu sync.Mutex

func install(h *grain.Host) error {
	as := h.System().ProtoActor()
	installMu.Lock()
	defer installMu.Unlock()
	switch c := as.Extensions.Get((*pacluster.Cluster)(nil).ExtensionID()).(type) {
	case nil:
	case *pacluster.Cluster:
		if _, ok := c.Config.ClusterContextProducer(c).(*bridge); !ok {
			return fmt.Errorf("%w: the actor system already runs a proto.actor cluster of its own", ErrNotInstalled)
		}
		return nil
	}
	cfg := pacluster.Configure("foundation", nil, nil, remote.Configure("127.0.0.1", 0),
		pacluster.WithClusterContextProducer(func(*pacluster.Cluster) pacluster.Context { return &bridge{h: h} }))
	pacluster.New(as, cfg)
	return nil
}
