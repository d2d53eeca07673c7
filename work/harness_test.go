package work_test

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/work"
)

// spec is what member i of a test cluster has: its labels and the task
// kinds it runs.
type spec struct {
	labels map[string]string
	kinds  []work.AnyKind
}

// layer attaches a work Host to a clustertest member.
type layer struct {
	spec spec
	host *work.Host
}

func (l *layer) Prepare(_ *clustertest.Member, self *cluster.Member) error {
	if self.Labels == nil {
		self.Labels = map[string]string{}
	}
	maps.Copy(self.Labels, l.spec.labels)
	return nil
}

func (l *layer) Start(m *clustertest.Member) error {
	h, err := work.NewHost(m.Membership, work.Config{Workers: 2})
	if err != nil {
		return err
	}
	if err := h.Register(l.spec.kinds...); err != nil {
		return err
	}
	if err := h.Start(context.Background()); err != nil {
		return err
	}
	l.host = h
	return nil
}

func (l *layer) Stop(ctx context.Context) error {
	if l.host == nil {
		return nil
	}
	return l.host.Stop(ctx)
}

func (l *layer) Abort() {
	if l.host != nil {
		l.host.Abort()
	}
}

type env struct {
	c      *clustertest.Cluster
	mu     sync.Mutex
	layers []*layer
}

func (e *env) host(i int) *work.Host {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.layers[i].host
}

func (e *env) id(i int) string { return e.c.Member(i).Membership.Self().ID }

// start starts n members, member i as specs(i) says, and waits until
// every member sees all n.
func start(t *testing.T, n int, specs func(i int) spec) *env {
	t.Helper()
	e := &env{}
	e.c = clustertest.Start(t, n, clustertest.Options{MembershipOnly: true, Layer: func(i int) clustertest.Layer {
		l := &layer{spec: specs(i)}
		e.mu.Lock()
		e.layers = append(e.layers, l)
		e.mu.Unlock()
		return l
	}})
	return e
}

// ai is the role of the test's workers.
var ai = map[string]string{"tier": "ai"}

// coordinatorAndWorkers: member 0 has no role, the others are tier=ai
// and run kinds(i).
func coordinatorAndWorkers(kinds func(i int) []work.AnyKind) func(int) spec {
	return func(i int) spec {
		if i == 0 {
			return spec{}
		}
		return spec{labels: ai, kinds: kinds(i)}
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wait blocks for d or until ctx ends: the simulated duration of a task.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
