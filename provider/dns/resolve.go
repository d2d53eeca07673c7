package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	miekg "github.com/miekg/dns"
)

// ednsSize is the UDP payload size queries advertise (EDNS0): answers up to
// this size come over UDP, larger ones are truncated and asked again over
// TCP.
const ednsSize = 4096

// resolver finds the member addresses behind one name. It keeps no state
// between lookups and starts no goroutines of its own (context.AfterFunc
// closes a connection whose query is cancelled).
type resolver struct {
	name    string   // fully qualified
	port    uint16   // of members found through A/AAAA records
	servers []string // host:port, asked in order
	timeout time.Duration
}

// lookup returns the sorted, duplicate-free host:port addresses of the
// members: one per address of each SRV record's target when Name has SRV
// records, otherwise one per A and AAAA record of Name with r.port. A name
// that does not exist (NXDOMAIN) or has no records is an empty set, not an
// error; an error means no server gave a usable answer to some query, and
// the set is unknown.
func (r *resolver) lookup(ctx context.Context) ([]string, error) {
	resp, err := r.exchange(ctx, r.name, miekg.TypeSRV)
	if err != nil {
		return nil, err
	}
	if resp.Rcode == miekg.RcodeNameError {
		return nil, nil
	}
	srvs := srvRecords(resp)
	if len(srvs) == 0 {
		ips, err := r.addresses(ctx, r.name)
		if err != nil {
			return nil, err
		}
		return hostPorts(ips, r.port), nil
	}
	var out []string
	resolved := make(map[string][]netip.Addr) // by canonical target
	for _, srv := range srvs {
		if srv.Target == "." || srv.Port == 0 {
			continue // "no service here" (RFC 2782), or not dialable
		}
		key := miekg.CanonicalName(srv.Target)
		ips, ok := resolved[key]
		if !ok {
			ips = glue(resp, srv.Target)
			if len(ips) == 0 {
				if ips, err = r.addresses(ctx, srv.Target); err != nil {
					return nil, err
				}
			}
			resolved[key] = ips
		}
		out = append(out, hostPorts(ips, srv.Port)...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// addresses returns the A and AAAA addresses of name; none when it does not
// exist or has none.
func (r *resolver) addresses(ctx context.Context, name string) ([]netip.Addr, error) {
	a, err := r.exchange(ctx, name, miekg.TypeA)
	if err != nil {
		return nil, err
	}
	if a.Rcode == miekg.RcodeNameError {
		return nil, nil
	}
	aaaa, err := r.exchange(ctx, name, miekg.TypeAAAA)
	if err != nil {
		return nil, err
	}
	return append(addressRecords(a.Answer, ""), addressRecords(aaaa.Answer, "")...), nil
}

// exchange asks the servers in order for name's records of type qtype and
// returns the first answer that is NOERROR or NXDOMAIN. A server that does
// not answer within the timeout, answers with another code, or answers
// another question is skipped; when none is left, the error names every
// server and what went wrong with it.
func (r *resolver) exchange(ctx context.Context, name string, qtype uint16) (*miekg.Msg, error) {
	q := new(miekg.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(ednsSize, false)
	failures := make([]string, 0, len(r.servers))
	for _, server := range r.servers {
		resp, err := r.query(ctx, "udp", server, q)
		if err == nil && resp.Truncated {
			resp, err = r.query(ctx, "tcp", server, q)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s: %v", server, err))
		case !answers(resp, q):
			failures = append(failures, fmt.Sprintf("%s: the answer is for another question", server))
		case resp.Rcode == miekg.RcodeSuccess || resp.Rcode == miekg.RcodeNameError:
			return resp, nil
		default:
			failures = append(failures, fmt.Sprintf("%s answered %s", server, rcodeName(resp.Rcode)))
		}
	}
	return nil, fmt.Errorf("%s %s: %s", miekg.TypeToString[qtype], name, strings.Join(failures, "; "))
}

// query sends q to server over network ("udp" or "tcp") and reads the
// answer, giving up after the timeout or when ctx is done: cancelling ctx
// closes the connection, so a query in flight ends at once.
func (r *resolver) query(ctx context.Context, network, server string, q *miekg.Msg) (*miekg.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &miekg.Client{Net: network, Timeout: r.timeout}
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, q, conn)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("no answer over %s within %v", network, r.timeout)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return resp, nil
}

// answers reports whether resp answers question q (same name, type and
// class), so that a stray or spoofed message with a matching id is not
// taken for the answer.
func answers(resp, q *miekg.Msg) bool {
	if len(resp.Question) != 1 || len(q.Question) != 1 {
		return false
	}
	a, b := resp.Question[0], q.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}

// srvRecords returns the SRV records of resp's answer section.
func srvRecords(resp *miekg.Msg) []*miekg.SRV {
	var out []*miekg.SRV
	for _, rr := range resp.Answer {
		if srv, ok := rr.(*miekg.SRV); ok {
			out = append(out, srv)
		}
	}
	return out
}

// glue returns the addresses resp's additional section gives for target.
func glue(resp *miekg.Msg, target string) []netip.Addr {
	return addressRecords(resp.Extra, target)
}

// addressRecords returns the addresses of the A and AAAA records of rrs
// owned by name, or of all of them when name is empty (an answer section,
// where CNAME records may lead from the name asked to the records' owner).
// IPv4-mapped addresses are unmapped.
func addressRecords(rrs []miekg.RR, name string) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
		if name != "" && !strings.EqualFold(miekg.Fqdn(rr.Header().Name), miekg.Fqdn(name)) {
			continue
		}
		var raw net.IP
		switch rr := rr.(type) {
		case *miekg.A:
			raw = rr.A
		case *miekg.AAAA:
			raw = rr.AAAA
		default:
			continue
		}
		if ip, ok := netip.AddrFromSlice(raw); ok && !ip.Unmap().IsUnspecified() {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// hostPorts returns host:port for each of ips, sorted, without duplicates.
func hostPorts(ips []netip.Addr, port uint16) []string {
	out := make([]string, 0, len(ips))
	p := strconv.Itoa(int(port))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip.String(), p))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// rcodeName is the mnemonic of a response code, such as "SERVFAIL".
func rcodeName(rcode int) string {
	if s, ok := miekg.RcodeToString[rcode]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rcode)
}

// diff returns the addresses of the sorted set next missing from the
// sorted set prev (added) and those of prev missing from next (removed).
func diff(prev, next []string) (added, removed []string) {
	i, j := 0, 0
	for i < len(prev) || j < len(next) {
		switch {
		case j == len(next) || i < len(prev) && prev[i] < next[j]:
			removed = append(removed, prev[i])
			i++
		case i == len(prev) || next[j] < prev[i]:
			added = append(added, next[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, removed
}
