package service_test

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/service"
)

// greeter answers a call with a greeting.
type greeter struct{ actor.ServerBase }

func (greeter) HandleCall(_ actor.Process, req any) (any, error) {
	return wrapperspb.String("hello, " + req.(*wrapperspb.StringValue).Value), nil
}

func Example() {
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

	pid, _ := node.System.Spawn(greeter{})
	if _, err := node.Services.Register(ctx, "greeter", pid, service.WithCapabilities("en")); err != nil {
		fmt.Println(err)
		return
	}
	insts, _ := node.Services.Discover("greeter", service.HasCapability("en"))
	fmt.Println("instances:", len(insts))

	c, _ := node.Services.Client("greeter", service.PreferLocal(service.RoundRobin()))
	reply, err := service.Call[*wrapperspb.StringValue](ctx, c, wrapperspb.String("Ada"))
	fmt.Println(reply.GetValue(), err)

	_, err = node.Services.Discover("billing")
	fmt.Println(err)
	// Output:
	// instances: 1
	// hello, Ada <nil>
	// service: no such service: "billing" has no routable instance
}
