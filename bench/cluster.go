package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	pactor "github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/labstack/echo"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
)

func init() {
	register("cluster", "membership: formation (static, mdns, 50 members; proto.actor automanaged and test provider), kill -9 detection, blackhole failover in the production profile (root: network namespaces)", runCluster)
	register("cluster-mdns-child", "internal: the mDNS formation run inside a network namespace", runMDNSChild)
	register("cluster-blackhole", "internal: only the blackhole part of the cluster scenario", runBlackhole)
	register("cluster-scale", "internal: only the fifty-member part of the cluster scenario", runScale)
}

const (
	clusterSize = 3
	killRounds  = 5
)

func runCluster(out *report) error {
	var st []float64
	for i := 0; i < 3; i++ {
		d, err := formationFoundation("static", nil)
		if err != nil {
			return err
		}
		st = append(st, ms(d))
	}
	out.figure("formation_ms_static", median(st), "ms")

	if err := formationMDNS(out); err != nil {
		return err
	}

	det, worst, err := detectionKill()
	if err != nil {
		return err
	}
	out.figure("detection_ms_kill", det, "ms")
	out.figure("detection_ms_kill_max", worst, "ms")

	pa, err := formationProtoActorAutomanaged()
	if err != nil {
		return err
	}
	out.figure("formation_ms_protoactor_automanaged", ms(pa), "ms")
	var pt []float64
	for i := 0; i < 3; i++ {
		d, err := formationProtoActorTest()
		if err != nil {
			return err
		}
		pt = append(pt, ms(d))
	}
	out.figure("formation_ms_protoactor_test_provider", median(pt), "ms")
	out.figure("formation_static_ratio", median(st)/ms(pa), "x")
	out.figure("formation_static_vs_test_provider_ratio", median(st)/median(pt), "x")

	if err := runScale(out); err != nil {
		return err
	}
	return runBlackhole(out)
}

// runScale prints the fifty-member figures (also "go run ./bench
// cluster-scale" alone).
func runScale(out *report) error {
	var f50, d50 []float64
	for i := 0; i < 3; i++ {
		f, d, err := formationScale(scaleMembers)
		if err != nil {
			return err
		}
		f50, d50 = append(f50, ms(f)), append(d50, ms(d))
	}
	out.figure(fmt.Sprintf("formation_ms_%d", scaleMembers), median(f50), "ms")
	out.figure(fmt.Sprintf("detection_ms_%d", scaleMembers), median(d50), "ms")
	return nil
}

// runBlackhole prints the blackhole figures (also "go run ./bench
// cluster-blackhole" alone).
func runBlackhole(out *report) error {
	detect, remove, fenced, failover, err := blackhole(5)
	if err != nil {
		return fmt.Errorf("blackhole: %w", err)
	}
	msAll := func(ds []time.Duration) []float64 {
		out := make([]float64, len(ds))
		for i, d := range ds {
			out[i] = ms(d)
		}
		sort.Float64s(out)
		return out
	}
	out.figure("detection_ms_blackhole", median(msAll(detect)), "ms")
	out.figure("removal_ms_blackhole", median(msAll(remove)), "ms")
	out.figure("fenced_ms_blackhole", median(msAll(fenced)), "ms")
	fo := msAll(failover)
	out.figure("failover_ms_blackhole", median(fo), "ms")
	out.figure("failover_ms_blackhole_max", fo[len(fo)-1], "ms")
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// formationFoundation starts clusterSize nodes at once with foundation.Start
// and returns the time until every node sees all of them.
func formationFoundation(provider string, extra func(*cluster.Config)) (time.Duration, error) {
	ports, err := nodeproc.FreePorts(clusterSize)
	if err != nil {
		return 0, err
	}
	seeds := staticSeeds(ports)
	_, d, stop, err := startNodes(ports, nodeSetup{
		configure: func(_ int, c *cluster.Config) {
			c.Provider = provider
			c.Seeds = seeds
			if extra != nil {
				extra(c)
			}
		},
		ready: seesMembers(clusterSize),
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", provider, err)
	}
	stop()
	return d, nil
}

// netnsMarker is set by formationMDNS for the child it starts inside a new
// network namespace.
const netnsMarker = "FOUNDATION_BENCH_NETNS"

// formationMDNS reruns this program inside a new network namespace (mDNS
// never reaches a real interface) and relays the figure it prints.
func formationMDNS(out *report) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("formation_ms_mdns needs root for a private network namespace (unshare -n)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script := `set -e; ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo; ` + netnsMarker + `=1 exec "$0" cluster-mdns-child`
	b, err := exec.Command("unshare", "-n", "sh", "-c", script, self).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mdns child: %v\n%s", err, b)
	}
	fmt.Print(string(b))
	return nil
}

func runMDNSChild(out *report) error {
	if os.Getenv(netnsMarker) != "1" {
		return fmt.Errorf("cluster-mdns-child runs only inside the network namespace that the cluster scenario creates (it sends multicast); run \"go run ./bench cluster\"")
	}
	var v []float64
	for i := 0; i < 3; i++ {
		d, err := formationFoundation("mdns", func(c *cluster.Config) { c.MDNS.Interfaces = []string{"lo"} })
		if err != nil {
			return err
		}
		v = append(v, ms(d))
	}
	out.figure("formation_ms_mdns", median(v), "ms")
	return nil
}

// detectionKill runs examples/node as clusterSize processes, kills one with
// kill -9 killRounds times (restarting it in between) and measures the time
// until every survivor has removed it. It returns the median and the maximum.
func detectionKill() (float64, float64, error) {
	root, err := nodeproc.ModuleRoot()
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp("", "foundation-bench")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	bin, err := nodeproc.Build(root, dir)
	if err != nil {
		return 0, 0, err
	}
	ports, err := nodeproc.FreePorts(clusterSize)
	if err != nil {
		return 0, 0, err
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	env := []string{"FOUNDATION_LOG_LEVEL=error", "FOUNDATION_NAME=bench", "FOUNDATION_SECRET=bench-secret-0123456789"}
	start := func(i int) (*nodeproc.Proc, error) {
		return nodeproc.Start(fmt.Sprint("node", i), bin,
			[]string{"-host", "127.0.0.1", "-port", "0", "-cluster-port", strconv.Itoa(ports[i]), "-provider", "static", "-seeds", strings.Join(seeds, ",")}, env, nil)
	}
	procs := make([]*nodeproc.Proc, clusterSize)
	defer func() {
		for _, p := range procs {
			if p != nil {
				_ = p.Kill()
				_ = p.Wait(5 * time.Second)
			}
		}
	}()
	for i := range procs {
		if procs[i], err = start(i); err != nil {
			return 0, 0, err
		}
	}
	var results []float64
	for round := 0; round < killRounds; round++ {
		marks := make([]int, clusterSize)
		for i, p := range procs {
			if _, idx, err := p.WaitLine(0, func(l string) bool { return l == "view members=3" }, 20*time.Second); err != nil {
				return 0, 0, err
			} else {
				marks[i] = idx
			}
			// Only lines after the full view count.
			marks[i] = len(p.Lines())
		}
		victim := round % clusterSize
		l, _, err := procs[victim].WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, time.Second)
		if err != nil {
			return 0, 0, err
		}
		id := nodeproc.Field(l, "id")
		killed := time.Now()
		if err := procs[victim].Kill(); err != nil {
			return 0, 0, err
		}
		var worst time.Duration
		for i, p := range procs {
			if i == victim {
				continue
			}
			if _, _, err := p.WaitLine(marks[i], func(l string) bool {
				return strings.HasPrefix(l, "event removed ") && nodeproc.Field(l, "id") == id
			}, 10*time.Second); err != nil {
				return 0, 0, err
			}
			if d := time.Since(killed); d > worst {
				worst = d
			}
		}
		results = append(results, ms(worst))
		_ = procs[victim].Wait(5 * time.Second)
		if procs[victim], err = start(victim); err != nil {
			return 0, 0, err
		}
	}
	sort.Float64s(results)
	return median(results), results[len(results)-1], nil
}

// formationProtoActorAutomanaged starts clusterSize raw proto.actor members
// with the automanaged provider (its default 2 s refresh), each health
// endpoint on a 127.0.0.1 listener of ours, and returns the time until every
// member list holds all of them. proto.actor's StartMember sleeps 1 s; the
// members start concurrently.
func formationProtoActorAutomanaged() (time.Duration, error) {
	ports, err := nodeproc.FreePorts(2 * clusterSize)
	if err != nil {
		return 0, err
	}
	var hosts []string
	for i := 0; i < clusterSize; i++ {
		hosts = append(hosts, "127.0.0.1:"+strconv.Itoa(ports[clusterSize+i]))
	}
	clusters := make([]*pcluster.Cluster, clusterSize)
	echos := make([]*echo.Echo, clusterSize)
	for i := range clusters {
		l, err := net.Listen("tcp", hosts[i])
		if err != nil {
			return 0, err
		}
		e := echo.New()
		e.HideBanner, e.HidePort = true, true
		e.Listener = l
		echos[i] = e
		prov := automanaged.NewWithTesting(2*time.Second, ports[clusterSize+i], e, hosts...)
		sys := pactor.NewActorSystem(quietProtoActor()...)
		cfg := pcluster.Configure("bench", prov, disthash.New(), remote.Configure("127.0.0.1", ports[i]))
		c := pcluster.New(sys, cfg)
		node := automanaged.NewNode("bench", sys.ID, "127.0.0.1", ports[i], ports[clusterSize+i], nil)
		e.GET("/_health", func(ctx echo.Context) error { return ctx.JSON(http.StatusOK, node) })
		clusters[i] = c
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	for _, c := range clusters {
		wg.Add(1)
		go func() { defer wg.Done(); c.StartMember() }()
	}
	defer func() {
		for i, c := range clusters {
			c.Shutdown(false)
			_ = echos[i].Close()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		all := true
		for _, c := range clusters {
			if c.MemberList == nil || c.MemberList.Members().Len() != clusterSize {
				all = false
			}
		}
		if all {
			d := time.Since(t0)
			wg.Wait()
			return d, nil
		}
		if time.Now().After(deadline) {
			wg.Wait()
			return 0, fmt.Errorf("proto.actor automanaged: no formation within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}
