package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/work"
)

func init() {
	register("work", "distributed task runs: 400 tasks of a simulated 20 ms model call, 4 at once per member, over 5 members against over 1, and against a local goroutine pool with the same cap (6 nodes on 127.0.0.1: a caller and 5 members of the role)", runWork)
}

const (
	workMembers = 5
	workTasks   = 400
	workCap     = 4 // workers per member
	workDelay   = 20 * time.Millisecond
	workRounds  = 5
)

// workModel is the simulated model call: it waits workDelay (or until
// its ctx ends) and returns a score derived from the task.
func workModel(ctx context.Context, i int) (int, error) {
	t := time.NewTimer(workDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return i % 97, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

var workKind = work.Kind[int, int]{Name: "bench-model", Handler: workModel, Workers: workCap}

// workLocalPool runs the tasks on goroutines of this process, at most
// limit at once: the ideal a run is compared with.
func workLocalPool(tasks []int, limit int) (time.Duration, error) {
	sem := make(chan struct{}, limit)
	out := make([]int, len(tasks))
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, in := range tasks {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = workModel(context.Background(), in)
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return d, nil
}

// workRun runs the tasks over the members of role and checks the results.
func workRun(ctx context.Context, h *work.Host, tasks []int, role map[string]string) (time.Duration, error) {
	t0 := time.Now()
	res, err := work.Run(ctx, h, workKind, tasks, work.Role(role))
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	for i, r := range res {
		if r.Err != nil || r.Value != tasks[i]%97 {
			return 0, fmt.Errorf("task %d: %+v", i, r)
		}
	}
	return d, nil
}

// runWork: a caller node and five nodes of the role run workTasks tasks
// (workRounds interleaved rounds after a warm-up): on a local pool of
// workCap goroutines, over one member, over the five, and on a local pool
// of five times the cap. work_speedup_5_members is one member's time over
// five members'; work_overhead_us_per_task is (one member's time - the
// local pool's) / tasks, the elapsed time a run adds per task to the same
// work at the same cap; the _5_members one compares with the pool of 20.
func runWork(out *report) error {
	ports, err := nodeproc.FreePorts(workMembers + 1)
	if err != nil {
		return err
	}
	seeds := staticSeeds(ports)
	nodes, _, stop, err := startNodes(ports, nodeSetup{
		configure: func(i int, c *cluster.Config) {
			c.Provider = cluster.ProviderStatic
			c.Seeds = seeds
			if i > 0 {
				// Node 0 calls; nodes 1-5 run the kind.
				c.Labels = map[string]string{"tier": "ai", "name": fmt.Sprintf("w%d", i)}
			}
		},
		options: func(i int) []foundation.Option {
			if i == 0 {
				return nil
			}
			return []foundation.Option{foundation.WithTasks(workKind)}
		},
		ready: seesMembers(workMembers + 1),
	})
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tasks := make([]int, workTasks)
	for i := range tasks {
		tasks[i] = i
	}
	all := map[string]string{"tier": "ai"}
	one := map[string]string{"tier": "ai", "name": "w1"}
	h := nodes[0].Work
	// Warm-up: the streams to every member open.
	if _, err := workRun(ctx, h, tasks[:40], all); err != nil {
		return err
	}
	var local1, local5, over1, over5 []float64
	for range workRounds {
		d, err := workLocalPool(tasks, workCap)
		if err != nil {
			return err
		}
		local1 = append(local1, d.Seconds())
		if d, err = workLocalPool(tasks, workCap*workMembers); err != nil {
			return err
		}
		local5 = append(local5, d.Seconds())
		if d, err = workRun(ctx, h, tasks, one); err != nil {
			return err
		}
		over1 = append(over1, d.Seconds())
		if d, err = workRun(ctx, h, tasks, all); err != nil {
			return err
		}
		over5 = append(over5, d.Seconds())
	}
	// Each round's ratio and differences, then their medians: a round's
	// four runs share that moment's load.
	var speedup, over1us, over5us []float64
	for r := range workRounds {
		speedup = append(speedup, over1[r]/over5[r])
		over1us = append(over1us, (over1[r]-local1[r])*1e6/workTasks)
		over5us = append(over5us, (over5[r]-local5[r])*1e6/workTasks)
	}
	out.figure("work_local_pool_ms", median(local1)*1e3, "ms")
	out.figure("work_1_member_ms", median(over1)*1e3, "ms")
	out.figure("work_5_members_ms", median(over5)*1e3, "ms")
	out.figure("work_speedup_5_members", median(speedup), "ratio")
	out.figure("work_overhead_us_per_task", median(over1us), "us")
	out.figure("work_local_pool_20_ms", median(local5)*1e3, "ms")
	out.figure("work_overhead_5_members_us_per_task", median(over5us), "us")
	return nil
}
