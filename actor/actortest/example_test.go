package actortest_test

import (
	"fmt"
	"testing"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/actor/actortest"
)

// counter is a Server that counts: cast incr to add, call get to read, and it
// tells its watcher when it reaches its limit.
type counter struct {
	actor.ServerBase
	n       int
	limit   int
	watcher *actor.PID
}

type (
	incr    struct{ By int }
	get     struct{}
	reached struct{ N int }
)

func (c *counter) HandleCall(p actor.Process, req any) (any, error) {
	if _, ok := req.(get); ok {
		return c.n, nil
	}
	return c.ServerBase.HandleCall(p, req)
}

func (c *counter) HandleCast(p actor.Process, msg any) {
	if m, ok := msg.(incr); ok {
		c.n += m.By
		if c.n >= c.limit {
			p.Send(c.watcher, reached{N: c.n})
		}
	}
}

func Example() {
	t := new(testing.T) // in a test, the test's *testing.T
	watcher := &actor.PID{Address: "actortest", Id: "watcher"}

	h := actortest.New(t, &counter{limit: 3, watcher: watcher})
	if err := h.Init(); err != nil {
		fmt.Println("init:", err)
		return
	}
	h.Cast(incr{By: 2})
	h.ShouldSend().To(watcher).Never()
	h.Cast(incr{By: 1})
	h.ShouldSend().To(watcher).Message(reached{N: 3}).Once()

	n, err := actortest.Call[int](h, get{})
	fmt.Println(n, err)

	_, err = actortest.Call[int](h, "hello")
	fmt.Println(err)
	fmt.Println("test failed:", t.Failed())
	// Output:
	// 3 <nil>
	// actor: unhandled call string
	// test failed: false
}
