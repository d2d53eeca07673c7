package grain_test

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
)

// Account is a grain: one activation per identity, one message at a time.
type Account struct{ balance int64 }

func (a *Account) OnActivate(ctx *grain.Context) error {
	a.balance = 100 // load the state here
	return nil
}

func (a *Account) Receive(_ *grain.Context, msg any) (any, error) {
	switch m := msg.(type) {
	case *wrapperspb.Int64Value: // deposit
		a.balance += m.Value
		return wrapperspb.Int64(a.balance), nil
	}
	return nil, fmt.Errorf("account: unexpected %T", msg)
}

func Example() {
	ctx := context.Background()
	node, err := foundation.Start(ctx,
		foundation.WithEnv(func(string) (string, bool) { return "", false }),
		foundation.WithLogger(zap.NewNop()),
		foundation.WithGrains(grain.Kind{
			Name: "account",
			New:  func(string) grain.Grain { return &Account{} },
			// Placement: grain.Partitioned is the default.
		}),
		foundation.WithConfig(func(c *cluster.Config) {
			c.Provider = "static"
			c.Seeds = []string{"127.0.0.1:7351"} // peers to join; none is running here
			c.Host = "127.0.0.1"
			c.Secret = "example-secret-0123456789"
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Stop(ctx)

	alice := grain.Get[*wrapperspb.Int64Value](node.Grains, "account", "alice")
	balance, err := alice.Call(ctx, wrapperspb.Int64(25))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("alice:", balance.Value)
	// Output:
	// alice: 125
}
