package migrate_test

import (
	"context"
	"fmt"

	pa "github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/migrate"
)

// hello is a proto.actor virtual actor, unchanged from the proto.actor
// program it comes from.
type hello struct{ id string }

func (h *hello) Receive(c pa.Context) {
	switch m := c.Message().(type) {
	case *pacluster.ClusterInit:
		h.id = m.Identity.Identity
	case *wrapperspb.StringValue:
		c.Respond(wrapperspb.String("hello " + m.Value + ", I am " + h.id))
	}
}

func ExampleGrainKind() {
	ctx := context.Background()
	kind := pacluster.NewKind("hello", pa.PropsFromProducer(func() pa.Actor { return &hello{} }))
	k, err := migrate.GrainKind(kind, migrate.KindOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	node, err := foundation.Start(ctx,
		foundation.WithEnv(func(string) (string, bool) { return "", false }),
		foundation.WithLogger(zap.NewNop()),
		foundation.WithGrains(k),
		foundation.WithConfig(func(c *cluster.Config) {
			c.Provider = cluster.ProviderStatic
			c.Seeds = []string{"127.0.0.1:7351"} // no peer runs here
			c.Telemetry.Address = cluster.TelemetryOff
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Stop(ctx)

	// The proto.actor API, answered by Foundation's grains.
	cl, err := migrate.Install(node.Grains)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := cl.Request("ada", "hello", wrapperspb.String("world"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.(*wrapperspb.StringValue).Value)
	// Output:
	// hello world, I am ada
}
