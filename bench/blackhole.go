package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foundation-go/foundation/internal/netlab"
	"github.com/foundation-go/foundation/internal/nodeproc"
)

// bhHosts is the number of examples/node processes hosting the grain kinds
// in the blackhole scenario; one more host runs the driver.
const bhHosts = 3

// blackhole measures failover when a host vanishes without a RST, in the
// production profile. Each examples/node process runs in a network
// namespace of its own (internal/netlab: 10.77.0.x behind a bridge in a
// namespace of the lab's; nothing touches the machine's network), on the
// production ports 7350 and 7351. A driver on a fourth host calls the
// singleton every bhInterval. Each round cuts the singleton's host off the
// bridge (its traffic is dropped: no RST, no refused connection) and
// records:
//   - detection: until every survivor reports it unreachable (SWIM
//     declared it failed);
//   - removal: until every survivor removed it (the split-brain resolver);
//   - fenced: until the cut host itself reports that it stopped hosting
//     exclusive grains;
//   - failover: until the driver's first successful call answered by
//     another member.
//
// The cut host is then killed and restarted on a restored link (a new run,
// the youngest: the singleton stays where it went).
func blackhole(rounds int) (detect, remove, fenced, failover []time.Duration, err error) {
	lab, err := netlab.New(bhHosts + 1)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer lab.Close()
	root, err := nodeproc.ModuleRoot()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	dir, err := os.MkdirTemp("", "foundation-bench-blackhole")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := nodeproc.Build(root, dir)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var seeds []string
	for i := 0; i <= bhHosts; i++ {
		seeds = append(seeds, lab.IP(i)+":7351")
	}
	env := []string{"FOUNDATION_PROFILE=production", "FOUNDATION_LOG_LEVEL=error", "FOUNDATION_NAME=bench-blackhole",
		"FOUNDATION_SECRET=bench-secret-0123456789", "FOUNDATION_PROVIDER=static", "FOUNDATION_SEEDS=" + strings.Join(seeds, ",")}
	procs := make([]*nodeproc.Proc, bhHosts+1)
	ids := make([]string, bhHosts+1)
	var all []*nodeproc.Proc
	defer func() {
		for _, p := range all {
			if !p.Exited() {
				_ = p.Kill()
				_ = p.Wait(5 * time.Second)
			}
		}
	}()
	const wait = 20 * time.Second
	start := func(i int) error {
		args := []string{"-host", lab.IP(i)}
		name := fmt.Sprint("host", i)
		if i == bhHosts {
			name = "driver"
			args = append(args, "-grain-host=false", "-drive", "singleton", "-drive-interval", "5ms")
		}
		p, err := nodeproc.StartIn(lab.Command(i), name, bin, args, env, nil)
		if err != nil {
			return err
		}
		all = append(all, p)
		l, _, err := p.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, wait)
		if err != nil {
			return err
		}
		procs[i], ids[i] = p, nodeproc.Field(l, "id")
		return nil
	}
	for i := range procs {
		if err := start(i); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	full := fmt.Sprintf("view members=%d", bhHosts+1)
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == full }, wait); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	driver := procs[bhHosts]
	okCall := func(l string) bool { return strings.HasPrefix(l, "call ") && nodeproc.Field(l, "ok") == "true" }
	lineAt := func(l string) (time.Time, error) {
		at, err := strconv.ParseInt(nodeproc.Field(l, "at"), 10, 64)
		return time.Unix(0, at), err
	}
	for round := 0; round < rounds; round++ {
		l, _, err := driver.WaitLine(len(driver.Lines()), okCall, wait)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		hostID := nodeproc.Field(l, "member")
		v := slices.Index(ids[:bhHosts], hostID)
		if v < 0 {
			return nil, nil, nil, nil, fmt.Errorf("round %d: the singleton answered from %q, not a hosting process", round, hostID)
		}
		marks := make([]int, len(procs))
		for i, p := range procs {
			marks[i] = len(p.Lines())
		}
		cut := time.Now()
		if err := lab.Cut(v); err != nil {
			return nil, nil, nil, nil, err
		}
		// The cut host: it fences itself (its own clock: the line is read
		// as it comes, so the time is when this process read it).
		fl, _, err := procs[v].WaitLine(marks[v], func(l string) bool {
			return strings.HasPrefix(l, "event self status=fenced") || strings.HasPrefix(l, "event self status=downed")
		}, wait)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("round %d: the cut host never fenced itself: %w", round, err)
		}
		fenced = append(fenced, eventAt(fl).Sub(cut))
		l, _, err = driver.WaitLine(marks[bhHosts], func(l string) bool { return okCall(l) && nodeproc.Field(l, "member") != hostID }, wait)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("round %d: no call answered elsewhere after the cut: %w", round, err)
		}
		at, err := lineAt(l)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		failover = append(failover, at.Sub(cut))
		var worstU, worstR time.Duration
		for i, p := range procs {
			if i == v {
				continue
			}
			ul, _, err := p.WaitLine(marks[i], func(l string) bool {
				return strings.HasPrefix(l, "event unreachable ") && nodeproc.Field(l, "id") == hostID
			}, wait)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			worstU = max(worstU, eventAt(ul).Sub(cut))
		}
		for i, p := range procs {
			if i == v {
				continue
			}
			rl, _, err := p.WaitLine(marks[i], func(l string) bool {
				return strings.HasPrefix(l, "event removed ") && nodeproc.Field(l, "id") == hostID
			}, wait)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			worstR = max(worstR, eventAt(rl).Sub(cut))
		}
		detect, remove = append(detect, worstU), append(remove, worstR)
		// The cut host deactivated its singleton (OnDeactivate returned)
		// before the new activation started elsewhere (OnActivate): never
		// two at once. Both lines carry their time on this machine's clock.
		dl, _, err := procs[v].WaitLine(marks[v], func(l string) bool { return strings.HasPrefix(l, "grain deactivate kind=singleton") }, wait)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("round %d: the cut host kept its singleton: %w", round, err)
		}
		newHost := slices.Index(ids, nodeproc.Field(l, "member"))
		al, _, err := procs[newHost].WaitLine(marks[newHost], func(l string) bool { return strings.HasPrefix(l, "grain activate kind=singleton") }, wait)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		deact, _ := lineAt(dl)
		act, _ := lineAt(al)
		if !deact.Before(act) {
			return nil, nil, nil, nil, fmt.Errorf("round %d: the singleton ran twice: activated on %s at %v, deactivated on the cut host only at %v",
				round, procs[newHost].Name, act.Sub(cut), deact.Sub(cut))
		}
		_ = procs[v].Kill()
		_ = procs[v].Wait(5 * time.Second)
		if err := lab.Restore(v); err != nil {
			return nil, nil, nil, nil, err
		}
		for i := range marks {
			marks[i] = len(procs[i].Lines())
		}
		if err := start(v); err != nil {
			return nil, nil, nil, nil, err
		}
		for i, p := range procs {
			match := func(l string) bool { return strings.HasPrefix(l, "event joined ") && nodeproc.Field(l, "id") == ids[v] }
			from := marks[i]
			if i == v {
				match, from = func(l string) bool { return l == full }, 0
			}
			if _, _, err := p.WaitLine(from, match, wait); err != nil {
				return nil, nil, nil, nil, err
			}
		}
	}
	return detect, remove, fenced, failover, nil
}

// eventAt is when an examples/node event line says its event happened
// (ns=, this machine's clock).
func eventAt(l string) time.Time {
	ns, _ := strconv.ParseInt(nodeproc.Field(l, "ns"), 10, 64)
	return time.Unix(0, ns)
}
