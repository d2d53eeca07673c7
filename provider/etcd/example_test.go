package etcd_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/etcd"
	"github.com/foundation-go/foundation/provider/etcd/etcdtest"
)

// Example registers two members of cluster "shop" in an etcd started by
// etcdtest (it needs the etcd binary) and prints the member sets the first
// one sees as the second joins and leaves.
func Example() {
	dir, err := os.MkdirTemp("", "etcd-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	server, err := etcdtest.StartServer(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer server.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := etcd.Config{Endpoints: server.Endpoints(), Secret: []byte("shared by the members of shop")}
	sets := make(chan string, 16)
	start := func(id string, update func([]provider.Member)) (*etcd.Provider, error) {
		p, err := etcd.New(cfg)
		if err != nil {
			return nil, err
		}
		self := provider.Member{ID: id, Address: id + ".shop.internal:7000", Cluster: "shop", Kinds: []string{"cart"}, Version: "v1"}
		return p, p.Start(ctx, self, update)
	}

	m1, err := start("m1", func(members []provider.Member) {
		var ids []string
		for _, m := range members {
			ids = append(ids, m.ID)
		}
		sets <- strings.Join(ids, " ")
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-sets)
	m2, err := start("m2", func([]provider.Member) {})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-sets)
	_ = m2.Stop(ctx) // revokes m2's lease: m1 sees it leave at once
	fmt.Println(<-sets)
	_ = m1.Stop(ctx)
	// Output:
	// m1
	// m1 m2
	// m1
}

// ExampleConfig_Validate shows the errors a bad configuration gets.
func ExampleConfig_Validate() {
	fmt.Println(etcd.Config{}.Validate())
	fmt.Println(etcd.Config{Endpoints: []string{"http://127.0.0.1:2379"}, LeaseTTL: 500 * time.Millisecond}.Validate())
	fmt.Println(etcd.Config{Endpoints: []string{"http://127.0.0.1:2379"}, LeaseTTL: 5 * time.Second}.Validate())
	// Output:
	// provider: invalid configuration: etcd: Config.Endpoints is empty: want at least one etcd client URL such as "http://127.0.0.1:2379"
	// provider: invalid configuration: etcd: Config.LeaseTTL 500ms: want whole seconds from 1s to 1h0m0s (zero: 10s)
	// <nil>
}
