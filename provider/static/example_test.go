package static_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/static"
)

func Example() {
	ctx := context.Background()
	p, err := static.New([]string{"10.0.0.2:7000", "10.0.0.1:7000", "10.0.0.2:7000"})
	if err != nil {
		fmt.Println(err)
		return
	}
	self := provider.Member{ID: "m1", Address: "10.0.0.1:7000", Cluster: "shop"}
	_ = p.Start(ctx, self, func(members []provider.Member) {
		addrs := make([]string, len(members))
		for i, m := range members {
			addrs[i] = m.Address
		}
		fmt.Println(strings.Join(addrs, " "))
	})
	_ = p.SetSeeds(ctx, []string{"10.0.0.1:7000", "10.0.0.3:7000"})
	_ = p.Stop(ctx)

	_, err = static.New([]string{"10.0.0.1"})
	fmt.Println(err)
	// Output:
	// 10.0.0.1:7000 10.0.0.2:7000
	// 10.0.0.1:7000 10.0.0.3:7000
	// provider: invalid configuration: static: seed 0 "10.0.0.1": address 10.0.0.1: missing port in address; want host:port with port 1..65535
}
