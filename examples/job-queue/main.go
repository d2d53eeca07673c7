// Command job-queue runs a job queue over a three-node Foundation cluster
// in one process on 127.0.0.1. Workers are instances of a service on every
// node; producers on two nodes balance jobs over them with a round-robin
// router, retry a failed job with a doubling backoff, and put a job that
// failed every attempt on a dead-letter list replicated to every node.
// Jobs fail deterministically: ids divisible by 7 fail once, ids
// divisible by 13 always. It prints a summary and the dead letters.
//
//	go run ./examples/job-queue
//	go run ./examples/job-queue -jobs 500 -attempts 4
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/router"
	"github.com/foundation-go/foundation/service"
)

const (
	// nodes is the size of the cluster; producers run on the first two.
	nodes     = 3
	producers = 2
	// workersPerNode is how many worker instances each node registers.
	workersPerNode = 2
	// lanes is how many jobs each producer has in flight at once.
	lanes = 4
)

func main() {
	o := defaultOptions()
	flag.IntVar(&o.Jobs, "jobs", o.Jobs, "how many jobs to submit (ids 1..jobs), 1 to 100000")
	flag.IntVar(&o.Retry.Attempts, "attempts", o.Retry.Attempts, "attempts per job before it is dead-lettered")
	flag.DurationVar(&o.Retry.Backoff, "backoff", o.Retry.Backoff, "wait before a job's second attempt; doubles for each later one")
	flag.DurationVar(&o.Retry.MaxBackoff, "max-backoff", o.Retry.MaxBackoff, "longest wait between two attempts (at least -backoff)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	log, err := zap.NewDevelopment(zap.IncreaseLevel(zap.WarnLevel))
	if err != nil {
		fmt.Fprintln(os.Stderr, "job-queue:", err)
		os.Exit(1)
	}
	o.Log = log
	if _, err := run(ctx, os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "job-queue:", err)
		os.Exit(1)
	}
}

// options configure run.
type options struct {
	// Jobs is how many jobs are submitted: ids 1..Jobs.
	Jobs int
	// Retry is the producers' retry policy.
	Retry retryPolicy
	// Log receives the nodes' warnings. Nil: none.
	Log *zap.Logger
}

func defaultOptions() options {
	return options{
		Jobs:  100,
		Retry: retryPolicy{Attempts: 3, Backoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, AttemptTimeout: 5 * time.Second},
	}
}

// summary is what a run did.
type summary struct {
	Submitted, Done, DeadLettered int
	// Retried is how many jobs were tried more than once; Retries how
	// many attempts after the first there were.
	Retried, Retries int
	// Resent is how many sends reached no worker and were sent again
	// (not attempts: nothing ran).
	Resent int
	// Workers are the attempts each worker ran, by worker name
	// ("node2/w1").
	Workers map[string]workerCount
	// DeadLetters is the dead-letter list as the last node read it, by job.
	DeadLetters []deadLetter
}

type workerCount struct{ OK, Failed int }

// run starts the cluster and the workers, submits the jobs, waits until
// each is done or dead-lettered, prints the summary and returns it.
func run(ctx context.Context, out io.Writer, o options) (summary, error) {
	var sum summary
	if o.Jobs < 1 || o.Jobs > 100000 {
		return sum, fmt.Errorf("-jobs %d: want 1 to 100000", o.Jobs)
	}
	if err := o.Retry.validate(); err != nil {
		return sum, err
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	ns, err := startCluster(ctx, log)
	defer stopNodes(ns)
	if err != nil {
		return sum, err
	}

	// The workers: instances of one service, on every node.
	for i, n := range ns {
		for w := 1; w <= workersPerNode; w++ {
			name := fmt.Sprintf("node%d/w%d", i+1, w)
			pid, err := n.System.Spawn(&worker{name: name})
			if err != nil {
				return sum, err
			}
			if _, err := n.Services.Register(ctx, serviceWorkers, pid, service.WithMetadata(map[string]string{"worker": name})); err != nil {
				return sum, fmt.Errorf("register %s: %w", name, err)
			}
		}
	}
	// Registrations spread through the replicator; a producer starts once
	// its node sees every worker.
	if err := awaitWorkers(ctx, ns); err != nil {
		return sum, err
	}
	fmt.Fprintf(out, "job-queue: %d nodes up; %d workers registered as service %q (%d per node)\n",
		nodes, nodes*workersPerNode, serviceWorkers, workersPerNode)
	fmt.Fprintf(out, "producers on node1 and node2 submit %d jobs (ids 1..%d, %d in flight each); a job is tried at most %d times, %s backoff doubling up to %s\n",
		o.Jobs, o.Jobs, lanes, o.Retry.Attempts, o.Retry.Backoff, o.Retry.MaxBackoff)

	// The producers: node1 submits the odd ids, node2 the even ones.
	var t tally
	var wg sync.WaitGroup
	errs := make(chan error, producers*lanes)
	for i := range producers {
		n := ns[i]
		r, err := router.New(n.System, n.Services.Routees(serviceWorkers), router.RoundRobin())
		if err != nil {
			return sum, err
		}
		p := &producer{name: fmt.Sprintf("node%d", i+1), router: r, repl: n.Replicator, policy: o.Retry, tally: &t}
		ids := make(chan int)
		wg.Add(1)
		go func() { // feeds the producer's lanes
			defer wg.Done()
			defer close(ids)
			for id := i + 1; id <= o.Jobs; id += producers {
				select {
				case ids <- id:
				case <-ctx.Done():
					return
				}
			}
		}()
		for range lanes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				failed := false
				for id := range ids { // to the end: the feeder ends with ctx or the ids
					if failed {
						continue
					}
					if err := p.submit(ctx, id); err != nil {
						errs <- err
						failed = true
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return sum, err
	}
	sum.Submitted, sum.Done, sum.DeadLettered = int(t.submitted.Load()), int(t.done.Load()), int(t.dead.Load())
	sum.Retried, sum.Retries, sum.Resent = int(t.retried.Load()), int(t.retries.Load()), int(t.resent.Load())

	// The workers' own counts, asked of every instance node3 discovers.
	last := ns[nodes-1]
	if sum.Workers, err = workerCounts(ctx, last); err != nil {
		return sum, err
	}
	if sum.DeadLetters, err = readDeadLetters(ctx, last.Replicator); err != nil {
		return sum, fmt.Errorf("read the dead letters: %w", err)
	}
	slices.SortFunc(sum.DeadLetters, func(a, b deadLetter) int { return a.Job - b.Job })
	printSummary(out, sum)
	return sum, nil
}

func printSummary(out io.Writer, s summary) {
	attempts := 0
	perNode := map[string]int{}
	for name, c := range s.Workers {
		attempts += c.OK + c.Failed
		node, _, _ := strings.Cut(name, "/")
		perNode[node] += c.OK + c.Failed
	}
	fmt.Fprintf(out, "summary: submitted %d, done %d, retried %d (%d retries), dead-lettered %d; %d attempts\n",
		s.Submitted, s.Done, s.Retried, s.Retries, s.DeadLettered, attempts)
	if s.Resent > 0 {
		fmt.Fprintf(out, "sent again: %d sends that reached no worker\n", s.Resent)
	}
	fmt.Fprintln(out, "attempts per worker (ok / failed):")
	for _, name := range slices.Sorted(maps.Keys(s.Workers)) {
		c := s.Workers[name]
		fmt.Fprintf(out, "  %-9s %3d ok %3d failed\n", name, c.OK, c.Failed)
	}
	var parts []string
	for _, node := range slices.Sorted(maps.Keys(perNode)) {
		parts = append(parts, fmt.Sprintf("%s %d", node, perNode[node]))
	}
	fmt.Fprintf(out, "attempts per node: %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(out, "dead letters (%d, read on node3 with a majority read):\n", len(s.DeadLetters))
	for _, d := range s.DeadLetters {
		fmt.Fprintf(out, "  job %-4d %d attempts, from %s: %s\n", d.Job, d.Attempts, d.Producer, d.Error)
	}
}

// workerCounts asks every worker instance n discovers for its counts.
func workerCounts(ctx context.Context, n *foundation.Node) (map[string]workerCount, error) {
	insts, err := n.Services.Discover(serviceWorkers)
	if err != nil {
		return nil, err
	}
	out := map[string]workerCount{}
	for _, inst := range insts {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		r, err := actor.Call[*structpb.Struct](cctx, n.System, inst.PID, &emptypb.Empty{})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("worker %s: %w", inst.Metadata["worker"], err)
		}
		f := r.GetFields()
		out[f["worker"].GetStringValue()] = workerCount{OK: int(f["ok"].GetNumberValue()), Failed: int(f["failed"].GetNumberValue())}
	}
	return out, nil
}

// awaitWorkers waits until every node discovers every worker.
func awaitWorkers(ctx context.Context, ns []*foundation.Node) error {
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		seen := 0
		for _, n := range ns {
			if insts, err := n.Services.Discover(serviceWorkers); err == nil && len(insts) == nodes*workersPerNode {
				seen++
			}
		}
		if seen == len(ns) {
			return nil
		}
		select {
		case <-wctx.Done():
			var detail []string
			for i, n := range ns {
				insts, _ := n.Services.Discover(serviceWorkers)
				var names []string
				for _, in := range insts {
					names = append(names, in.Metadata["worker"])
				}
				detail = append(detail, fmt.Sprintf("node%d discovers %v", i+1, names))
			}
			return fmt.Errorf("%d of %d nodes discover all %d workers (%s): %w", seen, len(ns), nodes*workersPerNode, strings.Join(detail, "; "), wctx.Err())
		case <-t.C:
		}
	}
}

// stopNodes stops the nodes, the last started first.
func stopNodes(ns []*foundation.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := len(ns) - 1; i >= 0; i-- {
		_ = ns[i].Stop(ctx)
	}
}

// startCluster starts the nodes on 127.0.0.1 (remoting on free ports,
// cluster ports from a free list, each the others' seed) and waits until
// each sees all of them. It returns the nodes started so far even on
// error, for the caller to stop.
func startCluster(ctx context.Context, log *zap.Logger) ([]*foundation.Node, error) {
	ports, err := nodeproc.FreePorts(nodes)
	if err != nil {
		return nil, err
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	var ns []*foundation.Node
	for i, port := range ports {
		n, err := foundation.Start(ctx,
			foundation.WithEnv(func(string) (string, bool) { return "", false }),
			foundation.WithLogger(log.Named(fmt.Sprintf("node%d", i+1))),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Name = "jobs"
				c.Secret = "job-queue-demo-secret-0123456789"
				c.Host, c.Port, c.ClusterPort = "127.0.0.1", 0, port
				c.Provider = cluster.ProviderStatic
				c.Seeds = seeds
				c.Telemetry.Address = cluster.TelemetryOff
				// Patient failure detection: three nodes in one process share
				// its CPU (with the race detector, in CI, on a busy machine),
				// where the development profile would take a node starved for
				// 300ms for a dead one. A suspected node now has 4s to answer
				// (20 × 200ms); probes stay short, so that none outlives Stop
				// for long.
				c.ProbeInterval, c.ProbeTimeout, c.SuspicionMultiplier = 200*time.Millisecond, 100*time.Millisecond, 20
				c.SplitBrain.StableAfter = 2 * time.Second
			}))
		if err != nil {
			return ns, fmt.Errorf("node%d: %w", i+1, err)
		}
		ns = append(ns, n)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i, n := range ns {
		if err := n.Membership.Await(wctx, cluster.AtLeast(nodes)); err != nil {
			return ns, fmt.Errorf("node%d: the cluster did not form: %w", i+1, err)
		}
	}
	return ns, nil
}
