package migrate_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"

	pa "github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/consul"
	paetcd "github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/hashicorp/consul/api"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/migrate"
)

// protoActorConfig is member i's configuration as a proto.actor program on
// one machine writes it: remoting on its own port, the automanaged
// provider on its own auto-manage port listing every member's.
func protoActorConfig(i int, ports, autoPorts []int, kinds ...*pacluster.Kind) *pacluster.Config {
	var hosts []string
	for _, p := range autoPorts {
		hosts = append(hosts, "127.0.0.1:"+strconv.Itoa(p))
	}
	return pacluster.Configure("Greeters",
		automanaged.NewWithConfig(time.Second, autoPorts[i], hosts...),
		disthash.New(),
		remote.Configure("127.0.0.1", ports[i]),
		pacluster.WithKinds(kinds...),
		pacluster.WithRequestTimeout(2*time.Second))
}

func TestATranslatedProtoActorConfigurationFormsTheSameCluster(t *testing.T) {
	ports, err := nodeproc.FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	kind := pacluster.NewKind("greeter", pa.PropsFromProducer(func() pa.Actor { return &greeter{events: ev} }))
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	var nodes []*foundation.Node
	for i := 0; i < 3; i++ {
		tr, err := migrate.Translate(protoActorConfig(i, ports[:3], ports[3:], kind))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			c := tr.Config
			if c.Name != "greeters" || c.Provider != cluster.ProviderStatic || len(c.Seeds) != 3 || c.ClusterPort != ports[3] ||
				c.Port != ports[0] || c.Host != "127.0.0.1" || !slices.Equal(c.Kinds, []string{"greeter"}) || len(tr.Kinds) != 1 {
				t.Fatalf("translated: %+v", c)
			}
			if len(tr.Notes) == 0 {
				t.Fatal("no notes: the lower-cased name and the provider mapping should be noted")
			}
		}
		node, err := foundation.Start(context.Background(),
			foundation.WithEnv(func(string) (string, bool) { return "", false }),
			foundation.WithLogger(log),
			foundation.WithGrains(tr.Kinds...),
			foundation.WithConfig(tr.Apply),
			foundation.WithConfig(func(c *cluster.Config) { c.Telemetry.Address = "127.0.0.1:0" }))
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		nodes = append(nodes, node)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = node.Stop(ctx)
		})
	}
	clustertest.Eventually(t, func() bool {
		for _, n := range nodes {
			if len(n.Membership.View().Members) != 3 || n.Grains.ViewSize() != 3 {
				return false
			}
		}
		return true
	}, 15*time.Second, "the translated members form one cluster")
	for _, n := range nodes {
		if v := n.Membership.View(); v.Members[0].Kinds[0] != "greeter" {
			t.Fatalf("member kinds: %+v", v.Members)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := grain.Get[*wrapperspb.StringValue](nodes[2].Grains, "greeter", "zoe").Call(ctx, wrapperspb.String("all"))
	if err != nil || r.Value != "hello all from zoe" {
		t.Fatalf("%v %v", r, err)
	}
}

func TestTranslateProviders(t *testing.T) {
	cp, err := consul.NewWithConfig(&api.Config{Address: "10.0.0.9:8500"})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := migrate.Translate(pacluster.Configure("shop", cp, nil, remote.Configure("0.0.0.0", 7000, remote.WithAdvertisedHost("shop-1.internal"))))
	if err != nil {
		t.Fatal(err)
	}
	if c := tr.Config; c.Provider != cluster.ProviderConsul || c.Consul.Address != "10.0.0.9:8500" || c.Consul.Service != "shop" || c.AdvertiseAddress != "shop-1.internal:7000" {
		t.Fatalf("consul: %+v", c)
	}

	// The etcd provider as NewWithConfig("/protoactor", Config{Endpoints:
	// ...}) makes it, without the connection (whose gRPC goroutines would
	// outlive the test).
	ep := etcdProvider(t, "/protoactor", "10.0.0.7:2379", "10.0.0.8:2379")
	tr, err = migrate.Translate(pacluster.Configure("shop", ep, nil, remote.Configure("127.0.0.1", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if c := tr.Config; c.Provider != cluster.ProviderEtcd || c.Etcd.Prefix != "/protoactor/" || !slices.Equal(c.Etcd.Endpoints, []string{"10.0.0.7:2379", "10.0.0.8:2379"}) {
		t.Fatalf("etcd: %+v", c.Etcd)
	}

	if _, err := migrate.Translate(nil); !errors.Is(err, migrate.ErrCannotTranslate) {
		t.Fatalf("nil: %v", err)
	}
	if _, err := migrate.Translate(pacluster.Configure("bad name!", nil, nil, remote.Configure("127.0.0.1", 0))); !errors.Is(err, migrate.ErrCannotTranslate) {
		t.Fatalf("a name Foundation refuses: %v", err)
	}
}

// etcdProvider is the provider paetcd.NewWithConfig(baseKey,
// clientv3.Config{Endpoints: endpoints}) returns, with a client that has
// no connection.
func etcdProvider(t *testing.T, baseKey string, endpoints ...string) *paetcd.Provider {
	t.Helper()
	c := clientv3.NewCtxClient(context.Background())
	field(reflect.ValueOf(c).Elem(), "cfg").FieldByName("Endpoints").Set(reflect.ValueOf(endpoints))
	p := &paetcd.Provider{}
	v := reflect.ValueOf(p).Elem()
	field(v, "client").Set(reflect.ValueOf(c))
	field(v, "baseKey").SetString(baseKey)
	return p
}

// field makes an unexported field settable.
func field(v reflect.Value, name string) reflect.Value {
	f := v.FieldByName(name)
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}
