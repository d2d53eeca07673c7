package mdns_test

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/mdns"
)

// Example announces a member on eth0 and prints the member sets it sees.
// It has no Output: it multicasts, and examples must not, so go test only
// compiles it.
func Example() {
	log, _ := zap.NewDevelopment()
	p, err := mdns.New(mdns.Config{
		Interfaces: []string{"eth0"},
		Secret:     []byte("shared by the members of shop"),
		Logger:     log,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	self := provider.Member{ID: "m1", Address: "10.0.0.1:7000", Cluster: "shop", Kinds: []string{"cart"}, Version: "v1"}
	ctx := context.Background()
	err = p.Start(ctx, self, func(members []provider.Member) {
		for _, m := range members {
			fmt.Println(m.ID, m.Address, m.Kinds)
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	time.Sleep(5 * time.Second) // a program would run until told to stop
	stopCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = p.Stop(stopCtx)
}

// ExampleConfig_Validate shows the errors a bad configuration gets.
func ExampleConfig_Validate() {
	cfg := mdns.Config{AnnounceInterval: 2 * time.Second, ExpireAfter: 3 * time.Second}
	fmt.Println(cfg.Validate())
	cfg.ExpireAfter = 0 // default: 3 × AnnounceInterval
	fmt.Println(cfg.Validate())
	fmt.Println(mdns.Config{Service: "foundation"}.Validate())
	// Output:
	// provider: invalid configuration: mdns: Config.ExpireAfter 3s: want 2×AnnounceInterval (4s)..1h0m0s (zero: 3×AnnounceInterval)
	// <nil>
	// provider: invalid configuration: mdns: Config.Service "foundation": want "_name._tcp" or "_name._udp", the name 1..15 letters, digits or hyphens
}
