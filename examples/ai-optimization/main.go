// Command ai-optimization optimises a prompt program over a small cluster:
// it starts one coordinator and three members with the role tier=ai in
// one process on 127.0.0.1, evaluates every candidate (a prompt template,
// a number of few-shot examples and a temperature) on every example of a
// small dataset with a distributed task run (package work), at most four
// evaluations at once on each member, picks the best candidate, and caches
// the evaluations and the chosen program cluster-wide (package cache), so
// that a second run, from another member, is served from the cache.
//
// The model is SIMULATED: an evaluation waits a few milliseconds, as a
// call to a model's API would, and returns a deterministic fake score. No
// model is called and nothing leaves the machine.
//
//	go run ./examples/ai-optimization
package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/work"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ai-optimization:", err)
		os.Exit(1)
	}
}

// Candidate is one configuration of the prompt program.
type Candidate struct {
	Template    string  `json:"template"`
	Shots       int     `json:"shots"`
	Temperature float64 `json:"temperature"`
}

func (c Candidate) String() string {
	return fmt.Sprintf("template %q, %d shots, temperature %.1f", c.Template, c.Shots, c.Temperature)
}

// Eval is one task: a candidate on one example of the dataset.
type Eval struct {
	Candidate Candidate `json:"candidate"`
	Example   int       `json:"example"`
}

// key names an evaluation in the cache.
func (e Eval) key() string {
	return fmt.Sprintf("eval/%s/%d/%.1f/%d", e.Candidate.Template, e.Candidate.Shots, e.Candidate.Temperature, e.Example)
}

const (
	members    = 3                     // members of the role tier=ai
	workers    = 4                     // evaluations at once per member
	modelDelay = 10 * time.Millisecond // the simulated model call's latency
	examples   = 5                     // the dataset's size
)

var (
	templates    = []string{"plain", "step-by-step", "expert-persona", "checklist"}
	shots        = []int{0, 2, 4}
	temperatures = []float64{0.2, 0.8}
	role         = map[string]string{"tier": "ai"}
)

// calls counts the simulated model calls per member, and the most at once.
type calls struct {
	mu      sync.Mutex
	total   map[string]int
	running map[string]int
	peak    map[string]int
}

// simulatedModel is the task kind's handler on member name: a SIMULATED
// model call (a short wait, then a deterministic fake score in [0, 1]).
func (c *calls) simulatedModel(name string) func(context.Context, Eval) (float64, error) {
	return func(ctx context.Context, e Eval) (float64, error) {
		c.mu.Lock()
		c.total[name]++
		c.running[name]++
		c.peak[name] = max(c.peak[name], c.running[name])
		c.mu.Unlock()
		defer func() { c.mu.Lock(); c.running[name]--; c.mu.Unlock() }()
		t := time.NewTimer(modelDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return fakeScore(e), nil
	}
}

// fakeScore is the simulated metric: a little structure (step-by-step
// reasoning and a few examples help, a high temperature hurts) plus
// deterministic noise from a hash of the evaluation.
func fakeScore(e Eval) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(e.key()))
	noise := float64(h.Sum64()%1000) / 1000 // [0, 1)
	s := 0.45 + 0.15*noise
	switch e.Candidate.Template {
	case "step-by-step":
		s += 0.15
	case "checklist":
		s += 0.08
	case "expert-persona":
		s += 0.05
	}
	s += 0.04 * float64(min(e.Candidate.Shots, 3))
	s -= 0.1 * e.Candidate.Temperature
	return min(max(s, 0), 1)
}

// evaluate is the task kind; members register it with their own handler.
func evaluate(handler func(context.Context, Eval) (float64, error)) work.Kind[Eval, float64] {
	return work.Kind[Eval, float64]{Name: "evaluate-candidate", Handler: handler, Workers: workers}
}

func run(ctx context.Context, out io.Writer) error {
	ports, err := nodeproc.FreePorts(members + 1)
	if err != nil {
		return err
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	names := []string{"coordinator"}
	for i := 1; i <= members; i++ {
		names = append(names, "ai-"+strconv.Itoa(i))
	}
	cl := &calls{total: map[string]int{}, running: map[string]int{}, peak: map[string]int{}}
	var nodes []*foundation.Node
	defer func() {
		for _, n := range nodes {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = n.Stop(sctx)
			cancel()
		}
	}()
	for i, port := range ports {
		opts := []foundation.Option{
			foundation.WithEnv(func(string) (string, bool) { return "", false }),
			foundation.WithLogger(zap.NewNop()),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Name = "ai-optimization"
				c.Secret = "ai-optimization-example-secret"
				c.Provider, c.Seeds = cluster.ProviderStatic, seeds
				c.Host, c.Port, c.ClusterPort = "127.0.0.1", 0, port
				c.Telemetry.Address = cluster.TelemetryOff
				// Patient failure detection: four nodes in one process share
				// its CPU (with the race detector, in CI, on a busy machine),
				// where the development profile would take a node starved for
				// 300ms for a dead one and re-run its tasks elsewhere (each
				// task still appears once in the results, but the model
				// would be called again). A suspected node has 4s to answer.
				c.ProbeInterval, c.ProbeTimeout, c.SuspicionMultiplier = 200*time.Millisecond, 100*time.Millisecond, 20
				c.SplitBrain.StableAfter = 2 * time.Second
				if i > 0 {
					c.Labels = role
				}
			}),
		}
		if i > 0 {
			// The members of the role run the evaluations.
			opts = append(opts, foundation.WithTasks(evaluate(cl.simulatedModel(names[i]))))
		}
		n, err := foundation.Start(ctx, opts...)
		if err != nil {
			return fmt.Errorf("starting %s: %w", names[i], err)
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := n.Membership.Await(ctx, cluster.AtLeast(len(nodes))); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "cluster up: a coordinator and %d members with role tier=ai, %d evaluations at once on each\n", members, workers)

	// Two caches, shared by every node: the evaluations, and the chosen
	// program.
	evals := make([]*cache.Cache[string, float64], len(nodes))
	programs := make([]*cache.Cache[string, Candidate], len(nodes))
	for i, n := range nodes {
		multilevel := func(c *cache.Config) { c.Tier = cache.Multilevel }
		if evals[i], err = foundation.NewCache(n, "evaluations", cache.JSON[string, float64](), multilevel); err != nil {
			return err
		}
		defer evals[i].Close(context.Background())
		if programs[i], err = foundation.NewCache(n, "programs", cache.JSON[string, Candidate](), multilevel); err != nil {
			return err
		}
		defer programs[i].Close(context.Background())
	}
	if err := waitFor(ctx, func() bool {
		for i := range nodes {
			if len(evals[i].Members()) != len(nodes) || len(programs[i].Members()) != len(nodes) {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("the caches span the cluster: %w", err)
	}

	var tasks []Eval
	for _, t := range templates {
		for _, s := range shots {
			for _, temp := range temperatures {
				for x := range examples {
					tasks = append(tasks, Eval{Candidate: Candidate{Template: t, Shots: s, Temperature: temp}, Example: x})
				}
			}
		}
	}
	fmt.Fprintf(out, "optimising: %d candidates x %d examples = %d evaluations (SIMULATED model calls of %v each)\n",
		len(tasks)/examples, examples, len(tasks), modelDelay)

	// Run 1, from the coordinator: every evaluation is a model call.
	best, err := optimise(ctx, out, "run 1 from coordinator", nodes[0], evals[0], tasks, cl)
	if err != nil {
		return err
	}
	for i := 1; i <= members; i++ {
		cl.mu.Lock()
		fmt.Fprintf(out, "  %s: %d model calls, at most %d at once (limit %d)\n", names[i], cl.total[names[i]], cl.peak[names[i]], workers)
		cl.mu.Unlock()
	}
	fmt.Fprintf(out, "best: %s\n", best)
	if err := programs[0].Put(ctx, "optimized_program_v1", best, 0); err != nil {
		return err
	}

	// Run 2, from another member: served by the cache.
	best2, err := optimise(ctx, out, "run 2 from ai-2", nodes[2], evals[2], tasks, cl)
	if err != nil {
		return err
	}
	if best2 != best {
		return fmt.Errorf("run 2 chose %s, run 1 %s", best2, best)
	}
	fmt.Fprintf(out, "run 2 chose the same program\n")
	p, ok, err := programs[3].Get(ctx, "optimized_program_v1")
	if err != nil || !ok {
		return fmt.Errorf("reading the cached program on ai-3: found %v, %v", ok, err)
	}
	fmt.Fprintf(out, "ai-3 reads optimized_program_v1 from the cache: %s\n", p)
	return nil
}

// optimise evaluates every task over the role's members, caching the
// evaluations, and returns the candidate with the best mean score.
func optimise(ctx context.Context, out io.Writer, what string, n *foundation.Node, evals *cache.Cache[string, float64],
	tasks []Eval, cl *calls) (Candidate, error) {
	cl.mu.Lock()
	before := 0
	for _, c := range cl.total {
		before += c
	}
	cl.mu.Unlock()
	var last [2]int
	t0 := time.Now()
	results, err := work.Run(ctx, n.Work, evaluate(nil), tasks,
		work.Role(role),
		work.CacheResults(evals, Eval.key),
		work.Progress(func(done, total int) { last = [2]int{done, total} }))
	if err != nil {
		return Candidate{}, err
	}
	took := time.Since(t0)
	cl.mu.Lock()
	after := 0
	for _, c := range cl.total {
		after += c
	}
	cl.mu.Unlock()
	cached := 0
	sum := map[Candidate]float64{}
	var order []Candidate
	for i, r := range results {
		if r.Err != nil {
			return Candidate{}, fmt.Errorf("evaluation %d: %w", i, r.Err)
		}
		if r.Cached {
			cached++
		}
		c := tasks[i].Candidate
		if _, ok := sum[c]; !ok {
			order = append(order, c)
		}
		sum[c] += r.Value
	}
	slices.SortStableFunc(order, func(a, b Candidate) int {
		switch {
		case sum[a] > sum[b]:
			return -1
		case sum[a] < sum[b]:
			return 1
		}
		return 0
	})
	fmt.Fprintf(out, "%s: %d evaluations in %v, progress %d/%d, %d from the cache, %d model calls\n",
		what, len(results), took.Round(time.Millisecond), last[0], last[1], cached, after-before)
	for _, c := range order[:3] {
		fmt.Fprintf(out, "  score %.3f  %s\n", sum[c]/examples, c)
	}
	return order[0], nil
}

// waitFor polls cond every 10 ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
