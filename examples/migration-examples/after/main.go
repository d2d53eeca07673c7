// Command after is ../before on Foundation, the first step of a migration:
// the proto.actor virtual actors are unchanged, and so is the code that
// calls them through proto.actor's cluster API. What changes is how the
// members start: migrate.Translate turns the same proto.actor cluster
// configuration into Foundation's (the automanaged hosts become static
// seeds) and its kinds into grain kinds (migrate.GrainKind);
// foundation.Start runs them; migrate.Install answers
// cluster.GetCluster(system).Request with Foundation grains.
//
//	go run ./examples/migration-examples/after
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	fcluster "github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/migrate"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "after:", err)
		os.Exit(1)
	}
}

// --- the virtual actors: unchanged from ../before ---

// initialStock is each item's stock when its inventory actor activates.
var initialStock = map[string]int{"book": 3, "lamp": 1}

// inventory is one item's stock: "reserve" takes one.
type inventory struct {
	item  string
	stock int
}

func (a *inventory) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		a.item = m.Identity.Identity
		a.stock = initialStock[a.item]
	case *wrapperspb.StringValue:
		if m.Value != "reserve" {
			ctx.Respond(wrapperspb.String("unknown request " + m.Value))
			return
		}
		if a.stock == 0 {
			ctx.Respond(wrapperspb.String("sold out"))
			return
		}
		a.stock--
		ctx.Respond(wrapperspb.String(fmt.Sprintf("reserved (%d left)", a.stock)))
	}
}

// cart is one user's cart: "add ITEM" reserves the item with its inventory
// actor, wherever that runs, and keeps it; "list" shows the cart.
type cart struct {
	user  string
	c     *cluster.Cluster
	items []string
}

func (a *cart) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		a.user, a.c = m.Identity.Identity, m.Cluster
	case *wrapperspb.StringValue:
		item, add := strings.CutPrefix(m.Value, "add ")
		if !add {
			ctx.Respond(wrapperspb.String(a.user + "'s cart: " + a.list()))
			return
		}
		res, err := a.c.Request(item, "inventory", wrapperspb.String("reserve"))
		if err != nil {
			ctx.Respond(wrapperspb.String("error: " + err.Error()))
			return
		}
		answer := res.(*wrapperspb.StringValue).GetValue()
		if strings.HasPrefix(answer, "reserved") {
			a.items = append(a.items, item)
		}
		ctx.Respond(wrapperspb.String(item + " " + answer + "; " + a.user + "'s cart: " + a.list()))
	}
}

func (a *cart) list() string {
	if len(a.items) == 0 {
		return "empty"
	}
	return strings.Join(a.items, ", ")
}

func kinds() []*cluster.Kind {
	return []*cluster.Kind{
		cluster.NewKind("cart", actor.PropsFromProducer(func() actor.Actor { return &cart{} })),
		cluster.NewKind("inventory", actor.PropsFromProducer(func() actor.Actor { return &inventory{} })),
	}
}

// script is what the program asks, from which member.
var script = []struct {
	member    int
	user, msg string
}{
	{0, "alice", "add book"},
	{1, "bob", "add book"},
	{2, "alice", "add lamp"},
	{0, "carol", "add lamp"},
	{1, "carol", "add book"},
	{2, "dave", "add book"},
	{0, "alice", "list"},
	{1, "bob", "list"},
	{2, "carol", "list"},
}

// --- starting the members: what the migration changes ---

const members = 3

func run(ctx context.Context, out io.Writer) error {
	ports, err := nodeproc.FreePorts(2 * members)
	if err != nil {
		return err
	}
	remotePorts, autoPorts := ports[:members], ports[members:]
	var hosts []string // every member's auto-manage endpoint
	for _, p := range autoPorts {
		hosts = append(hosts, "127.0.0.1:"+strconv.Itoa(p))
	}
	nodes := make([]*foundation.Node, 0, members)
	defer func() {
		for _, n := range nodes {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = n.Stop(sctx)
			cancel()
		}
	}()
	clusters := make([]*cluster.Cluster, members)
	for i := range clusters {
		// The proto.actor configuration, as it was (it is only read: the
		// provider never starts).
		config := cluster.Configure("Shop", automanaged.NewWithConfig(2*time.Second, autoPorts[i], hosts...), disthash.New(),
			remote.Configure("127.0.0.1", remotePorts[i]),
			cluster.WithKinds(kinds()...))
		tr, err := migrate.Translate(config)
		if err != nil {
			return err
		}
		if i == 0 {
			for _, note := range tr.Notes {
				fmt.Fprintln(out, "translated:", note)
			}
		}
		node, err := foundation.Start(ctx,
			foundation.WithGrains(tr.Kinds...),
			foundation.WithConfig(tr.Apply),
			foundation.WithConfig(func(c *fcluster.Config) {
				// What proto.actor did not have: the secret that admits
				// members; no telemetry listener in this example.
				c.Secret = "shop-cluster-secret"
				c.Telemetry.Address = fcluster.TelemetryOff
				// Probes that a loaded machine (tests under the race
				// detector) does not fail: a member suspected by a late
				// probe would see its grains, and their state, moved.
				c.ProbeInterval, c.ProbeTimeout = time.Second, 500*time.Millisecond
			}),
			foundation.WithEnv(func(string) (string, bool) { return "", false }),
			foundation.WithLogger(zap.NewNop()))
		if err != nil {
			return fmt.Errorf("member %d: %w", i, err)
		}
		nodes = append(nodes, node)
		// cluster.GetCluster(system) for the code that calls grains from
		// outside them.
		if clusters[i], err = migrate.Install(node.Grains); err != nil {
			return err
		}
	}
	for i, n := range nodes {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := n.Membership.Await(actx, fcluster.HostingKind("cart", members))
		cancel()
		if err != nil {
			return fmt.Errorf("member %d does not see %d members hosting cart: %w", i, members, err)
		}
	}
	fmt.Fprintf(out, "Foundation cluster shop: %d members (static seeds, partitioned grains)\n", members)

	for _, s := range script {
		res, err := clusters[s.member].Request(s.user, "cart", wrapperspb.String(s.msg))
		if err != nil {
			return fmt.Errorf("member %d: %s %s: %w", s.member, s.user, s.msg, err)
		}
		fmt.Fprintf(out, "member %d: %s %s -> %s\n", s.member, s.user, s.msg, res.(*wrapperspb.StringValue).GetValue())
	}
	return nil
}
