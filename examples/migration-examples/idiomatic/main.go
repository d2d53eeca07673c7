// Command idiomatic is ../before at the end of its migration: the virtual
// actors are Foundation grains (grain.Grain, typed grain.Get calls with a
// context), the members start with Foundation's own configuration, and no
// proto.actor package is left. It answers the same script with the same
// answers.
//
//	go run ./examples/migration-examples/idiomatic
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodeproc"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "idiomatic:", err)
		os.Exit(1)
	}
}

// --- the grains: the same behaviour as ../before's virtual actors ---

// initialStock is each item's stock when its inventory grain activates.
var initialStock = map[string]int{"book": 3, "lamp": 1}

// inventory is one item's stock: "reserve" takes one.
type inventory struct{ stock int }

func (g *inventory) OnActivate(ctx *grain.Context) error {
	g.stock = initialStock[ctx.Identity()]
	return nil
}

func (g *inventory) Receive(_ *grain.Context, msg any) (any, error) {
	if m := msg.(*wrapperspb.StringValue).GetValue(); m != "reserve" {
		return wrapperspb.String("unknown request " + m), nil
	}
	if g.stock == 0 {
		return wrapperspb.String("sold out"), nil
	}
	g.stock--
	return wrapperspb.String(fmt.Sprintf("reserved (%d left)", g.stock)), nil
}

// cart is one user's cart: "add ITEM" reserves the item with its inventory
// grain, wherever that runs, and keeps it; "list" shows the cart.
type cart struct{ items []string }

func (g *cart) Receive(ctx *grain.Context, msg any) (any, error) {
	user := ctx.Identity()
	item, add := strings.CutPrefix(msg.(*wrapperspb.StringValue).GetValue(), "add ")
	if !add {
		return wrapperspb.String(user + "'s cart: " + g.list()), nil
	}
	// With the grain's context the caller's context values and trace go
	// along (not its deadline: the call has grain.Config.CallTimeout).
	res, err := grain.Get[*wrapperspb.StringValue](ctx.Host(), "inventory", item).Call(ctx, wrapperspb.String("reserve"))
	if err != nil {
		return wrapperspb.String("error: " + err.Error()), nil
	}
	if strings.HasPrefix(res.GetValue(), "reserved") {
		g.items = append(g.items, item)
	}
	return wrapperspb.String(item + " " + res.GetValue() + "; " + user + "'s cart: " + g.list()), nil
}

func (g *cart) list() string {
	if len(g.items) == 0 {
		return "empty"
	}
	return strings.Join(g.items, ", ")
}

func kinds() []grain.Kind {
	return []grain.Kind{
		{Name: "cart", New: func(string) grain.Grain { return &cart{} }},
		{Name: "inventory", New: func(string) grain.Grain { return &inventory{} }},
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

// --- starting the members ---

const members = 3

func run(ctx context.Context, out io.Writer) error {
	ports, err := nodeproc.FreePorts(2 * members)
	if err != nil {
		return err
	}
	var seeds []string // every member's cluster port
	for _, p := range ports[members:] {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	nodes := make([]*foundation.Node, 0, members)
	defer func() {
		for _, n := range nodes {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = n.Stop(sctx)
			cancel()
		}
	}()
	for i := range members {
		// In a deployment this is a YAML file or FOUNDATION_* variables:
		// name: shop, provider: static, seeds: [...].
		node, err := foundation.Start(ctx,
			foundation.WithGrains(kinds()...),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Name = "shop"
				c.Host, c.Port, c.ClusterPort = "127.0.0.1", ports[i], ports[members+i]
				c.Provider, c.Seeds = cluster.ProviderStatic, seeds
				c.Secret = "shop-cluster-secret"
				c.Telemetry.Address = cluster.TelemetryOff
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
	}
	for i, n := range nodes {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := n.Membership.Await(actx, cluster.HostingKind("cart", members))
		cancel()
		if err != nil {
			return fmt.Errorf("member %d does not see %d members hosting cart: %w", i, members, err)
		}
	}
	fmt.Fprintf(out, "Foundation cluster shop: %d members (static seeds, partitioned grains)\n", members)

	for _, s := range script {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := grain.Get[*wrapperspb.StringValue](nodes[s.member].Grains, "cart", s.user).Call(cctx, wrapperspb.String(s.msg))
		cancel()
		if err != nil {
			return fmt.Errorf("member %d: %s %s: %w", s.member, s.user, s.msg, err)
		}
		fmt.Fprintf(out, "member %d: %s %s -> %s\n", s.member, s.user, s.msg, res.GetValue())
	}
	return nil
}
