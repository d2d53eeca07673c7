// Command demo starts a three-member Foundation cluster as three OS
// processes on 127.0.0.1 and shows them forming. Two of them call grains in
// a loop: node2 six "counter" identities (partitioned by rendezvous hash),
// node3 the "singleton" (on the oldest member, node1); the demo prints where
// each identity lives whenever that changes. It kills the singleton's host
// with kill -9 and prints how long the calls took to reach the singleton on
// its new member, shows the survivors removing the dead member, restarts it
// (counter identities it wins move back to it; the singleton stays), and
// stops everything gracefully.
//
//	make demo                 # static provider (seed list)
//	PROVIDER=mdns make demo   # zero-config mDNS, inside a private network namespace (root)
//
// The single-process tour of the process model is `go run ./examples/process`.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

const inNamespace = "FOUNDATION_DEMO_NETNS"

const (
	// counterIDs is the number of counter identities node2 calls.
	counterIDs = 6
	// phaseCalls is how many successful counter calls (20ms apart) each
	// phase of the demo lets run: about a second.
	phaseCalls = 50
)

func main() {
	if err := run(os.Getenv("PROVIDER"), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run runs the demo with provider ("static" when empty, or "mdns"),
// printing to out.
func run(provider string, out io.Writer) error {
	if provider == "" {
		provider = "static"
	}
	if provider != "static" && provider != "mdns" {
		return fmt.Errorf("PROVIDER=%q: the demo runs static or mdns", provider)
	}
	if provider == "mdns" && os.Getenv(inNamespace) == "" {
		return reexecInNamespace()
	}
	root, err := nodeproc.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "foundation-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	con := &console{out: out}
	con.printf("building examples/node ...\n")
	bin, err := nodeproc.Build(root, dir)
	if err != nil {
		return err
	}
	ports, err := nodeproc.FreePorts(3)
	if err != nil {
		return err
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	con.printf("starting 3 nodes (%s provider) on %s, one after another: Singleton places on the oldest\n", provider, strings.Join(seeds, ", "))
	env := []string{"FOUNDATION_LOG_LEVEL=warn", "FOUNDATION_NAME=demo", "FOUNDATION_SECRET=demo-secret-0123456789"}
	pl := &placement{con: con, names: map[string]string{}, where: map[string]string{}}
	var watchers sync.WaitGroup
	defer watchers.Wait() // after the processes are gone (deferred below)
	var all []*nodeproc.Proc
	defer func() {
		for _, p := range all {
			if !p.Exited() {
				_ = p.Kill()
				_ = p.Wait(time.Second)
			}
		}
	}()
	procs := make([]*nodeproc.Proc, 3)
	ids := make([]string, 3)
	// start runs node i+1 and waits until it has started (its member's
	// start time is then set: the next node is younger).
	start := func(i int, extra ...string) error {
		args := []string{"-host", "127.0.0.1", "-port", "0", "-cluster-port", strconv.Itoa(ports[i]), "-provider", provider}
		if provider == "static" {
			args = append(args, "-seeds", strings.Join(seeds, ","))
		} else {
			args = append(args, "-mdns-interfaces", "lo")
		}
		name := fmt.Sprintf("node%d", i+1)
		p, err := nodeproc.Start(name, bin, append(args, extra...), env, con)
		if err != nil {
			return err
		}
		all = append(all, p)
		l, _, err := p.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, 10*time.Second)
		if err != nil {
			return err
		}
		procs[i], ids[i] = p, nodeproc.Field(l, "id")
		pl.name(ids[i], name)
		return nil
	}
	t0 := time.Now()
	for i, drive := range [][]string{nil, {"-drive", "counter", "-drive-ids", strconv.Itoa(counterIDs)}, {"-drive", "singleton"}} {
		if err := start(i, drive...); err != nil {
			return err
		}
	}
	counter, singleton := procs[1], procs[2]
	for _, p := range []*nodeproc.Proc{counter, singleton} {
		watchers.Go(func() { pl.follow(p) })
	}
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members=3" }, 20*time.Second); err != nil {
			return err
		}
	}
	con.printf("== cluster formed: every node sees 3 members (%v after start)\n", time.Since(t0).Round(time.Millisecond))
	tally := newTally(con, counter, singleton)
	// run lets the drivers call for about a second, then counts the calls.
	run := func(phase string) error {
		if _, err := waitCalls(counter, len(counter.Lines()), phaseCalls, 10*time.Second); err != nil {
			return err
		}
		tally.report(phase)
		return nil
	}

	// Steady state: every counter identity and the singleton answered.
	if err := run("while the cluster runs"); err != nil {
		return err
	}
	l, _, err := singleton.WaitLine(0, okCall, 10*time.Second)
	if err != nil {
		return err
	}
	host := nodeproc.Field(l, "member")
	v := -1
	for i, id := range ids {
		if id == host {
			v = i
		}
	}
	if v != 0 {
		return fmt.Errorf("the singleton is on member %s, want the oldest, node1 (%s)", host, ids[0])
	}

	victim, victimID := procs[v], ids[v]
	marks := make([]int, 3)
	for i, p := range procs {
		marks[i] = len(p.Lines())
	}
	con.printf("== kill -9 %s (member %s), the singleton's host\n", victim.Name, victimID)
	killed := time.Now()
	pl.killed(victimID, killed)
	if err := victim.Kill(); err != nil {
		return err
	}
	l, _, err = singleton.WaitLine(marks[2], func(l string) bool {
		return okCall(l) && nodeproc.Field(l, "member") != victimID
	}, 5*time.Second)
	if err != nil {
		return err
	}
	at, _ := strconv.ParseInt(nodeproc.Field(l, "at"), 10, 64)
	con.printf("== singleton failover: %s's first call answered on %s %v after the kill (that call took %s)\n",
		singleton.Name, pl.nameOf(nodeproc.Field(l, "member")), time.Unix(0, at).Sub(killed).Round(time.Microsecond), nodeproc.Field(l, "took"))
	_ = victim.Wait(5 * time.Second)
	for i, p := range procs[1:] {
		if _, _, err := p.WaitLine(marks[i+1], func(l string) bool {
			return strings.HasPrefix(l, "event removed ") && nodeproc.Field(l, "id") == victimID
		}, 5*time.Second); err != nil {
			return err
		}
		con.printf("== %s removed %s %v after the kill\n", p.Name, victim.Name, time.Since(killed).Round(time.Millisecond))
	}
	if err := run("since the kill"); err != nil {
		return err
	}

	con.printf("== restart %s: a new run (new member id) at the same address; the counter identities it wins move to it, the singleton stays on the oldest\n", victim.Name)
	marks = []int{0, len(counter.Lines()), len(singleton.Lines())}
	if err := start(v); err != nil {
		return err
	}
	for i, p := range procs[1:] {
		if _, _, err := p.WaitLine(marks[i+1], func(l string) bool {
			return strings.HasPrefix(l, "event joined ") && nodeproc.Field(l, "id") == ids[v]
		}, 10*time.Second); err != nil {
			return err
		}
	}
	if err := run("since the restart"); err != nil {
		return err
	}
	l, _, err = singleton.WaitLine(len(singleton.Lines()), okCall, 5*time.Second)
	if err != nil {
		return err
	}
	con.printf("== the singleton is still on %s\n", pl.nameOf(nodeproc.Field(l, "member")))

	con.printf("== stopping every node gracefully (SIGTERM)\n")
	for _, p := range procs {
		_ = p.Terminate()
	}
	for _, p := range procs {
		if err := p.Wait(10 * time.Second); err != nil {
			return err
		}
	}
	con.printf("== done in %v\n", time.Since(t0).Round(time.Millisecond))
	return nil
}

// okCall matches a node's line for a successful grain call.
func okCall(l string) bool {
	return strings.HasPrefix(l, "call ") && nodeproc.Field(l, "ok") == "true"
}

// waitCalls waits until p has printed n successful calls after its first
// `from` lines, and returns the index of the last.
func waitCalls(p *nodeproc.Proc, from, n int, timeout time.Duration) (int, error) {
	seen := 0
	_, i, err := p.WaitLine(from, func(l string) bool {
		if okCall(l) {
			seen++
		}
		return seen == n
	}, timeout)
	return i, err
}

// tally counts the drivers' calls between reports.
type tally struct {
	con   *console
	procs []*nodeproc.Proc
	marks []int
}

func newTally(con *console, procs ...*nodeproc.Proc) *tally {
	t := &tally{con: con, procs: procs, marks: make([]int, len(procs))}
	for i, p := range procs {
		t.marks[i] = len(p.Lines())
	}
	return t
}

// report prints each driver's successful and failed calls since the last
// report.
func (t *tally) report(phase string) {
	var parts []string
	for i, p := range t.procs {
		lines := p.Lines()
		kind, ok, failed := "", 0, 0
		for _, l := range lines[t.marks[i]:] {
			if !strings.HasPrefix(l, "call ") {
				continue
			}
			kind = nodeproc.Field(l, "kind")
			if nodeproc.Field(l, "ok") == "true" {
				ok++
			} else {
				failed++
			}
		}
		t.marks[i] = len(lines)
		parts = append(parts, fmt.Sprintf("%s %d %s calls ok, %d failed", p.Name, ok, kind, failed))
	}
	t.con.printf("== calls %s: %s\n", phase, strings.Join(parts, "; "))
}

// console writes the nodes' output and the demo's own lines to stdout, one
// whole line at a time. It leaves out the nodes' per-call lines: the
// placement follower reports what they show.
type console struct {
	mu  sync.Mutex
	out io.Writer
}

func (c *console) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("] call ")) {
		return len(p), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, format, args...)
}

// placement follows the drivers' call lines and prints where each grain
// identity lives when that changes.
type placement struct {
	con *console

	mu       sync.Mutex
	names    map[string]string // member id -> node name
	where    map[string]string // "kind/identity" -> member id
	victim   string            // member id killed, once killed
	killedAt time.Time
}

func (p *placement) name(id, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.names[id] = name
}

func (p *placement) nameOf(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nameLocked(id)
}

func (p *placement) nameLocked(id string) string {
	if n, ok := p.names[id]; ok {
		return n + " (" + id + ")"
	}
	return id
}

func (p *placement) killed(id string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.victim, p.killedAt = id, at
}

// follow reads proc's successful calls until it exits.
func (p *placement) follow(proc *nodeproc.Proc) {
	for i := 0; ; i++ {
		l, idx, err := proc.WaitLine(i, okCall, time.Minute)
		if err != nil {
			return
		}
		i = idx
		p.observe(l)
	}
}

func (p *placement) observe(l string) {
	key := nodeproc.Field(l, "kind") + "/" + nodeproc.Field(l, "id")
	member := nodeproc.Field(l, "member")
	ns, _ := strconv.ParseInt(nodeproc.Field(l, "at"), 10, 64)
	at := time.Unix(0, ns)
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, seen := p.where[key]
	if prev == member {
		return
	}
	p.where[key] = member
	note := ""
	if seen && prev == p.victim && at.After(p.killedAt) {
		note = fmt.Sprintf("  (its host was killed %v earlier)", at.Sub(p.killedAt).Round(time.Millisecond))
	}
	p.con.printf("   %-16s -> %s%s\n", key, p.nameLocked(member), note)
}

// reexecInNamespace runs this demo again inside a new network namespace whose
// loopback carries multicast, so that mDNS never reaches a real interface.
func reexecInNamespace() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("PROVIDER=mdns needs root to create a private network namespace (unshare -n); run as root or use the static provider")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("PROVIDER=mdns needs %s (Debian: util-linux, iproute2)", tool)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script := `set -e; ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo; exec "$0"`
	cmd := exec.Command("unshare", "-n", "sh", "-c", script, self)
	cmd.Env = append(os.Environ(), inNamespace+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Println("== entering a private network namespace for mDNS")
	return cmd.Run()
}
