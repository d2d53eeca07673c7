package grain

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
)

// Grain is a virtual actor's behaviour. One activation handles one message at
// a time: Receive is never called concurrently for one identity. For a Call,
// the returned reply (or error) goes to the caller; for a Tell it is
// dropped (an error is logged).
type Grain interface {
	Receive(ctx *Context, msg any) (reply any, err error)
}

// Activator is implemented by grains that load state when activated.
// OnActivate runs before the first message; an error fails the call that
// caused the activation with ErrActivationFailed wrapping it, and the next
// call tries again.
type Activator interface {
	OnActivate(ctx *Context) error
}

// Deactivator is implemented by grains that save state when deactivated:
// passivated when idle, moved to another member, or stopped with their host.
// A moved grain's new activation starts only after OnDeactivate returns.
type Deactivator interface {
	OnDeactivate(ctx *Context)
}

// Context is what a grain knows of itself. It is a context.Context that ends
// when the activation ends.
type Context struct {
	context.Context
	kind, identity, member string
	log                    *zap.Logger
	proc                   actor.Process // during a call: its headers
	host                   *Host
	tell                   bool // handling a Tell
}

// Header returns a header of the call being handled: one the caller
// attached with actor.WithHeaders on its ctx (a request id, a trace
// context). "" when absent, and outside a Call (OnActivate, a Tell).
func (c *Context) Header(key string) string {
	if c.proc == nil {
		return ""
	}
	return c.proc.Header(key)
}

// Kind is the grain's kind.
func (c *Context) Kind() string { return c.kind }

// Identity is the grain's identity within its kind.
func (c *Context) Identity() string { return c.identity }

// Member is the id of the member this activation runs on.
func (c *Context) Member() string { return c.member }

// Logger logs with the grain's kind, identity and member.
func (c *Context) Logger() *zap.Logger { return c.log }

// Host is the grain host the activation runs in: a grain calls other
// grains through it (Get[R](ctx.Host(), kind, id)).
func (c *Context) Host() *Host { return c.host }

// IsTell reports whether the message being handled came by Tell (its reply
// is dropped) rather than Call.
func (c *Context) IsTell() bool { return c.tell }

// Placement chooses which member activates an identity.
type Placement uint8

const (
	// Partitioned: the member with the highest rendezvous hash of
	// (member, identity) among the members hosting the kind. A member
	// joining or leaving moves only the identities it wins or held.
	// The default.
	Partitioned Placement = iota
	// Singleton: every identity of the kind lives on the oldest member
	// hosting it; it moves only when that member leaves or dies.
	Singleton
	// Replicated: one activation per identity on every member hosting the
	// kind. A Call goes to the caller's own activation when it hosts the
	// kind (else to one member chosen by hash); Broadcast reaches all.
	Replicated
	// Local: the activation runs on the caller's member, which must host
	// the kind; each member has its own.
	Local
	// PreferLocal: activated on the first caller's member when it hosts the
	// kind, elsewhere otherwise; the directory keeps it unique cluster-wide
	// and it stays where it is until it passivates or its member goes.
	PreferLocal
	// LeastLoaded: activated on the member with the fewest live
	// activations; unique and sticky like PreferLocal.
	LeastLoaded
	// Role: partitioned over the members whose labels include every pair of
	// Kind.Role.
	Role
)

func (p Placement) String() string {
	switch p {
	case Partitioned:
		return "partitioned"
	case Singleton:
		return "singleton"
	case Replicated:
		return "replicated"
	case Local:
		return "local"
	case PreferLocal:
		return "prefer-local"
	case LeastLoaded:
		return "least-loaded"
	case Role:
		return "role"
	}
	return fmt.Sprintf("placement(%d)", uint8(p))
}

// sticky placements record where an activation went in the identity owner's
// directory; the others compute it from the view.
func (p Placement) sticky() bool { return p == PreferLocal || p == LeastLoaded }

// exclusive placements keep one activation per identity cluster-wide and
// compute it from the view: a new activation claims the identity first.
func (p Placement) exclusive() bool { return p == Partitioned || p == Singleton || p == Role }

// DefaultIdleTimeout is how long an activation may stay idle before it
// passivates, unless its Kind says otherwise.
const DefaultIdleTimeout = 60 * time.Second

// Kind declares a grain kind. Every member that calls a kind declares it
// with the same Name, Placement and Role; members that host it also give
// New, and must list it in their membership's kinds.
type Kind struct {
	// Name identifies the kind. Required.
	Name string
	// New makes the grain for an identity when it is activated. Nil: this
	// member calls the kind but does not host it.
	New func(identity string) Grain
	// Placement chooses the member of each activation. Default: Partitioned.
	Placement Placement
	// Role is matched against member labels for Role placement; required
	// (non-empty) for it and ignored otherwise.
	Role map[string]string
	// IdleTimeout passivates an activation that has handled no message for
	// this long. 0: DefaultIdleTimeout (60s). Negative: never.
	IdleTimeout time.Duration
}

func (k Kind) validate() error {
	if k.Name == "" {
		return fmt.Errorf("%w: Kind.Name is empty", ErrInvalid)
	}
	if k.Placement > Role {
		return fmt.Errorf("%w: kind %q: Placement %d is not one of Partitioned..Role", ErrInvalid, k.Name, k.Placement)
	}
	if k.Placement == Role && len(k.Role) == 0 {
		return fmt.Errorf("%w: kind %q: Role placement needs Kind.Role labels", ErrInvalid, k.Name)
	}
	return nil
}
