package actortest_test

import (
	"fmt"
	"testing"
	"time"

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

// gate holds every call until it is cast "open", then answers them all.
type gate struct {
	actor.ServerBase
	waiting []actor.ReplyTo
}

func (g *gate) HandleCall(p actor.Process, req any) (any, error) {
	g.waiting = append(g.waiting, p.ReplyTo())
	return actor.NoReply, nil
}

func (g *gate) HandleCast(p actor.Process, msg any) {
	if msg == "open" {
		for _, to := range g.waiting {
			p.Reply(to, "welcome")
		}
		g.waiting = nil
	}
}

// A deferred reply: the CallResult stays pending until a later message makes
// the Server answer through Process.Reply.
func ExampleHarness_Call_deferred() {
	h := actortest.New(new(testing.T), &gate{})
	if err := h.Init(); err != nil {
		fmt.Println("init:", err)
		return
	}
	r := h.Call("may I?")
	fmt.Println("pending:", r.Pending())
	h.Cast("open")
	fmt.Println("pending:", r.Pending(), "reply:", r.Reply())
	// Output:
	// pending: true
	// pending: false reply: welcome
}

func ExampleClock() {
	c := actortest.NewClock(time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC))
	c.AfterFunc(2*time.Second, func() { fmt.Println("second timer at", c.Now().Format(time.TimeOnly)) })
	c.AfterFunc(time.Second, func() { fmt.Println("first timer at", c.Now().Format(time.TimeOnly)) })
	canceled := c.AfterFunc(time.Second, func() { fmt.Println("never runs") })
	fmt.Println("stopped:", canceled.Stop())

	c.Advance(time.Minute)
	fmt.Println("now", c.Now().Format(time.TimeOnly))
	// Output:
	// stopped: true
	// first timer at 12:00:01
	// second timer at 12:00:02
	// now 12:01:00
}
