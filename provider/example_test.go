package provider_test

import (
	"context"
	"fmt"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/static"
)

// Example drives a back-end through the Provider interface, as the cluster
// layer does: Start with this member and a callback for member sets, Stop
// to withdraw.
func Example() {
	ctx := context.Background()
	var p provider.Provider
	p, err := static.New([]string{"10.0.0.1:7000", "10.0.0.2:7000"})
	if err != nil {
		fmt.Println(err)
		return
	}
	self := provider.Member{ID: "m1", Address: "10.0.0.1:7000", Cluster: "shop"}
	err = p.Start(ctx, self, func(members []provider.Member) {
		fmt.Println(len(members), "members")
		for _, m := range members {
			fmt.Println(m.Address, m.Address == self.Address)
		}
	})
	fmt.Println(err)
	fmt.Println(p.Stop(ctx))
	fmt.Println(p.Start(ctx, self, func([]provider.Member) {}))
	// Output:
	// 2 members
	// 10.0.0.1:7000 true
	// 10.0.0.2:7000 false
	// <nil>
	// <nil>
	// provider: stopped
}

// ExampleSign signs an announcement and verifies it; the order of kinds does
// not matter, any other change does.
func ExampleSign() {
	secret := []byte("cluster secret")
	m := provider.Member{ID: "m1", Address: "10.0.0.1:7000", Cluster: "shop", Kinds: []string{"cart", "user"}, Version: "v1"}
	m.Auth = provider.Sign(secret, m)
	fmt.Println(provider.Verify(secret, m))

	m.Kinds = []string{"user", "cart"}
	fmt.Println(provider.Verify(secret, m))

	m.Address = "10.0.0.9:7000"
	fmt.Println(provider.Verify(secret, m))
	// Output:
	// true
	// true
	// false
}
