package mdns

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/foundation-go/foundation/provider"
)

// The multicast DNS wire format (RFC 6762, DNS-SD RFC 6763), as much of it
// as a provider needs. Everything here is pure: packets in, values out.

const (
	mdnsPort = 5353
	// maxPacket is the largest mDNS message (RFC 6762 section 17).
	maxPacket = 9000
	// maxTXTString is the longest string of a TXT record, in bytes.
	maxTXTString = 255
	// maxKind is the longest grain kind name an announcement carries.
	maxKind = 200
	// maxKindChunks bounds the kinds=, kinds2=, … strings read from a TXT
	// record.
	maxKindChunks = 64
	// cacheFlush is the cache-flush bit of an answer's class (RFC 6762
	// section 10.2): this record replaces what peers cached for its name.
	cacheFlush = 1 << 15
)

// mdnsGroup is the IPv4 mDNS multicast group.
var mdnsGroup = net.IPv4(224, 0, 0, 251)

// TXT keys of an announcement.
const (
	keyCluster = "cluster"
	keyID      = "id"
	keyAddr    = "addr"
	keyKinds   = "kinds" // then kinds2, kinds3, … when one string is too short
	keyVersion = "version"
	keyAuth    = "auth"
)

// names are the DNS names one member announces.
type names struct {
	service  string // _foundation._tcp.local.
	instance string // <id>._foundation._tcp.local.
	host     string // <id>.local.
}

func newNames(service, domain, id string) names {
	domain = dns.Fqdn(strings.TrimSuffix(domain, "."))
	svc := strings.TrimSuffix(service, ".") + "." + domain
	label := escapeLabel(id)
	return names{service: svc, instance: label + "." + svc, host: label + "." + domain}
}

// escapeLabel writes s as one DNS label in presentation format: bytes other
// than letters, digits, '-' and '_' become \DDD.
func escapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\%03d`, c)
		}
	}
	return b.String()
}

// escapeTXT writes raw bytes in the presentation format miekg/dns packs TXT
// strings from: '"' and '\' escaped with '\', unprintable bytes as \DDD.
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, `\%03d`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeTXT is the inverse of escapeTXT, as miekg/dns unpacks TXT strings.
func unescapeTXT(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", false
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			if n > 255 {
				return "", false
			}
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String(), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// encodeTXT returns m's TXT strings in presentation format, or an error
// naming the field too long for a TXT string. Kinds are joined with commas
// and split over kinds=, kinds2=, … at kind boundaries.
func encodeTXT(m provider.Member) ([]string, error) {
	raw := []string{keyCluster + "=" + m.Cluster, keyID + "=" + m.ID, keyAddr + "=" + m.Address}
	chunk, n := "", 1
	flush := func() {
		key := keyKinds
		if n > 1 {
			key += strconv.Itoa(n)
		}
		raw = append(raw, key+"="+chunk)
		chunk, n = "", n+1
	}
	for _, k := range m.Kinds {
		switch {
		case chunk == "":
			chunk = k
		case len(keyKinds)+3+len(chunk)+1+len(k) <= maxTXTString: // "kindsNN=" + chunk + "," + k
			chunk += "," + k
		default:
			flush()
			chunk = k
		}
	}
	flush()
	if n-1 > maxKindChunks {
		return nil, fmt.Errorf("self.Kinds: %d kinds need %d TXT strings, more than %d", len(m.Kinds), n-1, maxKindChunks)
	}
	raw = append(raw, keyVersion+"="+m.Version)
	if m.Auth != "" {
		raw = append(raw, keyAuth+"="+m.Auth)
	}
	out := make([]string, len(raw))
	for i, s := range raw {
		if len(s) > maxTXTString {
			key, _, _ := strings.Cut(s, "=")
			return nil, fmt.Errorf("TXT %s=: %d bytes with the key, more than the %d a TXT string holds", key, len(s), maxTXTString)
		}
		out[i] = escapeTXT(s)
	}
	return out, nil
}

// decodeTXT reads a member from TXT strings in presentation format. It
// requires id=, addr= and cluster=; unknown keys are ignored; as RFC 6763
// section 6.4 says, keys are case-insensitive and only a key's first
// occurrence counts. Values with a NUL byte are refused, since they could
// shift the fields Sign separates with NUL.
func decodeTXT(txt []string) (provider.Member, bool) {
	kv := make(map[string]string, len(txt))
	for _, s := range txt {
		s, ok := unescapeTXT(s)
		if !ok {
			return provider.Member{}, false
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(k)
		if _, dup := kv[k]; dup {
			continue
		}
		if strings.IndexByte(v, 0) >= 0 {
			return provider.Member{}, false
		}
		kv[k] = v
	}
	cluster, hasCluster := kv[keyCluster]
	m := provider.Member{ID: kv[keyID], Address: kv[keyAddr], Cluster: cluster, Version: kv[keyVersion], Auth: kv[keyAuth]}
	if m.ID == "" || m.Address == "" || !hasCluster {
		return provider.Member{}, false
	}
	for n := 1; n <= maxKindChunks; n++ {
		key := keyKinds
		if n > 1 {
			key += strconv.Itoa(n)
		}
		chunk, ok := kv[key]
		if !ok {
			break
		}
		for k := range strings.SplitSeq(chunk, ",") {
			if k != "" {
				m.Kinds = append(m.Kinds, k)
			}
		}
	}
	return m, true
}

// announcement is this member's records with the given TTL (0: a goodbye),
// as an unsolicited response. Records that name this member alone carry the
// cache-flush bit; the shared PTR does not.
func announcement(n names, port uint16, txt []string, ips []netip.Addr, ttl uint32) *dns.Msg {
	hdr := func(name string, t uint16, flush bool) dns.RR_Header {
		class := uint16(dns.ClassINET)
		if flush {
			class |= cacheFlush
		}
		return dns.RR_Header{Name: name, Rrtype: t, Class: class, Ttl: ttl}
	}
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	m.Compress = true
	m.Answer = []dns.RR{
		&dns.PTR{Hdr: hdr(n.service, dns.TypePTR, false), Ptr: n.instance},
		&dns.SRV{Hdr: hdr(n.instance, dns.TypeSRV, true), Port: port, Target: n.host},
		&dns.TXT{Hdr: hdr(n.instance, dns.TypeTXT, true), Txt: txt},
	}
	for _, ip := range ips {
		if ip.Is4() {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(n.host, dns.TypeA, true), A: ip.AsSlice()})
		} else {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(n.host, dns.TypeAAAA, true), AAAA: ip.AsSlice()})
		}
	}
	return m
}

// query asks every member of service to answer (a PTR question, multicast
// answer wanted).
func query(service string) *dns.Msg {
	m := new(dns.Msg)
	m.Question = []dns.Question{{Name: service, Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
	return m
}

// sighting is one member read from a received response: an announcement,
// or a goodbye when its TTL is 0.
type sighting struct {
	member  provider.Member
	goodbye bool
}

// parse reads one received message: whether it asks for this member (a
// query naming the service, the instance or the host) and the members its
// answers announce (TXT records under the service; a TXT record carries
// all a member's fields).
func parse(msg *dns.Msg, n names) (queried bool, seen []sighting) {
	if msg.Opcode != dns.OpcodeQuery {
		return false, nil
	}
	if !msg.Response {
		for _, q := range msg.Question {
			if q.Qclass&^cacheFlush != dns.ClassINET && q.Qclass&^cacheFlush != dns.ClassANY {
				continue
			}
			switch {
			case strings.EqualFold(q.Name, n.service) && (q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY),
				strings.EqualFold(q.Name, n.instance) && (q.Qtype == dns.TypeSRV || q.Qtype == dns.TypeTXT || q.Qtype == dns.TypeANY),
				strings.EqualFold(q.Name, n.host) && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
				queried = true
			}
		}
		return queried, nil
	}
	suffix := "." + strings.ToLower(n.service)
	for _, sec := range [][]dns.RR{msg.Answer, msg.Extra} {
		for _, rr := range sec {
			txt, ok := rr.(*dns.TXT)
			if !ok || !strings.HasSuffix(strings.ToLower(txt.Hdr.Name), suffix) {
				continue
			}
			if m, ok := decodeTXT(txt.Txt); ok {
				seen = append(seen, sighting{member: m, goodbye: txt.Hdr.Ttl == 0})
			}
		}
	}
	return false, seen
}
