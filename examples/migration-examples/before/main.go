// Command before is a proto.actor cluster program as it is written without
// Foundation: three members of the cluster "Shop" in one process on
// 127.0.0.1, discovered by proto.actor's automanaged provider, placed by
// its disthash identity lookup, each hosting two virtual actor kinds: a
// cart per user, which reserves items with an inventory actor per item
// through the cluster API. It runs a fixed script of requests from the
// three members and prints the answers. ../after is the same program on
// Foundation; ../idiomatic is its end state.
//
//	go run ./examples/migration-examples/before
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/labstack/echo"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "before:", err)
		os.Exit(1)
	}
}

// --- the virtual actors: the same in ../after ---

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
	clusters := make([]*cluster.Cluster, members)
	seen := make([]atomic.Int32, members) // members in each one's topology
	for i := range clusters {
		system := actor.NewActorSystem(actor.WithLoggerFactory(quiet))
		system.EventStream.Subscribe(func(ev any) {
			if t, ok := ev.(*cluster.ClusterTopology); ok {
				seen[i].Store(int32(len(t.Members)))
			}
		})
		health, err := loopbackHealth(autoPorts[i])
		if err != nil {
			return err
		}
		provider := automanaged.NewWithTesting(2*time.Second, autoPorts[i], health, hosts...)
		config := cluster.Configure("Shop", provider, disthash.New(),
			remote.Configure("127.0.0.1", remotePorts[i]),
			cluster.WithKinds(kinds()...))
		clusters[i] = cluster.New(system, config)
		serveHealth(health, clusters[i], autoPorts[i])
	}
	// StartMember sleeps a second at its end: start them together.
	var wg sync.WaitGroup
	for _, c := range clusters {
		wg.Add(1)
		go func() { defer wg.Done(); c.StartMember() }()
	}
	wg.Wait()
	defer func() {
		for _, c := range clusters {
			wg.Add(1)
			go func() { defer wg.Done(); c.Shutdown(true) }()
		}
		wg.Wait()
	}()
	// Wait until every member's topology has every member.
	deadline := time.Now().Add(30 * time.Second)
	for i := range seen {
		for seen[i].Load() != members {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("member %d sees %d members, want %d", i, seen[i].Load(), members)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fmt.Fprintf(out, "proto.actor cluster Shop: %d members (automanaged, disthash)\n", members)

	for _, s := range script {
		res, err := clusters[s.member].Request(s.user, "cart", wrapperspb.String(s.msg))
		if err != nil {
			return fmt.Errorf("member %d: %s %s: %w", s.member, s.user, s.msg, err)
		}
		fmt.Fprintf(out, "member %d: %s %s -> %s\n", s.member, s.user, s.msg, res.(*wrapperspb.StringValue).GetValue())
	}
	return nil
}

// loopbackHealth and serveHealth make automanaged.NewWithTesting's
// provider what automanaged.NewWithConfig(2*time.Second, port, hosts...)
// is, with its health endpoint on 127.0.0.1 rather than on every interface
// (NewWithConfig listens on 0.0.0.0:port).
func loopbackHealth(port int) (*echo.Echo, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort, e.Listener = true, true, ln
	return e, nil
}

// serveHealth answers /_health as the automanaged provider does: the
// member's address and kinds.
func serveHealth(e *echo.Echo, c *cluster.Cluster, port int) {
	e.GET("/_health", func(ctx echo.Context) error {
		host, rport, err := c.ActorSystem.GetHostPort()
		if err != nil {
			return ctx.NoContent(http.StatusServiceUnavailable)
		}
		return ctx.JSON(http.StatusOK, automanaged.NewNode(c.Config.Name, c.ActorSystem.ID, host, rport, port, c.GetClusterKinds()))
	})
}

// quiet keeps proto.actor's own logs out of the printout (its default is
// Info, on stdout; a member's shutdown logs errors of its own: the health
// server closed, peers' connections lost).
func quiet(*actor.ActorSystem) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
