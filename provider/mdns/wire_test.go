package mdns

import (
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/foundation-go/foundation/provider"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata golden files")

// roundTrip packs msg and unpacks it, as it travels.
func roundTrip(t testing.TB, msg *dns.Msg) *dns.Msg {
	t.Helper()
	b, err := msg.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var out dns.Msg
	if err := out.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestTXTEscapes: every byte string survives escapeTXT, packing by
// miekg/dns, unpacking and unescapeTXT.
func TestTXTEscapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []string{"", `\`, `"`, `\\\"`, "\x00\xff", `\065`, "a=b\tc", "\\", "é"}
	for range 500 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, ok := unescapeTXT(escapeTXT(s)); !ok || got != s {
			t.Fatalf("unescapeTXT(escapeTXT(%q)) = %q, %v", s, got, ok)
		}
		msg := &dns.Msg{Answer: []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{escapeTXT(s)}}}}
		wire := roundTrip(t, msg).Answer[0].(*dns.TXT).Txt[0]
		if got, ok := unescapeTXT(wire); !ok || got != s {
			t.Fatalf("%q came back as %q (%q), %v", s, got, wire, ok)
		}
	}
	for _, bad := range []string{`\`, `ab\`, `\256`} {
		if _, ok := unescapeTXT(bad); ok {
			t.Errorf("unescapeTXT(%q) ok, want refused", bad)
		}
	}
}

func TestTXTRoundTrip(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = strings.Repeat(string(rune('a'+i%26)), 30) + "-kind"
	}
	for _, m := range []provider.Member{
		{ID: "a", Address: "127.0.0.1:1", Cluster: "dev"},
		{ID: "a", Address: "[::1]:1", Cluster: "", Version: "v1", Kinds: []string{"x"}, Auth: "00ff"},
		{ID: "odd \"id\"\\=", Address: "h:1", Cluster: "c=d", Version: "ü", Kinds: []string{"a b", `q"`}},
		{ID: "big", Address: "h:1", Cluster: "c", Kinds: many},
	} {
		txt, err := encodeTXT(m)
		if err != nil {
			t.Fatalf("encodeTXT(%+v): %v", m, err)
		}
		for _, s := range txt {
			raw, _ := unescapeTXT(s)
			if len(raw) > maxTXTString {
				t.Fatalf("TXT string of %d bytes", len(raw))
			}
		}
		wire := roundTrip(t, &dns.Msg{Answer: []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: txt}}})
		got, ok := decodeTXT(wire.Answer[0].(*dns.TXT).Txt)
		if !ok || !same(got, m) {
			t.Fatalf("decodeTXT(encodeTXT(%+v)) = %+v, %v", m, got, ok)
		}
	}
	if n := len(mustTXT(t, provider.Member{ID: "big", Address: "h:1", Kinds: many})); n < 10 {
		t.Fatalf("40 kinds of 35 bytes in %d TXT strings; want them split over several kinds= strings", n)
	}
}

func mustTXT(t *testing.T, m provider.Member) []string {
	t.Helper()
	txt, err := encodeTXT(m)
	if err != nil {
		t.Fatal(err)
	}
	return txt
}

func TestEncodeTXTLimits(t *testing.T) {
	if _, err := encodeTXT(provider.Member{ID: "a", Address: strings.Repeat("h", 250) + ":1"}); err == nil || !strings.Contains(err.Error(), "TXT addr=") {
		t.Errorf("a 252-byte address: %v, want an error naming addr", err)
	}
	kinds := make([]string, maxKindChunks+1)
	for i := range kinds {
		kinds[i] = strings.Repeat("k", maxKind)
	}
	if _, err := encodeTXT(provider.Member{ID: "a", Address: "h:1", Kinds: kinds}); err == nil || !strings.Contains(err.Error(), "self.Kinds") {
		t.Errorf("%d kinds of %d bytes: %v, want an error naming self.Kinds", len(kinds), maxKind, err)
	}
}

func TestDecodeTXT(t *testing.T) {
	for _, tc := range []struct {
		name string
		txt  []string
		want provider.Member
		ok   bool
	}{
		{"minimal", []string{"cluster=", "id=a", "addr=h:1"}, provider.Member{ID: "a", Address: "h:1"}, true},
		{"no id", []string{"cluster=c", "addr=h:1"}, provider.Member{}, false},
		{"no addr", []string{"cluster=c", "id=a"}, provider.Member{}, false},
		{"no cluster", []string{"id=a", "addr=h:1"}, provider.Member{}, false},
		{"first occurrence wins, keys fold case", []string{"ID=a", "id=b", "addr=h:1", "Cluster=c", "cluster=d"}, provider.Member{ID: "a", Address: "h:1", Cluster: "c"}, true},
		{"unknown keys and bare keys ignored", []string{"id=a", "addr=h:1", "cluster=c", "flag", "x=y"}, provider.Member{ID: "a", Address: "h:1", Cluster: "c"}, true},
		{"kinds chunks in order, empties dropped", []string{"id=a", "addr=h:1", "cluster=c", "kinds2=z", "kinds=x,,y,", "kinds4=lost"}, provider.Member{ID: "a", Address: "h:1", Cluster: "c", Kinds: []string{"x", "y", "z"}}, true},
		{"NUL refused", []string{`id=a\000b`, "addr=h:1", "cluster=c"}, provider.Member{}, false},
		{"bad escape refused", []string{"id=a", "addr=h:1", `cluster=c\`}, provider.Member{}, false},
	} {
		got, ok := decodeTXT(tc.txt)
		if ok != tc.ok || !same(got, tc.want) {
			t.Errorf("%s: decodeTXT(%q) = %+v, %v; want %+v, %v", tc.name, tc.txt, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParse(t *testing.T) {
	n := newNames(DefaultService, DefaultDomain, "me")
	m := member("a", "dev", 7001, "k")
	txt := mustTXT(t, m)
	an := newNames(DefaultService, DefaultDomain, m.ID)
	ip := []netip.Addr{netip.MustParseAddr("127.0.0.1")}

	queried, seen := parse(roundTrip(t, announcement(an, 7001, txt, ip, 3)), n)
	if queried || len(seen) != 1 || seen[0].goodbye || !same(seen[0].member, m) {
		t.Fatalf("announcement: %v %+v", queried, seen)
	}
	_, seen = parse(roundTrip(t, announcement(an, 7001, txt, ip, 0)), n)
	if len(seen) != 1 || !seen[0].goodbye {
		t.Fatalf("goodbye: %+v", seen)
	}
	// Another service's announcement is not ours.
	other := newNames("_other._tcp", DefaultDomain, m.ID)
	if _, seen := parse(roundTrip(t, announcement(other, 7001, txt, ip, 3)), n); len(seen) != 0 {
		t.Fatalf("another service: %+v", seen)
	}
	// A browse answer as zeroconf's server sends it: PTR in Answer, TXT in Extra.
	resp := announcement(an, 7001, txt, ip, 3)
	resp.Extra, resp.Answer = resp.Answer[1:], resp.Answer[:1]
	if _, seen := parse(roundTrip(t, resp), n); len(seen) != 1 || !same(seen[0].member, m) {
		t.Fatalf("TXT in Extra: %+v", seen)
	}
	// Queries.
	for _, tc := range []struct {
		q    dns.Question
		want bool
	}{
		{dns.Question{Name: n.service, Qtype: dns.TypePTR, Qclass: dns.ClassINET}, true},
		{dns.Question{Name: strings.ToUpper(n.service), Qtype: dns.TypePTR, Qclass: dns.ClassINET | cacheFlush}, true},
		{dns.Question{Name: n.instance, Qtype: dns.TypeTXT, Qclass: dns.ClassINET}, true},
		{dns.Question{Name: n.host, Qtype: dns.TypeA, Qclass: dns.ClassINET}, true},
		{dns.Question{Name: n.service, Qtype: dns.TypeA, Qclass: dns.ClassINET}, false},
		{dns.Question{Name: "_other._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}, false},
		{dns.Question{Name: n.service, Qtype: dns.TypePTR, Qclass: dns.ClassCHAOS}, false},
	} {
		q := &dns.Msg{Question: []dns.Question{tc.q}}
		if got, seen := parse(roundTrip(t, q), n); got != tc.want || len(seen) != 0 {
			t.Errorf("query %v: queried = %v, want %v", tc.q, got, tc.want)
		}
	}
	if q, _ := parse(roundTrip(t, query(n.service)), n); !q {
		t.Error("our own query does not ask for us")
	}
	upd := query(n.service)
	upd.Opcode = dns.OpcodeUpdate
	if q, _ := parse(roundTrip(t, upd), n); q {
		t.Error("a non-query opcode was answered")
	}
}

// TestAnnouncementGolden pins the records an announcement carries.
func TestAnnouncementGolden(t *testing.T) {
	m := member("m-1", "shop", 7001, "cart", "user")
	m.Address = "10.0.0.1:7001"
	m.Auth = provider.Sign([]byte("secret"), m)
	n := newNames(DefaultService, DefaultDomain, m.ID)
	ips := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")}
	var b strings.Builder
	for _, ttl := range []uint32{3, 0} {
		msg := roundTrip(t, announcement(n, 7001, mustTXT(t, m), ips, ttl))
		for _, rr := range msg.Answer {
			b.WriteString(rr.String() + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(";; query\n" + roundTrip(t, query(n.service)).Question[0].String() + "\n")
	path := filepath.Join("testdata", "announcement.golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("announcement changed (go test -run Golden -update to accept):\n%s\nwant:\n%s", b.String(), want)
	}
}

// FuzzParse: no received packet makes parse panic, and what it reads
// survives encoding again.
func FuzzParse(f *testing.F) {
	n := newNames(DefaultService, DefaultDomain, "me")
	m := member("a", "dev", 7001, "k")
	txt, _ := encodeTXT(m)
	for _, msg := range []*dns.Msg{
		announcement(newNames(DefaultService, DefaultDomain, "a"), 7001, txt, []netip.Addr{netip.MustParseAddr("127.0.0.1")}, 3),
		query(n.service),
	} {
		b, _ := msg.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var msg dns.Msg
		if msg.Unpack(b) != nil {
			return
		}
		_, seen := parse(&msg, n)
		for _, s := range seen {
			if s.member.ID == "" || s.member.Address == "" || slices.Contains(s.member.Kinds, "") {
				t.Fatalf("parse read %+v", s.member)
			}
			txt, err := encodeTXT(s.member)
			if err != nil {
				continue // too long to announce again; reading it is fine
			}
			if got, ok := decodeTXT(txt); !ok || !same(got, s.member) {
				t.Fatalf("%+v encodes and decodes as %+v, %v", s.member, got, ok)
			}
		}
	})
}
