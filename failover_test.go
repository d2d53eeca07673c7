package foundation_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/federation"
	"github.com/foundation-go/foundation/federation/fedtest"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/nodetest"
)

var placed = crdt.GCounterKey("orders/placed")

// ordersService answers "cluster:orders placed" from its node's replicated
// state.
type ordersService struct {
	actor.ServerBase
	cluster string
	node    *foundation.Node
}

func (s *ordersService) HandleCall(actor.Process, any) (any, error) {
	g, err := crdt.Get(context.Background(), s.node.Replicator, placed, crdt.Local)
	if err != nil {
		return wrapperspb.String(s.cluster + ":0"), nil
	}
	return wrapperspb.String(fmt.Sprintf("%s:%d", s.cluster, g.Value())), nil
}

// fedNode starts a one-member cluster that is its own gateway in a mesh of
// web, primary and standby, serving "orders" unless it is web.
func fedNode(t *testing.T, ca *fedtest.CA, name string, gw map[string]string) (*foundation.Node, *federation.Federation) {
	t.Helper()
	node := nodetest.Start(t, 1, func(int) []foundation.Option {
		return []foundation.Option{foundation.WithConfig(func(c *cluster.Config) {
			c.Name = name
			c.Labels = map[string]string{federation.LabelGateway: "true"}
		})}
	})[0]
	topo := federation.Topology{Kind: federation.Mesh, Clusters: []string{"web", "primary", "standby"}}
	remotes := map[string]federation.Remote{}
	prio := map[string]int{"primary": 1, "standby": 2}
	for _, o := range topo.Neighbours(name) {
		l := federation.NewLink(name, o)
		remotes[o] = federation.Remote{Gateways: []string{gw[o]}, Secret: "link-" + l.A + "-" + l.B, Priority: prio[o]}
	}
	tlsCfg, err := ca.MutualTLS(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := federation.New(node.System, node.Membership, node.Services, federation.Config{
		Cluster: name, Topology: topo, Gateway: true, Listen: gw[name], TLS: tlsCfg, Remotes: remotes,
		Exports: []string{"orders"}, Logger: node.Log})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) })
	if name != "web" {
		pid, err := node.System.Spawn(&ordersService{cluster: name, node: node})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.Services.Register(context.Background(), "orders", pid); err != nil {
			t.Fatal(err)
		}
	}
	return node, f
}

// Disaster recovery through federation: the primary cluster serves
// "orders" with its state; it is lost; its last backup is restored into the
// standby cluster, and the web cluster's global call moves there and sees
// the same state.
func TestFailoverToABackupClusterThroughFederation(t *testing.T) {
	ca, err := fedtest.NewCA("dr test CA")
	if err != nil {
		t.Fatal(err)
	}
	ports, err := nodeproc.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	gw := map[string]string{}
	for i, n := range []string{"web", "primary", "standby"} {
		gw[n] = fmt.Sprintf("127.0.0.1:%d", ports[i])
	}
	_, web := fedNode(t, ca, "web", gw)
	primary, primaryFed := fedNode(t, ca, "primary", gw)
	standby, _ := fedNode(t, ca, "standby", gw)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := crdt.Update(ctx, primary.Replicator, placed, crdt.Local, func(g *crdt.GCounter, op crdt.Op) { g.Increment(op.Replica, 5) }); err != nil {
		t.Fatal(err)
	}
	answer := func() string {
		r, err := federation.Call[*wrapperspb.StringValue](ctx, web, "orders", wrapperspb.String("count"))
		if err != nil {
			return "error: " + err.Error()
		}
		return r.GetValue()
	}
	clustertest.Eventually(t, func() bool { return answer() == "primary:5" }, 15*time.Second, "web's orders calls served by the primary")

	var backup bytes.Buffer
	if _, err := primary.Backup(ctx, &backup, foundation.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	// The primary cluster is lost.
	_ = primaryFed.Stop(ctx)
	_ = primary.Stop(ctx)

	info, err := standby.Restore(ctx, bytes.NewReader(backup.Bytes()), foundation.RestoreOptions{From: "primary"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster != "primary" {
		t.Fatalf("restored %+v", info)
	}
	clustertest.Eventually(t, func() bool { return answer() == "standby:5" }, 10*time.Second, "web's orders calls served by the standby, with the primary's state")
}
