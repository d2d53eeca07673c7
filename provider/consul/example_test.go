package consul_test

import (
	"context"
	"fmt"
	"time"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/consul"
	"github.com/foundation-go/foundation/provider/consul/consultest"
)

// Example registers a member with an in-process stand-in for a Consul
// agent, prints the member set it reports, and deregisters it.
func Example() {
	agent, err := consultest.New(consultest.Config{}) // in production: a real agent
	if err != nil {
		fmt.Println(err)
		return
	}
	defer agent.Close()

	p, err := consul.New(consul.Config{
		Address: agent.Addr(), // e.g. "127.0.0.1:8500"
		Service: "shop",
		Secret:  []byte("shared by the members of shop"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sets := make(chan []provider.Member, 8)
	self := provider.Member{ID: "m1", Address: "10.0.0.1:7000", Cluster: "shop", Kinds: []string{"cart", "user"}, Version: "v1"}
	ctx := context.Background()
	err = p.Start(ctx, self, func(members []provider.Member) {
		select { // update must not block
		case sets <- members:
		default:
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range <-sets {
		fmt.Println("member", m.ID, m.Address, m.Kinds)
	}
	for _, s := range agent.Services() {
		fmt.Println("registered", s.ID, s.Status, s.TTL, s.DeregisterAfter)
	}
	if err := p.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	fmt.Println("registered after Stop:", len(agent.Services()))
	// Output:
	// member m1 10.0.0.1:7000 [cart user]
	// registered shop-m1 passing 10s 1m0s
	// registered after Stop: 0
}

// ExampleConfig_Validate shows the errors a bad configuration gets.
func ExampleConfig_Validate() {
	fmt.Println(consul.Config{Service: "shop"}.Validate())
	fmt.Println(consul.Config{Address: "127.0.0.1:8500"}.Validate())
	fmt.Println(consul.Config{Address: "127.0.0.1:8500", Service: "shop", DeregisterAfter: 30 * time.Second}.Validate())
	fmt.Println(consul.Config{Address: "http://consul.service:8500", Service: "shop"}.Validate())
	// Output:
	// provider: invalid configuration: consul: Config.Address "": empty; want host:port (such as 127.0.0.1:8500) or an http://, https:// or unix:// URL
	// provider: invalid configuration: consul: Config.Service "": want 1..255 letters, digits, '-', '_' or '.' (members of one cluster share it)
	// provider: invalid configuration: consul: Config.DeregisterAfter 30s: want at least 1m0s, Consul's minimum for DeregisterCriticalServiceAfter (zero: 1m0s)
	// <nil>
}
