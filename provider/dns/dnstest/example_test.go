package dnstest_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/foundation-go/foundation/provider/dns/dnstest"
)

func Example() {
	s, err := dnstest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	s.SetA("foundation.test", netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"))

	c := &dns.Client{Timeout: time.Second}
	query := func() {
		q := new(dns.Msg)
		q.SetQuestion("foundation.test.", dns.TypeA)
		r, _, err := c.Exchange(q, s.Addr())
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Print(dns.RcodeToString[r.Rcode])
		for _, rr := range r.Answer {
			fmt.Print(" ", rr.(*dns.A).A)
		}
		fmt.Println()
	}
	query()
	s.Fail(dns.RcodeServerFailure)
	query()
	s.Heal()
	s.Remove("foundation.test")
	query()
	// Output:
	// NOERROR 10.0.0.1 10.0.0.2
	// SERVFAIL
	// NXDOMAIN
}
