package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

const (
	// gfHosts is the number of examples/node processes hosting the grain
	// kinds; a killed one is restarted, so there are always gfHosts.
	gfHosts = 3
	// gfInterval is the driver's interval between singleton calls: the
	// first call after a kill starts at most this long after it.
	gfInterval = time.Millisecond
	// gfWait bounds each wait for a node's output line.
	gfWait = 10 * time.Second
)

// grainFailover measures singleton failover across OS processes. It runs
// gfHosts examples/node processes hosting the grain kinds, plus a driver
// process that only calls them (-grain-host=false) and calls the
// "singleton" grain every gfInterval, so the driver never hosts the
// singleton and every round measures a remote failover. Each of `kills`
// rounds (at least 5) kills the singleton's host with kill -9 and records
// the time from the kill to the end of the driver's first successful call
// answered by another member (the driver stamps each call with the time it
// returned, by the same machine clock). Then it waits until the driver has
// removed the dead member, restarts it at the same address (a new run, the
// youngest member: the singleton stays where it went) and waits until every
// process sees all four members again. It returns the median and the
// maximum over the rounds.
func grainFailover(kills int) (p50, worst time.Duration, err error) {
	if kills < 5 {
		return 0, 0, fmt.Errorf("grainFailover: kills = %d, want >= 5", kills)
	}
	root, err := nodeproc.ModuleRoot()
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp("", "foundation-bench-failover")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	bin, err := nodeproc.Build(root, dir)
	if err != nil {
		return 0, 0, err
	}
	ports, err := nodeproc.FreePorts(gfHosts + 1)
	if err != nil {
		return 0, 0, err
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	env := []string{"FOUNDATION_PROFILE=development", "FOUNDATION_LOG_LEVEL=error",
		"FOUNDATION_NAME=bench-failover", "FOUNDATION_SECRET=bench-secret-0123456789"}
	// procs[0:gfHosts] host the kinds; procs[gfHosts] is the driver.
	procs := make([]*nodeproc.Proc, gfHosts+1)
	ids := make([]string, gfHosts+1)
	var all []*nodeproc.Proc
	defer func() {
		for _, p := range all {
			if !p.Exited() {
				_ = p.Kill()
				_ = p.Wait(5 * time.Second)
			}
		}
	}()
	start := func(i int) error {
		args := []string{"-host", "127.0.0.1", "-port", "0", "-cluster-port", strconv.Itoa(ports[i]), "-provider", "static", "-seeds", strings.Join(seeds, ",")}
		name := fmt.Sprint("host", i)
		if i == gfHosts {
			name = "driver"
			args = append(args, "-grain-host=false", "-drive", "singleton", "-drive-interval", gfInterval.String())
		}
		p, err := nodeproc.Start(name, bin, args, env, nil)
		if err != nil {
			return err
		}
		all = append(all, p)
		l, _, err := p.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, gfWait)
		if err != nil {
			return err
		}
		procs[i], ids[i] = p, nodeproc.Field(l, "id")
		return nil
	}
	for i := range procs {
		if err := start(i); err != nil {
			return 0, 0, err
		}
	}
	full := fmt.Sprintf("view members=%d", gfHosts+1)
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == full }, gfWait); err != nil {
			return 0, 0, err
		}
	}
	driver := procs[gfHosts]
	okCall := func(l string) bool {
		return strings.HasPrefix(l, "call ") && nodeproc.Field(l, "ok") == "true"
	}
	var results []time.Duration
	for round := 0; round < kills; round++ {
		// The singleton's host: the member that answers a call made now.
		l, _, err := driver.WaitLine(len(driver.Lines()), okCall, gfWait)
		if err != nil {
			return 0, 0, err
		}
		hostID := nodeproc.Field(l, "member")
		v := slices.Index(ids[:gfHosts], hostID)
		if v < 0 {
			return 0, 0, fmt.Errorf("round %d: the singleton answered from %q, not a hosting process %v", round, hostID, ids[:gfHosts])
		}
		marks := make([]int, len(procs))
		for i, p := range procs {
			marks[i] = len(p.Lines())
		}
		killed := time.Now()
		if err := procs[v].Kill(); err != nil {
			return 0, 0, err
		}
		l, _, err = driver.WaitLine(marks[gfHosts], func(l string) bool {
			return okCall(l) && nodeproc.Field(l, "member") != hostID
		}, gfWait)
		if err != nil {
			return 0, 0, fmt.Errorf("round %d: no call answered by another member after kill -9 of %s: %w", round, procs[v].Name, err)
		}
		at, err := strconv.ParseInt(nodeproc.Field(l, "at"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("round %d: call line without at=: %q", round, l)
		}
		results = append(results, time.Unix(0, at).Sub(killed))
		_ = procs[v].Wait(5 * time.Second)

		// Restart it once every process has removed it, and wait until all
		// see the new run.
		for i, p := range procs {
			if i == v {
				continue
			}
			if _, _, err := p.WaitLine(marks[i], func(l string) bool {
				return strings.HasPrefix(l, "event removed ") && nodeproc.Field(l, "id") == hostID
			}, gfWait); err != nil {
				return 0, 0, err
			}
			marks[i] = len(p.Lines())
		}
		if err := start(v); err != nil {
			return 0, 0, err
		}
		for i, p := range procs {
			match := func(l string) bool { return strings.HasPrefix(l, "event joined ") && nodeproc.Field(l, "id") == ids[v] }
			from := marks[i]
			if i == v {
				match, from = func(l string) bool { return l == full }, 0
			}
			if _, _, err := p.WaitLine(from, match, gfWait); err != nil {
				return 0, 0, err
			}
		}
	}
	slices.Sort(results)
	return results[len(results)/2], results[len(results)-1], nil
}
