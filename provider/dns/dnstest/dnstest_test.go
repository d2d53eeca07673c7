package dnstest_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/foundation-go/foundation/provider/dns/dnstest"
)

func newServer(t *testing.T) *dnstest.Server {
	t.Helper()
	s, err := dnstest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ask sends one query over network and returns the answer, waiting for it
// up to timeout.
func ask(t *testing.T, s *dnstest.Server, network, name string, qtype uint16, edns bool, timeout time.Duration) (*dns.Msg, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		q.SetEdns0(4096, false)
	}
	c := &dns.Client{Net: network, Timeout: timeout}
	r, _, err := c.Exchange(q, s.Addr())
	return r, err
}

func mustAsk(t *testing.T, s *dnstest.Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	r, err := ask(t, s, network, name, qtype, true, 5*time.Second)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", dns.TypeToString[qtype], name, network, err)
	}
	return r
}

func TestAddr(t *testing.T) {
	s := newServer(t)
	host, _, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr() = %q, want 127.0.0.1:port", s.Addr())
	}
}

func TestRecordsOverUDPAndTCP(t *testing.T) {
	s := newServer(t)
	s.SetSRV("svc.test", []dnstest.Target{{Host: "a.test", Port: 7001}, {Host: "b.test.", Port: 7002}})
	s.SetA("a.test", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"))
	s.SetA("B.Test") // known, no addresses
	for _, network := range []string{"udp", "tcp"} {
		r := mustAsk(t, s, network, "SVC.test", dns.TypeSRV)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || !r.Authoritative {
			t.Fatalf("%s SRV: %v", network, r)
		}
		srv := r.Answer[0].(*dns.SRV)
		if srv.Target != "a.test." || srv.Port != 7001 {
			t.Errorf("%s SRV[0] = %v", network, srv)
		}
		if len(r.Extra) != 3 { // A and AAAA of a.test, OPT
			t.Errorf("%s SRV additional = %v, want a.test's A and AAAA and the OPT", network, r.Extra)
		}
		if r := mustAsk(t, s, network, "a.test", dns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
			t.Errorf("%s A a.test: %v", network, r)
		}
		if r := mustAsk(t, s, network, "a.test", dns.TypeAAAA); len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "::1" {
			t.Errorf("%s AAAA a.test: %v", network, r)
		}
		if r := mustAsk(t, s, network, "b.test", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
			t.Errorf("%s A b.test: want an empty NOERROR answer, got %v", network, r)
		}
		if r := mustAsk(t, s, network, "c.test", dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("%s A c.test: want NXDOMAIN, got %v", network, r)
		}
	}

	s.SetAdditional(false)
	if r := mustAsk(t, s, "udp", "svc.test", dns.TypeSRV); len(r.Extra) != 1 {
		t.Errorf("SetAdditional(false): additional = %v, want only the OPT", r.Extra)
	}
	s.Remove("svc.test")
	if r := mustAsk(t, s, "udp", "svc.test", dns.TypeSRV); r.Rcode != dns.RcodeNameError {
		t.Errorf("after Remove: want NXDOMAIN, got %v", r)
	}
}

func TestFaults(t *testing.T) {
	s := newServer(t)
	s.SetA("a.test", netip.MustParseAddr("127.0.0.1"))

	s.Fail(dns.RcodeServerFailure)
	if r := mustAsk(t, s, "udp", "a.test", dns.TypeA); r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
		t.Errorf("Fail(SERVFAIL): %v", r)
	}
	s.Drop()
	before := s.Queries()
	for _, network := range []string{"udp", "tcp"} {
		if r, err := ask(t, s, network, "a.test", dns.TypeA, true, 100*time.Millisecond); err == nil {
			t.Errorf("Drop over %s: got an answer %v", network, r)
		}
	}
	if got := s.Queries() - before; got != 2 {
		t.Errorf("Queries grew by %d while dropping two queries, want 2", got)
	}
	if got := s.Dropped(); got != 2 {
		t.Errorf("Dropped = %d, want 2", got)
	}
	s.Heal()
	if r := mustAsk(t, s, "udp", "a.test", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("after Heal: %v", r)
	}
}

func TestTruncatesLargeUDPAnswers(t *testing.T) {
	s := newServer(t)
	ips := make([]netip.Addr, 300)
	for i := range ips {
		ips[i] = netip.AddrFrom16([16]byte{0xfd, 15: byte(i), 14: byte(i >> 8)})
	}
	s.SetA("big.test", ips...)
	for _, edns := range []bool{false, true} {
		r, err := ask(t, s, "udp", "big.test", dns.TypeAAAA, edns, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Truncated || len(r.Answer) >= len(ips) {
			t.Errorf("UDP (EDNS0 %v): truncated %v with %d records, want TC and fewer than %d", edns, r.Truncated, len(r.Answer), len(ips))
		}
	}
	if r := mustAsk(t, s, "tcp", "big.test", dns.TypeAAAA); r.Truncated || len(r.Answer) != len(ips) {
		t.Errorf("TCP: truncated %v with %d records, want all %d", r.Truncated, len(r.Answer), len(ips))
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	s, err := dnstest.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(t, s, "tcp", "a.test", dns.TypeA, false, time.Second); err == nil {
		t.Error("a closed server answered over TCP")
	}
}
