package graintest_test

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/grain/graintest"
)

// counter counts the calls its identity received.
type counter struct{ n int64 }

func (c *counter) Receive(_ *grain.Context, _ any) (any, error) {
	c.n++
	return wrapperspb.Int64(c.n), nil
}

func Example() {
	// In a test, pass the test's *testing.T; the cluster stops when it ends.
	t := &testing.T{}
	c := graintest.Start(t, 3, graintest.Options{
		Cluster: clustertest.Options{Logger: zap.NewNop()},
		Kinds: func(int) []grain.Kind {
			return []grain.Kind{{Name: "counter", New: func(string) grain.Grain { return &counter{} }}}
		},
	})
	defer func() {
		for i := range c.Members() {
			c.Stop(i)
		}
	}()

	// Any member reaches the one activation of "a", wherever it lives.
	ctx := context.Background()
	for i := range 3 {
		n, err := grain.Get[*wrapperspb.Int64Value](c.Host(i), "counter", "a").Call(ctx, &wrapperspb.StringValue{})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("calls to a:", n.Value)
	}
	// Output:
	// calls to a: 1
	// calls to a: 2
	// calls to a: 3
}
