package grain_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/grain"
)

var churnFor = flag.Duration("grain.churn", 3*time.Second, "how long TestNoDuplicateActivationsUnderChurn adds and removes members")

// TestNoDuplicateActivationsUnderChurn adds, stops, kills and restarts
// members while callers keep calling. Once the membership has settled after
// each change, and until the next change, no activation ever makes an
// identity live twice (checked at every activation, not only at the end);
// at rest, each identity answers from where the view places it.
func TestNoDuplicateActivationsUnderChurn(t *testing.T) {
	reg := newRegistry()
	kinds := func(int) []grain.Kind {
		return []grain.Kind{
			counterKind(reg, "part", grain.Partitioned),
			counterKind(reg, "single", grain.Singleton),
			counterKind(reg, "sticky", grain.PreferLocal),
		}
	}
	c := startCluster(t, 3, kinds)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	t.Logf("churn for %v", *churnFor)

	const ids = 40
	stopCallers := make(chan struct{})
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	caller := c.Host(0) // member 0 is never stopped: it drives the calls
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tick := time.NewTicker(2 * time.Millisecond) // leave the machine to the members
			defer tick.Stop()
			for i := w; ; i++ {
				select {
				case <-stopCallers:
					return
				case <-tick.C:
				}
				kind := []string{"part", "single", "sticky"}[i%3]
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := grain.Get[*wrapperspb.StringValue](caller, kind, fmt.Sprintf("g%d", i%ids)).Call(ctx, wrapperspb.Int64(1))
				cancel()
				calls.Add(1)
				if err != nil {
					failures.Add(1)
				}
			}
		}(w)
	}
	settled := 0
	deadline := time.Now().Add(*churnFor)
	// At least three changes even on a loaded machine (a change there can
	// take seconds: Kill stops an actor system), within 30s more at most.
	for time.Now().Before(deadline) || settled < 3 && time.Now().Before(deadline.Add(30*time.Second)) {
		running := c.Running()
		t0 := time.Now()
		op := rng.Intn(4)
		if len(running) == 5 && op == 0 || len(running) == 2 && op != 0 {
			continue // nothing to do: draw again
		}
		reg.setStable(false)
		switch {
		case op == 0:
			if _, err := c.Add(); err != nil {
				t.Fatal(err)
			}
		case op == 1:
			c.Stop(running[1+rng.Intn(len(running)-1)].Index)
		case op == 2:
			c.Kill(running[1+rng.Intn(len(running)-1)].Index)
		case op == 3:
			if _, err := c.Restart(running[1+rng.Intn(len(running)-1)].Index); err != nil {
				t.Fatal(err)
			}
		}
		n := len(c.Running())
		t1 := time.Now()
		c.WaitViews(t, n, 10*time.Second)
		t.Logf("%s: %v, settled in %v", []string{"add", "stop", "kill", "restart"}[op], t1.Sub(t0), time.Since(t1))
		c.WaitServing(t, 10*time.Second)
		eventually(t, func() bool { return len(reg.duplicates("part", "single", "sticky")) == 0 }, 3*time.Second,
			fmt.Sprintf("no duplicate activation once %d members settled: %v", n, reg.duplicates()))
		reg.setStable(true)
		settled++
	}
	close(stopCallers)
	wg.Wait()
	if settled < 2 {
		t.Fatalf("only %d membership changes in %v", settled, *churnFor)
	}
	// Quiet now: every identity answers from where the view places it, and
	// there is exactly one activation of each exclusive one.
	for i := 0; i < ids; i++ {
		id := fmt.Sprintf("g%d", i)
		for _, h := range c.Hosts() {
			for _, kind := range []string{"part", "single"} {
				m := add(t, h, kind, id)
				if w := grain.Get[any](h, kind, id).Where(); m != w {
					t.Fatalf("%s/%s answered from %s, placed on %s", kind, id, m, w)
				}
			}
		}
	}
	if d := reg.duplicates("part", "single", "sticky"); len(d) > 0 {
		t.Fatalf("duplicates at rest: %v", d)
	}
	if v := reg.stableViolations(); len(v) > 0 {
		t.Fatalf("duplicate activations while the membership was stable:\n%s", strings.Join(v, "\n"))
	}
	t.Logf("%d membership changes, %d calls, %d failed during changes", settled, calls.Load(), failures.Load())
}
