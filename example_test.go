package foundation_test

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation"
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
