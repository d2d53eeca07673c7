package pubsub_test

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/pubsub"
)

// exampleNode starts a one-member cluster on free loopback ports.
func exampleNode() (*foundation.Node, error) {
	return foundation.Start(context.Background(),
		foundation.WithEnv(func(string) (string, bool) { return "", false }),
		foundation.WithLogger(zap.NewNop()),
		foundation.WithConfig(func(c *cluster.Config) {
			c.Host = "127.0.0.1"
			c.Port, c.ClusterPort = 0, 0
			c.Provider = "static"
			c.Seeds = []string{"127.0.0.1:1"} // no peer runs here
			c.Secret = "example-secret-0123456789"
		}))
}

func Example() {
	node, err := exampleNode()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Stop(context.Background())

	got := make(chan string, 1)
	sub, err := node.PubSub.SubscribeFunc("orders", func(m pubsub.Message) {
		got <- m.Payload.(*wrapperspb.StringValue).Value + " (request " + m.Headers["request-id"] + ")"
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := actor.WithHeaders(context.Background(), actor.Headers{"request-id": "r-1"})
	if err := node.PubSub.Publish(ctx, "orders", wrapperspb.String("order 42")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-got)
	_ = sub.Unsubscribe()
	err = node.PubSub.Publish(ctx, "orders", wrapperspb.String("order 43"))
	fmt.Println(err)
	// Output:
	// order 42 (request r-1)
	// pubsub: no subscribers: topic "orders"
}
