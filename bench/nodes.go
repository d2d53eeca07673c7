package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
)

// nodeSetup says how startNodes configures node i. Nil fields add nothing.
type nodeSetup struct {
	// configure adjusts node i's configuration after the bench's name,
	// secret, host and port are set.
	configure func(i int, c *cluster.Config)
	// options are node i's further options.
	options func(i int) []foundation.Option
	// ready reports whether node n has formed; required.
	ready func(n *foundation.Node) bool
}

// staticSeeds returns the 127.0.0.1 seed list for ports.
func staticSeeds(ports []int) []string {
	seeds := make([]string, len(ports))
	for i, p := range ports {
		seeds[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	return seeds
}

// seesMembers is a nodeSetup.ready: the node's view holds n members.
func seesMembers(n int) func(*foundation.Node) bool {
	return func(nd *foundation.Node) bool { return len(nd.Membership.Members()) == n }
}

// startNodes starts one Foundation node per cluster port, all at once, on
// 127.0.0.1 with no environment and no logging, and polls (1 ms, at most
// 20 s) until every node is ready. It returns the nodes, the time from the
// first start until all were ready, and a stop function that stops every
// node that started. On an error every node is already stopped.
func startNodes(ports []int, s nodeSetup) ([]*foundation.Node, time.Duration, func(), error) {
	env := func(string) (string, bool) { return "", false }
	nodes := make([]*foundation.Node, len(ports))
	errs := make([]error, len(ports))
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := []foundation.Option{
				foundation.WithEnv(env),
				foundation.WithLogger(zap.NewNop()),
				foundation.WithConfig(func(c *cluster.Config) {
					c.Name = "bench"
					c.Secret = "bench-secret-0123456789"
					c.Host = "127.0.0.1"
					c.Port = 0 // a free remoting port; ports are the cluster ports seeds name
					c.ClusterPort = ports[i]
					if s.configure != nil {
						s.configure(i, c)
					}
				}),
			}
			if s.options != nil {
				opts = append(opts, s.options(i)...)
			}
			nodes[i], errs[i] = foundation.Start(context.Background(), opts...)
		}()
	}
	wg.Wait()
	stop := func() {
		for _, n := range nodes {
			if n != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = n.Stop(ctx)
				cancel()
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			stop()
			return nil, 0, nil, err
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		all := true
		for _, n := range nodes {
			if !s.ready(n) {
				all = false
				break
			}
		}
		if all {
			return nodes, time.Since(t0), stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, 0, nil, fmt.Errorf("%d nodes: not formed within 20s", len(nodes))
		}
		time.Sleep(time.Millisecond)
	}
}
