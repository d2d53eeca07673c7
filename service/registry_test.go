package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/service"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// layer attaches a replicator and a Registry on its replicated store to a
// clustertest member: the arrangement of a node.
type layer struct {
	rep   *crdt.Replicator
	store *service.ReplicatedStore
	r     *service.Registry
}

func (l *layer) Prepare(*clustertest.Member, *cluster.Member) error { return nil }

func (l *layer) Start(m *clustertest.Member) error {
	rep, err := crdt.NewReplicator(m.Membership, crdt.Config{})
	if err != nil {
		return err
	}
	if err := rep.Start(context.Background()); err != nil {
		return err
	}
	l.rep = rep
	if l.store, err = service.NewStore(rep); err != nil {
		return err
	}
	r, err := service.New(m.System, m.Membership, l.store, service.Config{HealthInterval: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	l.r = r
	return r.Start(context.Background())
}

func (l *layer) Stop(ctx context.Context) error {
	if l.rep == nil {
		return nil
	}
	var err error
	if l.r != nil {
		err = l.r.Stop(ctx)
	}
	if l.store != nil {
		l.store.Close()
	}
	if rerr := l.rep.Stop(ctx); err == nil {
		err = rerr
	}
	return err
}

// Abort is a crash: nothing more leaves this member.
func (l *layer) Abort() {
	if l.rep == nil {
		return
	}
	l.rep.Abort()
	if l.r != nil {
		_ = l.r.Stop(context.Background())
	}
	if l.store != nil {
		l.store.Close()
	}
}

type env struct {
	c      *clustertest.Cluster
	regs   []*service.Registry
	mu     *sync.Mutex
	layers *[]*layer
}

// reg is the registry of the i-th member started (Restart and rejoin add
// members).
func (e env) reg(i int) *service.Registry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return (*e.layers)[i].r
}

func start(t *testing.T, n int) env {
	t.Helper()
	var mu sync.Mutex
	var layers []*layer
	c := clustertest.Start(t, n, clustertest.Options{Layer: func(int) clustertest.Layer {
		l := &layer{}
		mu.Lock()
		layers = append(layers, l)
		mu.Unlock()
		return l
	}})
	e := env{c: c, mu: &mu, layers: &layers}
	for _, l := range layers {
		e.regs = append(e.regs, l.r)
	}
	return e
}

// echo answers a Call with its member's address.
type echo struct{ actor.ServerBase }

func (echo) HandleCall(p actor.Process, req any) (any, error) {
	return wrapperspb.String(p.Self().Address), nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRegisterDiscoverCallAcrossMembers(t *testing.T) {
	e := start(t, 3)
	var pids []*actor.PID
	for i := 0; i < 3; i++ {
		pid, err := e.c.Member(i).System.Spawn(echo{})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
		if _, err := e.regs[i].Register(ctxT(t), "echo", pid, service.WithMetadata(map[string]string{"zone": string(rune('a' + i))}),
			service.WithCapabilities("ping")); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range e.regs {
		clustertest.Eventually(t, func() bool { is, _ := r.Discover("echo"); return len(is) == 3 }, 5*time.Second, "three instances")
		is, _ := r.Discover("echo")
		if is[0].Member != e.c.Member(i).Membership.Self().ID {
			t.Fatalf("member %d: its own instance is not first: %v", i, is[0].Member)
		}
		if zb, _ := r.Discover("echo", service.HasMetadata("zone", "b"), service.HasCapability("ping")); len(zb) != 1 || zb[0].PID.Id != pids[1].Id {
			t.Fatalf("criteria: %v", zb)
		}
	}
	c, err := e.regs[0].Client("echo", service.RoundRobin())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 9; i++ {
		got, err := service.Call[*wrapperspb.StringValue](ctxT(t), c, &wrapperspb.StringValue{})
		if err != nil {
			t.Fatal(err)
		}
		seen[got.Value] = true
	}
	if len(seen) != 3 {
		t.Fatalf("round robin reached %d members", len(seen))
	}
	if _, err := e.regs[0].Discover("nothing"); !errors.Is(err, service.ErrUnknownService) {
		t.Fatalf("unknown service: %v", err)
	}
}

// A process that exits leaves the registry; a call that finds an instance
// gone (not delivered) goes to another one.
func TestDeadInstanceIsRemovedAndCallsFailOver(t *testing.T) {
	e := start(t, 2)
	a, _ := e.c.Member(0).System.Spawn(echo{})
	b, _ := e.c.Member(1).System.Spawn(echo{})
	if _, err := e.regs[0].Register(ctxT(t), "echo", a); err != nil {
		t.Fatal(err)
	}
	if _, err := e.regs[1].Register(ctxT(t), "echo", b); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { is, _ := e.regs[0].Discover("echo"); return len(is) == 2 }, 5*time.Second, "two instances")
	if err := e.c.Member(1).System.Kill(b); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { is, _ := e.regs[0].Discover("echo"); return len(is) == 1 }, 5*time.Second, "the dead instance is gone")
	c, _ := e.regs[0].Client("echo", service.Random())
	for i := 0; i < 5; i++ {
		if _, err := service.Call[*wrapperspb.StringValue](ctxT(t), c, &wrapperspb.StringValue{}); err != nil {
			t.Fatal(err)
		}
	}
}

// A member killed (kill -9): its instances disappear from Discover on the
// others, and its records are deleted from the registry.
func TestKilledMembersInstancesDisappear(t *testing.T) {
	e := start(t, 3)
	for i := 0; i < 3; i++ {
		pid, _ := e.c.Member(i).System.Spawn(echo{})
		if _, err := e.regs[i].Register(ctxT(t), "echo", pid); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool { is, _ := e.regs[0].Discover("echo"); return len(is) == 3 }, 5*time.Second, "three instances")
	e.c.Kill(2)
	for _, r := range e.regs[:2] {
		clustertest.Eventually(t, func() bool { is, _ := r.Discover("echo"); return len(is) == 2 }, 5*time.Second, "the killed member's instance is gone")
	}
	w, cancel := e.regs[0].Watch("echo")
	defer cancel()
	if got := <-w; len(got) != 2 {
		t.Fatalf("watch: %d instances", len(got))
	}
}

// An instance whose health check fails is not routed to until it passes.
func TestHealthCheck(t *testing.T) {
	e := start(t, 1)
	pid, _ := e.c.Member(0).System.Spawn(echo{})
	var mu sync.Mutex
	sick := false
	if _, err := e.regs[0].Register(ctxT(t), "echo", pid, service.WithHealthCheck(func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if sick {
			return errors.New("sick")
		}
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sick = true
	mu.Unlock()
	clustertest.Eventually(t, func() bool { _, err := e.regs[0].Discover("echo"); return errors.Is(err, service.ErrUnknownService) }, 5*time.Second, "unhealthy instance excluded")
	mu.Lock()
	sick = false
	mu.Unlock()
	clustertest.Eventually(t, func() bool { is, _ := e.regs[0].Discover("echo"); return len(is) == 1 }, 5*time.Second, "healthy again")
}

func TestBadInput(t *testing.T) {
	e := start(t, 1)
	r := e.regs[0]
	pid, _ := e.c.Member(0).System.Spawn(echo{})
	if _, err := r.Register(ctxT(t), "", pid); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
	if _, err := r.Register(ctxT(t), "s", nil); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("nil pid: %v", err)
	}
	if _, err := r.Register(ctxT(t), "s", &actor.PID{Address: "10.0.0.1:1", Id: "x"}); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("remote pid: %v", err)
	}
	if _, err := r.Register(ctxT(t), "s", pid); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctxT(t), "s", pid); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("twice: %v", err)
	}
	if _, err := r.Client("s", service.ConsistentHash(nil)); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("hash without key: %v", err)
	}
	c, _ := r.Client("none", nil)
	if _, err := service.Call[any](ctxT(t), c, "x"); !errors.Is(err, service.ErrUnknownService) {
		t.Fatalf("call unknown: %v", err)
	}
	if err := c.Tell(ctxT(t), "x"); !errors.Is(err, service.ErrUnknownService) {
		t.Fatalf("tell unknown: %v", err)
	}
}
