package dns

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		prev, next, added, removed string
	}{
		{"", "", "", ""},
		{"", "a b", "a b", ""},
		{"a b", "", "", "a b"},
		{"a b c", "a c d", "d", "b"},
		{"b", "a c", "a c", "b"},
		{"a b", "a b", "", ""},
	}
	for _, tt := range tests {
		added, removed := diff(strings.Fields(tt.prev), strings.Fields(tt.next))
		if strings.Join(added, " ") != tt.added || strings.Join(removed, " ") != tt.removed {
			t.Errorf("diff(%q, %q) = %v, %v; want %q, %q", tt.prev, tt.next, added, removed, tt.added, tt.removed)
		}
	}
}

func TestAddressRecords(t *testing.T) {
	rr := func(s string) miekg.RR {
		r, err := miekg.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rrs := []miekg.RR{
		rr("a.test. 5 IN A 10.0.0.1"),
		rr("A.TEST 5 IN AAAA ::ffff:10.0.0.2"), // mapped: unmapped
		rr("a.test. 5 IN AAAA fd00::1"),
		rr("b.test. 5 IN A 10.0.0.3"),
		rr("a.test. 5 IN A 0.0.0.0"), // not dialable
		rr("a.test. 5 IN TXT \"x\""),
	}
	str := func(ips []netip.Addr) string {
		var out []string
		for _, ip := range ips {
			out = append(out, ip.String())
		}
		return strings.Join(out, " ")
	}
	if got, want := str(addressRecords(rrs, "a.test")), "10.0.0.1 10.0.0.2 fd00::1"; got != want {
		t.Errorf("a.test: %s, want %s", got, want)
	}
	if got, want := str(addressRecords(rrs, "")), "10.0.0.1 10.0.0.2 fd00::1 10.0.0.3"; got != want {
		t.Errorf("all: %s, want %s", got, want)
	}
	if got, want := strings.Join(hostPorts(ips("fd00::1", "10.0.0.1", "10.0.0.1"), 7000), " "), "10.0.0.1:7000 [fd00::1]:7000"; got != want {
		t.Errorf("hostPorts = %s, want %s", got, want)
	}
}

func TestLookupFollowsCNAMEs(t *testing.T) {
	// A server whose A answers come through a CNAME, as a resolver answers
	// for an alias.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &miekg.Server{PacketConn: pc, Handler: miekg.HandlerFunc(func(w miekg.ResponseWriter, q *miekg.Msg) {
		m := new(miekg.Msg)
		m.SetReply(q)
		switch q.Question[0].Qtype {
		case miekg.TypeA:
			cname, _ := miekg.NewRR("alias.test. 5 IN CNAME real.test.")
			a, _ := miekg.NewRR("real.test. 5 IN A 10.0.0.9")
			m.Answer = []miekg.RR{cname, a}
		case miekg.TypeSRV:
			cname, _ := miekg.NewRR("alias.test. 5 IN CNAME real.test.")
			m.Answer = []miekg.RR{cname} // a CNAME, but no SRV record
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.ActivateAndServe()
	}()
	<-started
	defer func() {
		_ = srv.Shutdown()
		<-served
	}()

	r := &resolver{name: "alias.test.", port: 7000, servers: []string{pc.LocalAddr().String()}, timeout: time.Second}
	got, err := r.lookup(context.Background())
	if err != nil || !slices.Equal(got, []string{"10.0.0.9:7000"}) {
		t.Errorf("lookup = %v, %v; want [10.0.0.9:7000]", got, err)
	}
}

func TestAnswersChecksTheQuestion(t *testing.T) {
	q := new(miekg.Msg)
	q.SetQuestion("svc.test.", miekg.TypeSRV)
	r := new(miekg.Msg)
	r.SetReply(q)
	if !answers(r, q) {
		t.Error("a reply does not answer its query")
	}
	r.Question[0].Name = "SVC.Test."
	if !answers(r, q) {
		t.Error("names differing in case only do not match")
	}
	r.Question[0].Name = "other.test."
	if answers(r, q) {
		t.Error("an answer for another name was taken")
	}
	r.SetQuestion("svc.test.", miekg.TypeA)
	if answers(r, q) {
		t.Error("an answer for another type was taken")
	}
	r.Question = nil
	if answers(r, q) {
		t.Error("an answer without a question was taken")
	}
}
