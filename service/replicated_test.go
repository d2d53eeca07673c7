package service_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/router"
	"github.com/foundation-go/foundation/service"
)

// addresses lists the member addresses of name's routable instances as
// registry r sees them, sorted.
func addresses(r *service.Registry, name string) []string {
	is, _ := r.Discover(name)
	var out []string
	for _, i := range is {
		out = append(out, i.PID.Address)
	}
	slices.Sort(out)
	return out
}

func memberAddrs(e env, idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, e.c.Member(i).Address)
	}
	slices.Sort(out)
	return out
}

// callsSucceed makes n consecutive calls through c and returns the first
// error.
func callsSucceed(c *service.Client, n int) error {
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := service.Call[*wrapperspb.StringValue](ctx, c, &wrapperspb.StringValue{})
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// TestMemberLossCallsFailOver: a member hosting an instance is killed (its
// ports refuse: kill -9) or vanishes without a RST (its traffic dropped);
// either way it leaves every other member's Discover, and calls through a
// client succeed on the remaining instances within seconds.
func TestMemberLossCallsFailOver(t *testing.T) {
	for _, how := range []string{"kill", "vanish"} {
		t.Run(how, func(t *testing.T) {
			e := start(t, 3)
			for i := range 3 {
				pid, _ := e.c.Member(i).System.Spawn(echo{})
				if _, err := e.regs[i].Register(ctxT(t), "echo", pid); err != nil {
					t.Fatal(err)
				}
			}
			all := memberAddrs(e, 0, 1, 2)
			for _, r := range e.regs {
				clustertest.Eventually(t, func() bool { return slices.Equal(addresses(r, "echo"), all) }, 10*time.Second, "every member discovers three instances")
			}
			c, err := e.regs[0].Client("echo", service.RoundRobin())
			if err != nil {
				t.Fatal(err)
			}
			// The first calls open remoting connections: slow under load.
			clustertest.Eventually(t, func() bool { return callsSucceed(c, 6) == nil }, 15*time.Second, "calls succeed before the loss")
			t0 := time.Now()
			if how == "kill" {
				e.c.Kill(2)
			} else {
				e.c.Isolate(2)
			}
			left := memberAddrs(e, 0, 1)
			for _, r := range e.regs[:2] {
				clustertest.Eventually(t, func() bool { return slices.Equal(addresses(r, "echo"), left) }, 15*time.Second, "the lost member's instance leaves Discover")
			}
			clustertest.Eventually(t, func() bool { return callsSucceed(c, 10) == nil }, 15*time.Second, "ten calls in a row succeed")
			t.Logf("%s: calls served by the remaining instances %v after the loss", how, time.Since(t0).Round(time.Millisecond))
		})
	}
}

// TestPartitionListingsConverge: under a 3+2 partition the majority lists
// its own three instances (the minority is downed by the resolver); after
// the heal the minority's members come back and every member lists all
// five again.
func TestPartitionListingsConverge(t *testing.T) {
	e := start(t, 5)
	for i := range 5 {
		pid, _ := e.c.Member(i).System.Spawn(echo{})
		if _, err := e.regs[i].Register(ctxT(t), "echo", pid); err != nil {
			t.Fatal(err)
		}
	}
	all := memberAddrs(e, 0, 1, 2, 3, 4)
	// On a failure, say what each member listed last.
	var seenMu sync.Mutex
	seen := make([][]string, len(e.regs))
	defer func() {
		if t.Failed() {
			seenMu.Lock()
			defer seenMu.Unlock()
			for i, l := range seen {
				t.Logf("member %d (%s) lists %v", i, e.c.Member(i).Membership.Self().ID, l)
			}
		}
	}()
	for i, r := range e.regs {
		clustertest.Eventually(t, func() bool {
			l := addresses(r, "echo")
			seenMu.Lock()
			seen[i] = l
			seenMu.Unlock()
			return slices.Equal(l, all)
		}, 10*time.Second, "every member discovers five instances")
	}
	e.c.Split([]int{0, 1, 2}, []int{3, 4})
	majority := memberAddrs(e, 0, 1, 2)
	for _, r := range e.regs[:3] {
		clustertest.Eventually(t, func() bool { return slices.Equal(addresses(r, "echo"), majority) }, 15*time.Second, "the majority lists its three instances")
	}
	e.c.Network.HealAll()
	for i, r := range e.regs {
		clustertest.Eventually(t, func() bool { return slices.Equal(addresses(r, "echo"), all) }, 30*time.Second,
			fmt.Sprintf("member %d lists all five instances after the heal", i))
	}
}

// counter counts the messages it receives.
type counter struct {
	actor.ServerBase
	n *atomic.Int64
}

func (c counter) HandleCast(actor.Process, any) { c.n.Add(1) }

// TestRouterOverServiceInstances: a router whose routees are a service's
// instances (Registry.Routees) spreads round-robin over every member's
// instance and follows the listing when one goes.
func TestRouterOverServiceInstances(t *testing.T) {
	e := start(t, 3)
	counts := make([]*atomic.Int64, 3)
	pids := make([]*actor.PID, 3)
	for i := range 3 {
		counts[i] = &atomic.Int64{}
		pids[i], _ = e.c.Member(i).System.Spawn(counter{n: counts[i]})
		if _, err := e.regs[i].Register(ctxT(t), "count", pids[i]); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool { return len(addresses(e.regs[0], "count")) == 3 }, 10*time.Second, "three instances")
	r, err := router.New(e.c.Member(0).System, e.regs[0].Routees("count"), router.RoundRobin())
	if err != nil {
		t.Fatal(err)
	}
	for k := range 300 {
		if err := r.Tell(wrapperspb.String(fmt.Sprint(k))); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool {
		return counts[0].Load() == 100 && counts[1].Load() == 100 && counts[2].Load() == 100
	}, 10*time.Second, "each instance handles a third")
	if err := e.c.Member(1).System.Kill(pids[1]); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { return len(r.Routees().PIDs) == 2 }, 10*time.Second, "the router follows the listing")
	for k := range 200 {
		if err := r.Tell(wrapperspb.String(fmt.Sprint(k))); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool {
		return counts[0].Load() == 200 && counts[2].Load() == 200
	}, 10*time.Second, "the remaining instances share the rest")
}
