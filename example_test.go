package foundation_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
)

func Example() {
	ctx := context.Background()
	node, err := foundation.Start(ctx,
		foundation.WithEnv(func(string) (string, bool) { return "", false }), // ignore this machine's environment
		foundation.WithLogger(zap.NewNop()),
		foundation.WithConfig(func(c *cluster.Config) {
			c.Provider = "static"
			c.Seeds = []string{"127.0.0.1:7351"} // peers to join; none is running here
			c.Secret = "example-secret-0123456789"
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Stop(ctx)
	fmt.Println("profile:", node.Config.Profile)
	fmt.Println("members:", len(node.Membership.Members()))
	// Output:
	// profile: development
	// members: 1
}

// upper answers a call with its request in capitals, and the request's
// request-id header.
type upper struct{ actor.ServerBase }

func (upper) HandleCall(p actor.Process, req any) (any, error) {
	return wrapperspb.String(strings.ToUpper(req.(*wrapperspb.StringValue).Value) + " #" + p.Header("request-id")), nil
}

func ExampleCall() {
	ctx := context.Background()
	node, err := foundation.Start(ctx,
		foundation.WithEnv(func(string) (string, bool) { return "", false }),
		foundation.WithLogger(zap.NewNop()),
		foundation.WithConfig(func(c *cluster.Config) {
			c.Host = "127.0.0.1"
			c.Port, c.ClusterPort = 0, 0
			c.Provider = "static"
			c.Seeds = []string{"127.0.0.1:1"} // no peer runs here
			c.Secret = "example-secret-0123456789"
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Stop(ctx)
	pid, _ := node.System.Spawn(upper{})
	_ = node.System.Register("upper", pid)
	_, _ = node.Services.Register(ctx, "upper-svc", pid)

	hctx := actor.WithHeaders(ctx, actor.Headers{"request-id": "7"})
	for _, to := range []foundation.Target{
		foundation.ToPID(pid),
		foundation.ToName("upper"),
		foundation.ToNameOn(node.Membership.Self().ID, "upper"),
		foundation.ToService("upper-svc"),
	} {
		r, err := foundation.Call[*wrapperspb.StringValue](hctx, node, to, wrapperspb.String("hi"))
		fmt.Println(to.String()[:4], r.GetValue(), err)
	}
	err = node.Send(ctx, foundation.ToTopic("nobody-listens"), wrapperspb.String("x"))
	fmt.Println(errors.Is(err, foundation.ErrUnknownTarget))
	// Output:
	// proc HI #7 <nil>
	// name HI #7 <nil>
	// name HI #7 <nil>
	// serv HI #7 <nil>
	// true
}
