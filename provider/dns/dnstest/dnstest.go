package dnstest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// TTL is the time-to-live, in seconds, of every record a Server answers.
const TTL = 1

// Target is one SRV record's target: a host name (resolved through the A
// and AAAA records set for it with SetA) and a port.
type Target struct {
	Host string
	Port uint16
}

// Server is a DNS server on 127.0.0.1, over UDP and TCP on one port. Build
// one with New and Close it when done. Its methods are safe for concurrent
// use, also while it answers queries.
type Server struct {
	udp, tcp *dns.Server
	addr     string
	served   sync.WaitGroup // the two serving goroutines

	mu         sync.Mutex
	names      map[string]*records // by dns.CanonicalName
	additional bool
	drop       bool
	fail       int // rcode to answer every query with; -1: none

	queries   atomic.Int64
	dropped   atomic.Int64
	closeOnce sync.Once
}

// records are the records of one name.
type records struct {
	srv []Target
	ips []netip.Addr
}

// New starts a Server on 127.0.0.1, on a free port that it listens on with
// both UDP and TCP, and returns once both listeners serve. It knows no
// names yet: every query is answered NXDOMAIN until records are set.
func New() (*Server, error) {
	pc, ln, err := listen()
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr:       pc.LocalAddr().String(),
		names:      make(map[string]*records),
		additional: true,
		fail:       -1,
	}
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		exited := make(chan error, 1)
		srv.NotifyStartedFunc = func() { close(started) }
		s.served.Add(1)
		go func() {
			defer s.served.Done()
			exited <- srv.ActivateAndServe()
		}()
		select {
		case <-started:
		case err := <-exited:
			_ = s.Close()
			return nil, fmt.Errorf("dnstest: serving on %s: %v", s.addr, err)
		}
	}
	return s, nil
}

// listen opens a UDP socket and a TCP listener on the same free port of
// 127.0.0.1, trying a few ports in case another process takes the TCP port
// first.
func listen() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("dnstest: listening on udp 127.0.0.1: %v", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
		_ = pc.Close()
	}
	return nil, nil, fmt.Errorf("dnstest: no port of 127.0.0.1 was free for both udp and tcp: %v", lastErr)
}

// Addr is the server's address, "127.0.0.1:port", for UDP and TCP alike.
func (s *Server) Addr() string { return s.addr }

// SetSRV sets the SRV records of name to one per target (priority and
// weight 0), replacing the ones it had and keeping its A and AAAA records.
// An empty targets makes name known without SRV records: an SRV query gets
// an empty NOERROR answer.
func (s *Server) SetSRV(name string, targets []Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry(name).srv = slices.Clone(targets)
}

// SetA sets the address records of name: an A record for each IPv4 address
// of ips and an AAAA record for each IPv6 one, replacing the ones it had and
// keeping its SRV records. No ips makes name known without address records.
// IPv4-mapped IPv6 addresses count as IPv4; zones are dropped.
func (s *Server) SetA(name string, ips ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(name)
	e.ips = make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if ip.IsValid() {
			e.ips = append(e.ips, ip.Unmap().WithZone(""))
		}
	}
}

// Remove forgets name and its records: queries for it get NXDOMAIN.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.names, dns.CanonicalName(name))
}

// SetAdditional sets whether SRV answers carry the targets' A and AAAA
// records in the additional section. Default: true.
func (s *Server) SetAdditional(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.additional = on
}

// Fail makes the server answer every query with rcode (dns.RcodeServerFailure,
// dns.RcodeRefused, …) and no records, until Heal, Drop or another Fail.
func (s *Server) Fail(rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.drop = rcode, false
}

// Drop makes the server read queries and never answer them, until Heal or
// Fail: clients time out.
func (s *Server) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.drop = -1, true
}

// Heal undoes Fail and Drop: queries are answered from the records again.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.drop = -1, false
}

// Queries is the number of queries the server has received, over UDP and
// TCP, answered or dropped.
func (s *Server) Queries() int64 { return s.queries.Load() }

// Dropped is the number of queries the server has left unanswered because
// of Drop: a test that waits for it to grow knows a client is waiting for
// an answer that will not come.
func (s *Server) Dropped() int64 { return s.dropped.Load() }

// Close stops the server and waits for every goroutine it started. It is
// idempotent and returns nil; it has an error result to be an io.Closer.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		for _, srv := range []*dns.Server{s.udp, s.tcp} {
			if srv.ShutdownContext(context.Background()) != nil {
				// Not started (New failed half-way): close what
				// serving would have closed.
				if srv.PacketConn != nil {
					_ = srv.PacketConn.Close()
				}
				if srv.Listener != nil {
					_ = srv.Listener.Close()
				}
			}
		}
		s.served.Wait()
	})
	return nil
}

// entry returns the records of name, creating them; s.mu is held.
func (s *Server) entry(name string) *records {
	key := dns.CanonicalName(name)
	e := s.names[key]
	if e == nil {
		e = &records{}
		s.names[key] = e
	}
	return e
}

// serve answers one query.
func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	s.mu.Lock()
	resp := s.answer(req)
	s.mu.Unlock()
	if resp == nil {
		s.dropped.Add(1)
		return
	}
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		resp.Truncate(size)
	}
	_ = w.WriteMsg(resp)
}

// answer builds the reply to req, or returns nil when queries are dropped;
// s.mu is held.
func (s *Server) answer(req *dns.Msg) *dns.Msg {
	if s.drop {
		return nil
	}
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
	}
	if s.fail >= 0 {
		resp.Rcode = s.fail
		return resp
	}
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	q := req.Question[0]
	e := s.names[dns.CanonicalName(q.Name)]
	if e == nil {
		resp.Rcode = dns.RcodeNameError
		return resp
	}
	switch q.Qtype {
	case dns.TypeSRV:
		extra := make(map[string]bool)
		for _, t := range e.srv {
			target := dns.Fqdn(t.Host)
			resp.Answer = append(resp.Answer, &dns.SRV{
				Hdr:    header(q.Name, dns.TypeSRV),
				Target: target,
				Port:   t.Port,
			})
			key := dns.CanonicalName(target)
			if te := s.names[key]; s.additional && te != nil && !extra[key] {
				extra[key] = true
				resp.Extra = append(resp.Extra, addressRecords(target, te.ips, true, true)...)
			}
		}
	case dns.TypeA:
		resp.Answer = addressRecords(q.Name, e.ips, true, false)
	case dns.TypeAAAA:
		resp.Answer = addressRecords(q.Name, e.ips, false, true)
	}
	return resp
}

// addressRecords returns the A records (when v4) and AAAA records (when v6)
// of name for ips.
func addressRecords(name string, ips []netip.Addr, v4, v6 bool) []dns.RR {
	var out []dns.RR
	for _, ip := range ips {
		switch {
		case ip.Is4() && v4:
			out = append(out, &dns.A{Hdr: header(name, dns.TypeA), A: ip.AsSlice()})
		case ip.Is6() && v6:
			out = append(out, &dns.AAAA{Hdr: header(name, dns.TypeAAAA), AAAA: ip.AsSlice()})
		}
	}
	return out
}

func header(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: TTL}
}
