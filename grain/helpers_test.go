package grain_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/grain/graintest"
)

// registry records every activation and deactivation, across members.
type registry struct {
	mu     sync.Mutex
	live   map[string]map[string]int // kind/id -> member -> live activations
	events []string
	// activeMax: the most live activations one identity ever had at once.
	activeMax map[string]int
	// stable: the membership is settled; violations records every
	// activation that made an identity live twice while it was.
	stable     bool
	violations []string
}

// setStable marks the membership settled (or changing).
func (r *registry) setStable(stable bool) {
	r.mu.Lock()
	r.stable = stable
	r.mu.Unlock()
}

// eventCount is how many events were recorded so far.
func (r *registry) eventCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// activationsSince counts the activations of key among the events after
// the first from.
func (r *registry) activationsSince(key string, from int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events[from:] {
		if strings.HasPrefix(e, "activate "+key+" on ") {
			n++
		}
	}
	return n
}

// stableViolations returns the duplicate activations seen while stable.
func (r *registry) stableViolations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.violations)
}

// maxActive returns the most live activations any identity of the kinds
// ever had at once, and which.
func (r *registry) maxActive(kinds ...string) (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	best, which := 0, ""
	for k, n := range r.activeMax {
		if len(kinds) > 0 && !slices.Contains(kinds, strings.SplitN(k, "/", 2)[0]) {
			continue
		}
		if n > best {
			best, which = n, k
		}
	}
	return best, which
}

func newRegistry() *registry {
	return &registry{live: map[string]map[string]int{}, activeMax: map[string]int{}}
}

func (r *registry) on(key, member string, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.live[key]
	if m == nil {
		m = map[string]int{}
		r.live[key] = m
	}
	m[member] += delta
	if m[member] == 0 {
		delete(m, member)
	}
	total := 0
	for _, n := range m {
		total += n
	}
	if total > r.activeMax[key] {
		r.activeMax[key] = total
	}
	if r.stable && delta > 0 && total > 1 {
		r.violations = append(r.violations, fmt.Sprintf("%s live %d times while the membership was stable: %v", key, total, m))
	}
	if delta > 0 {
		r.events = append(r.events, "activate "+key+" on "+member)
	} else {
		r.events = append(r.events, "deactivate "+key+" on "+member)
	}
}

// where returns the members holding a live activation of key.
func (r *registry) where(key string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for m, n := range r.live[key] {
		out[m] = n
	}
	return out
}

// duplicates lists the identities with more than one live activation, of
// the kinds given (all when none).
func (r *registry) duplicates(kinds ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, m := range r.live {
		if len(kinds) > 0 && !slices.Contains(kinds, strings.SplitN(k, "/", 2)[0]) {
			continue
		}
		total := 0
		for _, n := range m {
			total += n
		}
		if total > 1 {
			out = append(out, fmt.Sprintf("%s: %v", k, m))
		}
	}
	return out
}

func (r *registry) liveCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.live {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// counter counts the calls it receives and reports its member. The string
// "panic" makes Receive panic.
type counter struct {
	reg   *registry
	count int64
	// failActivate makes OnActivate fail.
	failActivate error
	// deactivateDelay slows OnDeactivate down.
	deactivateDelay time.Duration
}

func (c *counter) OnActivate(ctx *grain.Context) error {
	if c.failActivate != nil {
		return c.failActivate
	}
	c.reg.on(ctx.Kind()+"/"+ctx.Identity(), ctx.Member(), +1)
	return nil
}

func (c *counter) OnDeactivate(ctx *grain.Context) {
	if c.deactivateDelay > 0 {
		time.Sleep(c.deactivateDelay) // the grain's own slow work, not a wait for a condition
	}
	c.reg.on(ctx.Kind()+"/"+ctx.Identity(), ctx.Member(), -1)
}

func (c *counter) Receive(ctx *grain.Context, msg any) (any, error) {
	switch m := msg.(type) {
	case *wrapperspb.Int64Value:
		c.count += m.Value
		return wrapperspb.String(ctx.Member()), nil
	case *wrapperspb.StringValue:
		switch m.Value {
		case "fail":
			return nil, fmt.Errorf("asked to fail")
		case "panic":
			panic("asked to panic")
		}
		return wrapperspb.Int64(c.count), nil
	}
	return nil, fmt.Errorf("unexpected %T", msg)
}

func counterKind(reg *registry, name string, p grain.Placement) grain.Kind {
	return grain.Kind{Name: name, Placement: p, New: func(string) grain.Grain { return &counter{reg: reg} }}
}

func startCluster(t *testing.T, n int, kinds func(int) []grain.Kind, opts ...func(*graintest.Options)) *graintest.Cluster {
	t.Helper()
	o := graintest.Options{Kinds: kinds}
	for _, f := range opts {
		f(&o)
	}
	return graintest.Start(t, n, o)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// add calls Add(1) on kind/id from host h and returns the member that
// answered.
func add(t *testing.T, h *grain.Host, kind, id string) string {
	t.Helper()
	r, err := grain.Get[*wrapperspb.StringValue](h, kind, id).Call(ctxT(t, 5*time.Second), wrapperspb.Int64(1))
	if err != nil {
		t.Fatalf("call %s/%s from %s: %v", kind, id, h.Self(), err)
	}
	return r.Value
}

var eventually = clustertest.Eventually
