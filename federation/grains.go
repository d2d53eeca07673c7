package federation

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/protos"
	"github.com/foundation-go/foundation/service"
)

// GrainService is the service through which other clusters call this
// cluster's grains (CallGrain). ServeGrains registers its instances; a
// cluster whose grains others may call exports it (Config.Exports), like
// any service: nothing is reachable unless exported.
const GrainService = "federation.grains"

// DefaultGrainCallTimeout bounds a grain call ServeGrains makes for another
// cluster when the request carries no deadline of its own.
const DefaultGrainCallTimeout = 10 * time.Second

// ServeGrains registers, on this member, an instance of GrainService that
// calls the grains of h (register it on every member that should serve
// them; any member can call any grain of its cluster). The registration
// ends when the member stops or with Registration.Deregister.
func ServeGrains(ctx context.Context, reg *service.Registry, h *grain.Host) (*service.Registration, error) {
	if reg == nil || h == nil {
		return nil, fmt.Errorf("%w: ServeGrains: want a service registry and a grain host", ErrInvalid)
	}
	pid, err := h.System().Spawn(&grainServer{h: h})
	if err != nil {
		return nil, err
	}
	return reg.Register(ctx, GrainService, pid)
}

// CallGrain calls grain (kind, identity) of cluster clusterName with msg and
// returns its reply: a grain reference that names its cluster. Grains stay
// in their cluster; the call crosses to it as a call of its GrainService
// (which it must export), then is an ordinary grain call there. At most
// once, like CallInCluster; the errors are CallInCluster's, and the grain's
// own error comes back as ErrRemote.
func CallGrain[R proto.Message](ctx context.Context, f *Federation, clusterName, kind, identity string, msg proto.Message) (R, error) {
	var zero R
	if kind == "" || identity == "" {
		return zero, fmt.Errorf("%w: CallGrain: kind %q and identity %q must not be empty", ErrInvalid, kind, identity)
	}
	a, err := anypb.New(msg)
	if err != nil {
		return zero, fmt.Errorf("%w: CallGrain: %v", ErrInvalid, err)
	}
	return CallInCluster[R](ctx, f, clusterName, GrainService, &protos.FederatedGrainCall{Kind: kind, Identity: identity, Message: a})
}

// grainServer is an instance of GrainService: each call runs on a
// goroutine of its own (a grain call may take long; the server keeps taking
// requests) and is answered through the server's mailbox.
type grainServer struct {
	actor.ServerBase
	h      *grain.Host
	ctx    context.Context
	cancel context.CancelFunc
}

type grainDone struct {
	to    actor.ReplyTo
	reply any
	err   error
}

func (s *grainServer) Init(actor.Process) error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return nil
}

func (s *grainServer) HandleCall(p actor.Process, req any) (any, error) {
	c, ok := req.(*protos.FederatedGrainCall)
	if !ok {
		return nil, fmt.Errorf("%w: %s wants a grain call, got %T", ErrInvalid, GrainService, req)
	}
	msg, err := c.GetMessage().UnmarshalNew()
	if err != nil {
		return nil, fmt.Errorf("%w: grain call %s/%s: %v", ErrInvalid, c.Kind, c.Identity, err)
	}
	to, self := p.ReplyTo(), p.Self()
	ctx, cancel := context.WithTimeout(s.ctx, DefaultGrainCallTimeout)
	if hd := actor.HeadersFrom(actor.ContextOf(p)); len(hd) > 0 {
		ctx = actor.WithHeaders(ctx, hd)
	}
	sys := s.h.System()
	go func() {
		defer cancel()
		r, err := grain.Get[any](s.h, c.Kind, c.Identity).Call(ctx, msg)
		sys.Tell(self, grainDone{to: to, reply: r, err: err})
	}()
	return actor.NoReply, nil
}

func (s *grainServer) HandleCast(p actor.Process, msg any) {
	if d, ok := msg.(grainDone); ok {
		if d.err != nil {
			p.Reply(d.to, d.err)
			return
		}
		p.Reply(d.to, d.reply)
	}
}

func (s *grainServer) Terminate(actor.Process, actor.Reason) { s.cancel() }
