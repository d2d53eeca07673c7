package router_test

import (
	"context"
	"fmt"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/router"
	"github.com/foundation-go/foundation/supervision"
)

// greeter answers a call with its name.
type greeter struct {
	actor.ServerBase
	name string
}

func (g *greeter) HandleCall(_ actor.Process, req any) (any, error) {
	return fmt.Sprintf("%s: hello %v", g.name, req), nil
}

// account is a message routed by its account number.
type account struct{ id string }

func (a account) ConsistentHashKey() string { return a.id }

// A round-robin router over a group of three processes. Routing runs in
// the caller: Call picks a routee and calls it directly.
func ExampleNew() {
	sys, _ := actor.NewSystem()
	_ = sys.Start(context.Background())
	defer sys.Stop(context.Background())

	var group router.Group
	for _, name := range []string{"ann", "bob", "cid"} {
		pid, _ := sys.Spawn(&greeter{name: name})
		_ = group.Add(pid)
	}
	r, _ := router.New(sys, &group, router.RoundRobin())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 4 {
		reply, err := router.Call[string](ctx, r, i)
		fmt.Println(reply, err)
	}
	// Output:
	// ann: hello 0 <nil>
	// bob: hello 1 <nil>
	// cid: hello 2 <nil>
	// ann: hello 3 <nil>
}

// Consistent hashing sends every message of one account to one routee.
func ExampleConsistentHash() {
	sys, _ := actor.NewSystem()
	_ = sys.Start(context.Background())
	defer sys.Stop(context.Background())

	var group router.Group
	for _, name := range []string{"ann", "bob", "cid", "dan"} {
		pid, _ := sys.Spawn(&greeter{name: name})
		_ = group.Add(pid)
	}
	r, _ := router.New(sys, &group, router.ConsistentHash(router.MessageKey))

	ctx := context.Background()
	first, _ := router.Call[string](ctx, r, account{"acct-17"})
	again, _ := router.Call[string](ctx, r, account{"acct-17"})
	fmt.Println(first == again)

	_, err := router.Call[string](ctx, r, "no key")
	fmt.Println(err)
	// Output:
	// true
	// router: message has no hash key: string
}

// A supervised pool that grows under pressure and shrinks when idle.
func ExampleNewPool() {
	sys, _ := actor.NewSystem()
	_ = sys.Start(context.Background())
	defer sys.Stop(context.Background())

	ctx := context.Background()
	pool, err := router.NewPool(ctx, sys,
		supervision.Worker("greeter", func() actor.Server { return &greeter{name: "pooled"} }),
		router.PoolConfig{
			Size:    2,
			Resizer: router.DefaultResizer{Lower: 2, Upper: 8},
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Stop(ctx)

	reply, _ := router.Call[string](ctx, pool.Router(), "pool")
	fmt.Println(reply, pool.Size())
	// Output:
	// pooled: hello pool 2
}

// The resizer's decision is a pure function: observations in, a size out.
func ExampleDefaultResizer_Resize() {
	r := router.DefaultResizer{Lower: 1, Upper: 10}
	for _, mailboxes := range [][]int{
		{3, 1, 2, 5},    // every routee busy: grow by 20%, rounded up
		{1, 0, 0, 0, 0}, // one busy in five: back off by 10%, at least 1
		{1, 1, 0, 0},    // half busy: stay
	} {
		size, _ := r.Resize(router.Observation{Mailboxes: mailboxes})
		fmt.Println(len(mailboxes), "->", size)
	}
	// Output:
	// 4 -> 5
	// 5 -> 4
	// 4 -> 4
}

// Scatter-gather: ask everyone, take the first answer.
func ExampleScatterGather() {
	sys, _ := actor.NewSystem()
	_ = sys.Start(context.Background())
	defer sys.Stop(context.Background())

	pid, _ := sys.Spawn(&greeter{name: "only"})
	group, _ := router.NewGroup(pid)
	r, _ := router.New(sys, group, nil)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	reply, err := router.ScatterGather[string](ctx, r, "all")
	fmt.Println(reply, err)
	// Output:
	// only: hello all <nil>
}
