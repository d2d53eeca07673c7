package migrate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodetest"
	"github.com/foundation-go/foundation/migrate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// greeter is a proto.actor virtual actor as a proto.actor cluster program
// has it: it learns its identity from *cluster.ClusterInit, answers with
// ctx.Respond, and calls other grains through proto.actor's cluster API.
type greeter struct {
	id      string
	cl      *pacluster.Cluster
	greeted int64
	events  *events
}

func (g *greeter) Receive(c pa.Context) {
	switch m := c.Message().(type) {
	case *pacluster.ClusterInit:
		g.id, g.cl = m.Identity.Identity, m.Cluster
		g.events.add("init " + m.Identity.Kind + "/" + m.Identity.Identity)
	case *pa.Stopped:
		g.events.add("stopped " + g.id)
	case *wrapperspb.StringValue:
		if other, ok := strings.CutPrefix(m.Value, "ask:"); ok {
			// A grain calling a grain with proto.actor's API.
			res, err := g.cl.Request(other, "greeter", wrapperspb.String(g.id))
			if err != nil {
				c.Respond(wrapperspb.String("error: " + err.Error()))
				return
			}
			c.Respond(res)
			return
		}
		g.greeted++
		c.Respond(wrapperspb.String("hello " + m.Value + " from " + g.id))
	case *wrapperspb.Int64Value: // told: count, no reply
		g.greeted += m.Value
	case *wrapperspb.BoolValue: // asked for the count
		c.Respond(wrapperspb.Int64(g.greeted))
	}
}

type events struct {
	mu  sync.Mutex
	all []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, s)
}

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.all {
		if x == s {
			return true
		}
	}
	return false
}

func TestAProtoActorGrainKindRunsUnderFoundation(t *testing.T) {
	ev := &events{}
	// The kind exactly as the proto.actor program declares it.
	kind := pacluster.NewKind("greeter", pa.PropsFromProducer(func() pa.Actor { return &greeter{events: ev} }))
	k, err := migrate.GrainKind(kind, migrate.KindOptions{RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	nodes := nodetest.Start(t, 3, func(int) []foundation.Option { return []foundation.Option{foundation.WithGrains(k)} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Called through Foundation, from every member, on identities spread
	// over the members.
	where := map[string]bool{}
	for _, id := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		ref := grain.Get[*wrapperspb.StringValue](nodes[0].Grains, "greeter", id)
		r, err := ref.Call(ctx, wrapperspb.String("you"))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if want := "hello you from " + id; r.Value != want {
			t.Fatalf("%s answered %q, want %q", id, r.Value, want)
		}
		where[ref.Where()] = true
		if !ev.has("init greeter/" + id) {
			t.Fatalf("%s got no ClusterInit", id)
		}
	}
	if len(where) < 2 {
		t.Fatalf("six identities all on %v: the kind is not partitioned", where)
	}

	// Called through proto.actor's cluster API on a member: the bridge.
	cl, err := migrate.Install(nodes[1].Grains)
	if err != nil {
		t.Fatal(err)
	}
	if cl != pacluster.GetCluster(nodes[1].System.ProtoActor()) {
		t.Fatal("Install did not register the cluster extension")
	}
	res, err := cl.Request("alice", "greeter", wrapperspb.String("bridge"))
	if err != nil || res.(*wrapperspb.StringValue).Value != "hello bridge from alice" {
		t.Fatalf("Cluster.Request: %v %v", res, err)
	}
	f, err := cl.RequestFuture("bob", "greeter", wrapperspb.String("future"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := f.Result(); err != nil || res.(*wrapperspb.StringValue).Value != "hello future from bob" {
		t.Fatalf("Cluster.RequestFuture: %v %v", res, err)
	}

	// A grain calls a grain with proto.actor's API, across members.
	r, err := grain.Get[*wrapperspb.StringValue](nodes[2].Grains, "greeter", "carol").Call(ctx, wrapperspb.String("ask:dave"))
	if err != nil || r.Value != "hello carol from dave" {
		t.Fatalf("grain to grain: %v %v", r, err)
	}

	// A Tell is a send: no reply expected.
	erin := grain.Get[*wrapperspb.Int64Value](nodes[2].Grains, "greeter", "erin")
	if err := erin.Tell(ctx, wrapperspb.Int64(10)); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		n, err := erin.Call(ctx, wrapperspb.Bool(true))
		return err == nil && n.Value == 11
	}, 5*time.Second, "the told count reaches erin")

	// An actor that never responds: the call ends at the kind's request
	// timeout.
	_, err = grain.Get[any](nodes[0].Grains, "greeter", "frank").Call(ctx, wrapperspb.Double(1))
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "did not respond within 300ms") {
		t.Fatalf("an unanswered request: %v", err)
	}

	// Stopping the members deactivates the grains: their actors stop.
	for _, n := range nodes {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.Stop(sctx); err != nil {
			t.Fatal(err)
		}
		scancel()
	}
	for _, id := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		if !ev.has("stopped " + id) {
			t.Errorf("%s's actor did not stop with its grain", id)
		}
	}
}

func TestGrainKindRefusesBadInput(t *testing.T) {
	for _, k := range []*pacluster.Kind{nil, {Kind: "x"}, {Props: pa.PropsFromFunc(func(pa.Context) {})}} {
		if _, err := migrate.GrainKind(k, migrate.KindOptions{}); !errors.Is(err, grain.ErrInvalid) {
			t.Errorf("GrainKind(%+v): %v", k, err)
		}
	}
	k := pacluster.NewKind("x", pa.PropsFromFunc(func(pa.Context) {}))
	if _, err := migrate.GrainKind(k, migrate.KindOptions{RequestTimeout: -1}); !errors.Is(err, grain.ErrInvalid) || !strings.Contains(err.Error(), "RequestTimeout") {
		t.Errorf("a negative RequestTimeout: %v", err)
	}
	if _, err := migrate.Install(nil); !errors.Is(err, migrate.ErrNotInstalled) {
		t.Errorf("Install(nil): %v", err)
	}
}
