package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/provharness"
)

func init() {
	register("providers", "cluster formation through each discovery back-end in its harness", runProviders)
}

func runProviders(out *report) error {
	for _, name := range provharness.Names {
		var runs []float64
		for i := 0; i < 3; i++ {
			d, err := formationVia(name)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			runs = append(runs, ms(d))
		}
		out.figure("formation_ms_"+name, median(runs), "ms")
	}
	return nil
}

// formationVia starts clusterSize nodes at once, discovering each other
// through back-end name, and returns the time until every node sees all.
// The back-end is started first and is not counted.
func formationVia(name string) (time.Duration, error) {
	ports, err := nodeproc.FreePorts(clusterSize)
	if err != nil {
		return 0, err
	}
	b, err := provharness.Start(name, ports)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	env := func(string) (string, bool) { return "", false }
	nodes := make([]*foundation.Node, clusterSize)
	errs := make([]error, clusterSize)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := append([]foundation.Option{
				foundation.WithEnv(env),
				foundation.WithLogger(zap.NewNop()),
				foundation.WithConfig(func(c *cluster.Config) {
					c.Name = "bench"
					c.Secret = "bench-secret-0123456789"
					c.Host = "127.0.0.1"
					c.Port = ports[i]
					b.Configure(i, c)
				}),
			}, b.Options(i)...)
			nodes[i], errs[i] = foundation.Start(context.Background(), opts...)
		}()
	}
	wg.Wait()
	defer func() {
		for _, n := range nodes {
			if n != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = n.Stop(ctx)
				cancel()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		all := true
		for _, n := range nodes {
			if len(n.Membership.Members()) != clusterSize {
				all = false
			}
		}
		if all {
			return time.Since(t0), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no formation within 20s")
		}
		time.Sleep(time.Millisecond)
	}
}
