package dns_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/dns"
	"github.com/foundation-go/foundation/provider/dns/dnstest"
)

// Example resolves a headless service's A records, served here by a
// dnstest.Server, and prints each member set as the records change.
func Example() {
	server, err := dnstest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer server.Close()
	const name = "foundation.default.svc.cluster.local"
	server.SetA(name, netip.MustParseAddr("10.1.0.7"), netip.MustParseAddr("10.1.2.9"))

	p, err := dns.New(dns.Config{
		Name:     name,
		Servers:  []string{server.Addr()}, // default: /etc/resolv.conf's
		Interval: 10 * time.Millisecond,   // default: 5s
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sets := make(chan []provider.Member, 16) // update must not block
	show := func(ms []provider.Member) {
		addrs := make([]string, len(ms))
		for i, m := range ms {
			addrs[i] = m.Address // only Address is set
		}
		fmt.Printf("%d members: %s\n", len(ms), strings.Join(addrs, " "))
	}
	self := provider.Member{Address: "10.1.0.7:7000"}
	ctx := context.Background()
	if err := p.Start(ctx, self, func(ms []provider.Member) { sets <- ms }); err != nil {
		fmt.Println(err)
		return
	}
	show(<-sets) // Start returns after the first set

	server.SetA(name, netip.MustParseAddr("10.1.0.7"), netip.MustParseAddr("10.1.3.4")) // a pod replaced
	show(<-sets)
	server.Remove(name) // NXDOMAIN: nobody is ready
	show(<-sets)

	stopCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = p.Stop(stopCtx)
	// Output:
	// 2 members: 10.1.0.7:7000 10.1.2.9:7000
	// 2 members: 10.1.0.7:7000 10.1.3.4:7000
	// 0 members:
}

// ExampleConfig_Validate shows the errors a bad configuration gets.
func ExampleConfig_Validate() {
	fmt.Println(dns.Config{}.Validate())
	fmt.Println(dns.Config{Name: "foundation.default.svc.cluster.local", Port: 70000}.Validate())
	fmt.Println(dns.Config{Name: "foundation.default.svc.cluster.local", Interval: -time.Second}.Validate())
	fmt.Println(dns.Config{Name: "foundation.default.svc.cluster.local"}.Validate())
	// Output:
	// provider: invalid configuration: dns: Config.Name is empty: want the DNS name to resolve, such as "foundation.default.svc.cluster.local"
	// provider: invalid configuration: dns: Config.Port 70000: want 1..65535 (zero: the port of self's address)
	// provider: invalid configuration: dns: Config.Interval -1s: want at least 10ms (zero: 5s)
	// <nil>
}
