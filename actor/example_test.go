package actor_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/foundation-go/foundation/actor"
)

// counter is a gen_server-style Server: calls read and add, casts reset.
type counter struct {
	actor.ServerBase
	n int
}

type add struct{ by int }

func (c *counter) HandleCall(_ actor.Process, req any) (any, error) {
	switch r := req.(type) {
	case add:
		c.n += r.by
		return c.n, nil
	}
	return nil, actor.ErrUnhandled
}

func (c *counter) HandleCast(_ actor.Process, msg any) {
	if msg == "reset" {
		c.n = 0
	}
}

func Example() {
	sys, _ := actor.NewSystem()
	ctx := context.Background()
	_ = sys.Start(ctx)
	defer sys.Stop(ctx)

	pid, _ := sys.Spawn(&counter{})
	n, _ := actor.Call[int](ctx, sys, pid, add{by: 2})
	fmt.Println(n)
	n, _ = actor.Call[int](ctx, sys, pid, add{by: 3})
	fmt.Println(n)
	sys.Tell(pid, "reset")
	n, _ = actor.Call[int](ctx, sys, pid, add{by: 1})
	fmt.Println(n)
	_, err := actor.Call[string](ctx, sys, pid, add{by: 1})
	fmt.Println(errors.Is(err, actor.ErrBadReply))
	// Output:
	// 2
	// 5
	// 1
	// true
}

// watcher prints the Down and Exit messages it receives.
type watcher struct {
	actor.ServerBase
	done chan struct{}
}

func (w *watcher) Init(p actor.Process) error {
	p.TrapExit(true)
	return nil
}

func (w *watcher) HandleInfo(_ actor.Process, msg any) {
	switch m := msg.(type) {
	case actor.Exit:
		fmt.Println("exit signal:", m.Reason)
	case actor.Down:
		fmt.Println("down:", m.Reason)
		close(w.done)
	}
}

type crasher struct{ actor.ServerBase }

func (crasher) HandleCast(actor.Process, any) { panic("disk on fire") }

func ExampleSystem_Link() {
	sys, _ := actor.NewSystem()
	ctx := context.Background()
	_ = sys.Start(ctx)
	defer sys.Stop(ctx)

	w := &watcher{done: make(chan struct{})}
	wpid, _ := sys.Spawn(w)
	// The worker is linked to the watcher, which traps exits, and monitored.
	worker, _ := sys.Spawn(crasher{}, actor.WithLink(wpid))
	_, _ = sys.Monitor(wpid, worker)

	sys.Tell(worker, "go")
	<-w.done
	// Output:
	// exit signal: error: panic: disk on fire
	// down: error: panic: disk on fire
}

func ExampleSystem_Register() {
	sys, _ := actor.NewSystem()
	ctx := context.Background()
	_ = sys.Start(ctx)
	defer sys.Stop(ctx)

	pid, _ := sys.Spawn(&counter{})
	_ = sys.Register("counter", pid)
	err := sys.Register("counter", pid)
	fmt.Println(errors.Is(err, actor.ErrNameTaken))
	n, _ := actor.Call[int](ctx, sys, sys.Whereis("counter"), add{by: 40})
	fmt.Println(n)
	// Output:
	// true
	// 40
}
