package supervision_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/supervision"
)

// conn is a worker: it counts the calls it answers and crashes on "crash".
type conn struct {
	actor.ServerBase
	n int
}

func (c *conn) HandleCall(_ actor.Process, req any) (any, error) {
	c.n++
	return c.n, nil
}

func (c *conn) HandleCast(_ actor.Process, msg any) {
	if msg == "crash" {
		panic("out of connections")
	}
}

func newConn() actor.Server { return &conn{} }

// A tree: a one_for_one root over a worker, a rest_for_one subtree (the
// cache depends on the pool, so it restarts with it) and a dynamic
// supervisor of sessions.
func Example() {
	ctx := context.Background()
	sys, _ := actor.NewSystem()
	_ = sys.Start(ctx)
	defer sys.Stop(ctx)

	// Supervision events arrive on a Subscription. Supervisors never wait
	// for it: when its buffer is full an event is dropped and counted.
	events, _ := supervision.Subscribe(sys, 64)
	defer events.Close()

	root, err := supervision.Start(ctx, sys, supervision.Spec{
		Strategy:    supervision.OneForOne,
		MaxRestarts: 3,
		Period:      5 * time.Second,
		Children: []supervision.ChildSpec{
			supervision.Worker("config", newConn),
			supervision.Subtree("storage", supervision.Spec{
				Strategy: supervision.RestForOne,
				Children: []supervision.ChildSpec{
					supervision.Worker("pool", newConn),
					supervision.Worker("cache", newConn),
				},
			}),
			supervision.DynamicSubtree("sessions", supervision.DynamicSpec{MaxChildren: 10_000}),
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sessions := supervision.DynamicAt(sys, find(ctx, root, "sessions"))
	for i := range 2 {
		_, _ = sessions.StartChild(ctx, supervision.Worker(fmt.Sprintf("session-%d", i), newConn))
	}
	printTree(ctx, sys, root.PID(), 0)

	// The pool crashes: rest_for_one restarts it and the cache after it.
	storage := supervision.SupervisorAt(sys, find(ctx, root, "storage"))
	sys.Tell(find(ctx, storage, "pool"), "crash")
	for n := 0; n < 2; {
		if r, ok := (<-events.C()).(supervision.ChildRestarted); ok {
			fmt.Printf("restarted %s (cause %s: %v)\n", r.ID, r.Cause, r.Reason)
			n++
		}
	}

	// Children stop in reverse order, subtrees first.
	fmt.Println("stop:", root.Stop(ctx))
	// Output:
	// config worker running
	// storage supervisor running
	//   pool worker running
	//   cache worker running
	// sessions supervisor running
	//   session-0 worker running
	//   session-1 worker running
	// restarted pool (cause pool: error: panic: out of connections)
	// restarted cache (cause pool: error: panic: out of connections)
	// stop: <nil>
}

type lister interface {
	WhichChildren(context.Context) ([]supervision.ChildInfo, error)
}

func find(ctx context.Context, s lister, id string) *actor.PID {
	cs, _ := s.WhichChildren(ctx)
	for _, c := range cs {
		if c.ID == id {
			return c.PID
		}
	}
	return nil
}

func printTree(ctx context.Context, sys *actor.System, pid *actor.PID, depth int) {
	// WhichChildren works on both kinds of supervisor.
	cs, _ := supervision.SupervisorAt(sys, pid).WhichChildren(ctx)
	for _, c := range cs {
		state := "running"
		if c.PID == nil {
			state = "stopped"
		}
		fmt.Printf("%s%s %v %s\n", strings.Repeat("  ", depth), c.ID, c.Type, state)
		if c.Type == supervision.SupervisorChild && c.PID != nil {
			printTree(ctx, sys, c.PID, depth+1)
		}
	}
}

// A Dynamic supervisor starts children on demand and stops them all at once.
func ExampleStartDynamic() {
	ctx := context.Background()
	sys, _ := actor.NewSystem()
	_ = sys.Start(ctx)
	defer sys.Stop(ctx)

	d, _ := supervision.StartDynamic(ctx, sys, supervision.DynamicSpec{MaxRestarts: 10})
	var pids []*actor.PID
	for i := range 3 {
		pid, _ := d.StartChild(ctx, supervision.Worker(fmt.Sprint("job-", i), newConn))
		pids = append(pids, pid)
	}
	n, _ := d.CountChildren(ctx)
	fmt.Printf("%+v\n", n)
	_ = d.TerminateChild(ctx, pids[0])
	n, _ = d.CountChildren(ctx)
	fmt.Printf("%+v\n", n)
	fmt.Println("stop:", d.Stop(ctx))
	// Output:
	// {Specs:3 Active:3 Supervisors:0 Workers:3}
	// {Specs:2 Active:2 Supervisors:0 Workers:2}
	// stop: <nil>
}
