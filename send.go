package foundation

import (
	"context"
	"errors"
	"fmt"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/telctx"
	"github.com/foundation-go/foundation/pubsub"
	"github.com/foundation-go/foundation/service"
)

// Target is where Send and Call deliver a message: a process (ToPID), a
// registered name on this member (ToName) or another (ToNameOn), a service's
// instances (ToService, ToClient), a topic's subscribers (ToTopic) or a
// grain (ToGrain). The zero Target is invalid.
type Target struct {
	kind   targetKind
	pid    *actor.PID
	name   string // name, service, topic or grain kind
	member string // ToNameOn's member; ToGrain's identity
	client *service.Client
}

type targetKind uint8

const (
	targetNone targetKind = iota
	targetPID
	targetName
	targetNameOn
	targetService
	targetClient
	targetTopic
	targetGrain
)

// ToPID targets one process, on this member or another.
func ToPID(pid *actor.PID) Target { return Target{kind: targetPID, pid: pid} }

// ToName targets the process registered under name on this member
// (actor.System.Register), resolved at each send.
func ToName(name string) Target { return Target{kind: targetName, name: name} }

// ToNameOn targets the process registered under name on the member whose
// id is member (cluster.Member.ID), resolved there at each message, as
// Erlang's {Name, Node}.
func ToNameOn(member, name string) Target {
	return Target{kind: targetNameOn, name: name, member: member}
}

// ToService targets one instance of service name, chosen by the node's
// default balancer (service.PreferLocal over service.RoundRobin). For
// another balancer make a client (Node.Services.Client) and use ToClient.
func ToService(name string) Target { return Target{kind: targetService, name: name} }

// ToClient targets the instances of a service through c and its balancer.
func ToClient(c *service.Client) Target { return Target{kind: targetClient, client: c} }

// ToTopic targets every subscriber of topic, cluster-wide (Send only).
func ToTopic(topic string) Target { return Target{kind: targetTopic, name: topic} }

// ToGrain targets the grain (kind, identity), activating it where its
// placement says.
func ToGrain(kind, identity string) Target {
	return Target{kind: targetGrain, name: kind, member: identity}
}

// String describes the target for logs and errors.
func (t Target) String() string {
	switch t.kind {
	case targetPID:
		return "process " + actor.PIDString(t.pid)
	case targetName:
		return fmt.Sprintf("name %q", t.name)
	case targetNameOn:
		return fmt.Sprintf("name %q on %s", t.name, t.member)
	case targetService:
		return fmt.Sprintf("service %q", t.name)
	case targetClient:
		return "service client"
	case targetTopic:
		return fmt.Sprintf("topic %q", t.name)
	case targetGrain:
		return fmt.Sprintf("grain %s/%s", t.name, t.member)
	}
	return "no target"
}

// Send delivers msg to the target without waiting for it to be handled,
// with the headers ctx carries (actor.WithHeaders), at most once: a nil
// error means the message left for its target (a process's mailbox,
// remoting, the members with subscribers), not that it was processed.
// A process or name target receives msg as a cast (Server.HandleCast) or a
// plain message; a topic's subscribers receive it as pubsub delivers; a
// grain as grain.Ref.Tell.
//
// Errors: ErrInvalidTarget (the zero Target, a nil PID, an empty name),
// ErrUnknownTarget (a name nobody holds here, a member not in the view, a
// service without instances, a topic without subscribers: nothing was
// sent), ErrNotEnabled (the node was started without grains, say),
// actor.ErrNotSerializable (a message for another member that is not a
// protobuf message), and the underlying package's errors, wrapped.
func (n *Node) Send(ctx context.Context, to Target, msg any) error {
	if msg == nil {
		return fmt.Errorf("%w: Send to %s: nil message", ErrInvalidTarget, to)
	}
	switch to.kind {
	case targetTopic:
		if n.PubSub == nil {
			return fmt.Errorf("%w: Send to %s: the node has no pub/sub", ErrNotEnabled, to)
		}
		pctx, end := n.Telemetry.StartPublish(ctx, to.name)
		err := n.PubSub.Publish(pctx, to.name, msg)
		end(err)
		return n.targetErr(to, err)
	case targetGrain:
		if n.Grains == nil {
			return fmt.Errorf("%w: Send to %s: the node hosts no grains (WithGrains)", ErrNotEnabled, to)
		}
		return n.targetErr(to, grain.Get[any](n.Grains, to.name, to.member).Tell(ctx, msg))
	case targetService, targetClient:
		c, err := n.serviceClient(to)
		if err != nil {
			return err
		}
		return n.targetErr(to, c.Tell(ctx, msg))
	}
	pid, err := n.resolve(to)
	if err != nil {
		return err
	}
	return n.targetErr(to, n.System.Send(ctx, pid, msg))
}

// Call sends req to the target and returns its reply, an R, waiting until
// ctx ends. It is at most once: an error other than a refusal before
// sending (ErrInvalidTarget, ErrUnknownTarget, actor.ErrNoProcess,
// actor.ErrNotSerializable) means the request may have been handled. A
// process or name target answers through Server.HandleCall; a service
// fails over to another instance only when the first one's process was
// gone (nothing was delivered); a grain retries across placement changes
// as grain.Ref.Call. A topic has no single replier: Call to one is
// ErrInvalidTarget. Headers on ctx travel with req.
func Call[R any](ctx context.Context, n *Node, to Target, req any) (R, error) {
	var zero R
	if req == nil {
		return zero, fmt.Errorf("%w: Call to %s: nil request", ErrInvalidTarget, to)
	}
	switch to.kind {
	case targetTopic:
		return zero, fmt.Errorf("%w: Call to %s: a topic has no single replier; Send publishes to it", ErrInvalidTarget, to)
	case targetGrain:
		if n.Grains == nil {
			return zero, fmt.Errorf("%w: Call to %s: the node hosts no grains (WithGrains)", ErrNotEnabled, to)
		}
		r, err := grain.Get[R](n.Grains, to.name, to.member).Call(ctx, req)
		return r, n.targetErr(to, err)
	case targetService, targetClient:
		c, err := n.serviceClient(to)
		if err != nil {
			return zero, err
		}
		// The service call's span (a child of ctx's trace); the actor
		// Call to the instance carries it on with no span of its own.
		sctx, end := n.Telemetry.StartServiceCall(ctx, c.Name(), fmt.Sprintf("%T", req))
		if sctx != ctx {
			sctx = telctx.Quiet(sctx)
		}
		r, err := service.Call[R](sctx, c, req)
		end(err)
		return r, n.targetErr(to, err)
	}
	pid, err := n.resolve(to)
	if err != nil {
		return zero, err
	}
	r, err := actor.Call[R](ctx, n.System, pid, req)
	return r, n.targetErr(to, err)
}

// resolve turns a process or name target into a PID.
func (n *Node) resolve(to Target) (*actor.PID, error) {
	switch to.kind {
	case targetPID:
		if to.pid == nil {
			return nil, fmt.Errorf("%w: ToPID(nil)", ErrInvalidTarget)
		}
		return to.pid, nil
	case targetName:
		if to.name == "" {
			return nil, fmt.Errorf("%w: ToName: empty name", ErrInvalidTarget)
		}
		pid := n.System.Whereis(to.name)
		if pid == nil {
			return nil, fmt.Errorf("%w: %s: no process holds it on this member", ErrUnknownTarget, to)
		}
		return pid, nil
	case targetNameOn:
		if to.member == "" || to.name == "" {
			return nil, fmt.Errorf("%w: ToNameOn(%q, %q): want a member id and a name", ErrInvalidTarget, to.member, to.name)
		}
		addr := ""
		if n.Membership.Self().ID == to.member {
			addr = n.System.Address()
		} else if m, ok := n.Membership.View().Member(to.member); ok && m.Status == cluster.Up {
			addr = m.Address
		}
		if addr == "" {
			return nil, fmt.Errorf("%w: %s: the member is not Up in this member's view", ErrUnknownTarget, to)
		}
		pid, err := actor.NamePID(addr, to.name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidTarget, err)
		}
		return pid, nil
	}
	return nil, fmt.Errorf("%w: the zero Target; build one with ToPID, ToName, ToNameOn, ToService, ToClient, ToTopic or ToGrain", ErrInvalidTarget)
}

// serviceClient returns the client of a service target: the one given, or
// the node's default for the name.
func (n *Node) serviceClient(to Target) (*service.Client, error) {
	if to.kind == targetClient {
		if to.client == nil {
			return nil, fmt.Errorf("%w: ToClient(nil)", ErrInvalidTarget)
		}
		return to.client, nil
	}
	if n.Services == nil {
		return nil, fmt.Errorf("%w: %s: the node has no service registry", ErrNotEnabled, to)
	}
	if v, ok := n.clients.Load(to.name); ok {
		return v.(*service.Client), nil
	}
	c, err := n.Services.Client(to.name, service.PreferLocal(service.RoundRobin()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTarget, err)
	}
	v, _ := n.clients.LoadOrStore(to.name, c)
	return v.(*service.Client), nil
}

// targetErr adds the facade's sentinels to an underlying package's error.
func (n *Node) targetErr(to Target, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, service.ErrUnknownService), errors.Is(err, pubsub.ErrNoSubscribers),
		errors.Is(err, grain.ErrUnknownKind), errors.Is(err, grain.ErrNoMemberForKind):
		return fmt.Errorf("%w: %s: %w", ErrUnknownTarget, to, err)
	case errors.Is(err, service.ErrInvalid), errors.Is(err, pubsub.ErrInvalid), errors.Is(err, grain.ErrInvalid),
		errors.Is(err, actor.ErrInvalid):
		return fmt.Errorf("%w: %s: %w", ErrInvalidTarget, to, err)
	}
	return err
}
