package work_test

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/work"
)

// A task kind registered at Start and run over the members of the role
// tier=ai: here one member, the caller itself.
func Example() {
	ctx := context.Background()
	words := work.Kind[string, string]{
		Name:    "upper",
		Workers: 4, // at most 4 of its tasks at once on each member
		Handler: func(_ context.Context, s string) (string, error) {
			if s == "" {
				return "", fmt.Errorf("empty word")
			}
			return strings.ToUpper(s), nil
		},
	}
	node, err := foundation.Start(ctx,
		foundation.WithEnv(func(string) (string, bool) { return "", false }),
		foundation.WithLogger(zap.NewNop()),
		foundation.WithTasks(words),
		foundation.WithConfig(func(c *cluster.Config) {
			c.Provider = "static"
			c.Seeds = []string{"127.0.0.1:7351"} // peers to join; none is running here
			c.Host = "127.0.0.1"
			c.Secret = "example-secret-0123456789"
			c.Labels = map[string]string{"tier": "ai"}
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Stop(ctx)

	var last string
	results, err := work.Run(ctx, node.Work, words, []string{"distributed", "", "tasks"},
		work.Role(map[string]string{"tier": "ai"}),
		work.Progress(func(done, total int) { last = fmt.Sprintf("%d/%d", done, total) }))
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, r := range results {
		if r.Err != nil {
			fmt.Println(i, "failed:", strings.Contains(r.Err.Error(), "empty word"))
			continue
		}
		fmt.Println(i, r.Value)
	}
	fmt.Println("progress", last)
	// Output:
	// 0 DISTRIBUTED
	// 1 failed: true
	// 2 TASKS
	// progress 3/3
}
