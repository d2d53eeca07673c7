package mdns

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
	"golang.org/x/net/ipv4"

	"github.com/foundation-go/foundation/provider"
)

// Errors returned by this package besides the provider package's
// ErrInvalidConfig, ErrUnavailable and ErrStopped. Compare them with
// errors.Is.
var (
	// ErrStarted: Start on a Provider that was already started.
	ErrStarted = errors.New("mdns: already started")
)

// maxLogged bounds the members a Provider remembers having logged about, so
// that a flood of made-up ids cannot grow memory.
const maxLogged = 1024

// Provider announces this member by multicast DNS and reports the members
// of its cluster it hears. It implements provider.Provider; build one with
// New. Start and Stop are safe for concurrent use.
type Provider struct {
	cfg        Config // defaults applied, slices copied
	log        *zap.Logger
	maxMembers int

	mu    sync.Mutex // guards state; Start sets the fields below under it
	state state

	conn     *ipv4.PacketConn
	ifaces   []net.Interface // joined; sends go out on each
	joined   map[int]bool    // interface indexes of ifaces
	events   chan event      // recv -> loop
	quit     chan struct{}   // closed by Stop
	loopDone chan struct{}   // closed when loop has sent the goodbye and closed conn
	recvDone chan struct{}   // closed when recv has returned

	// counters of received announcements, for tests and diagnostics
	heard   atomic.Int64 // admitted (announcements and goodbyes)
	ignored atomic.Int64 // from another cluster
	dropped atomic.Int64 // failing verification under Secret
}

type state int

const (
	idle state = iota
	running
	stopped
)

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider for cfg, which it copies. A cfg that fails
// Validate, or a bad option, is an error wrapping provider.ErrInvalidConfig.
// New opens no socket; Start does.
func New(cfg Config, opts ...Option) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{maxMembers: DefaultMaxMembers}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return nil, err
		}
	}
	cfg = cfg.withDefaults()
	return &Provider{cfg: cfg, log: cfg.Logger, maxMembers: o.maxMembers}, nil
}

// event is what recv passes to loop from one received message.
type event struct {
	queried bool
	seen    []sighting
}

// announced is what this member multicasts, prepared once by Start.
type announced struct {
	self     provider.Member // as announced: Auth set when Config.Secret is
	names    names
	announce []byte
	goodbye  []byte
	query    []byte
}

// Start announces self on the configured interfaces and starts watching.
//
// self.ID names the DNS-SD instance and must be 1..63 bytes; self.Address
// is "host:port" where host is an IP address other than the unspecified one,
// or a name that resolves (within ctx) to the addresses announced in A and
// AAAA records; kinds must be non-empty, without commas, at most 200 bytes.
// Those are errors wrapping provider.ErrInvalidConfig, as is a configured
// interface that is missing, down or without multicast. When no interface
// can be joined or the first announcement cannot be sent, the error wraps
// provider.ErrUnavailable.
//
// Start returns after it has multicast the first announcement and a query
// that makes running peers answer at once. update then receives, on a
// goroutine the Provider owns and never concurrently, the full member set —
// self (as announced) and every peer of self.Cluster heard within
// ExpireAfter, ordered by id — first at once, then whenever the set or a
// member's fields change. update must not block for long and must not call
// Stop. Start after Stop returns provider.ErrStopped; a second Start returns
// ErrStarted.
func (p *Provider) Start(ctx context.Context, self provider.Member, update func([]provider.Member)) error {
	if update == nil {
		return fmt.Errorf("%w: mdns: Start: update must not be nil", provider.ErrInvalidConfig)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a, err := p.prepare(ctx, self)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case stopped:
		return provider.ErrStopped
	case running:
		return ErrStarted
	}
	ifaces, err := findInterfaces(p.cfg.Interfaces)
	if err != nil {
		return err
	}
	if err := p.listen(ifaces); err != nil {
		return err
	}
	if err := p.multicast(a.announce); err != nil {
		_ = p.conn.Close()
		return fmt.Errorf("%w: mdns: sending the first announcement to %v:%d: %v", provider.ErrUnavailable, mdnsGroup, mdnsPort, err)
	}
	_ = p.multicast(a.query)
	p.log.Info("mdns: announced",
		zap.String("id", a.self.ID), zap.String("address", a.self.Address), zap.String("cluster", a.self.Cluster),
		zap.String("instance", a.names.instance), zap.Strings("interfaces", ifaceNames(p.ifaces)))

	p.state = running
	p.events = make(chan event, 64)
	p.quit = make(chan struct{})
	p.loopDone = make(chan struct{})
	p.recvDone = make(chan struct{})
	go p.loop(a, update)
	go p.recv(a.names)
	return nil
}

// Stop multicasts a goodbye (the announcement with TTL 0), so that peers
// drop this member at once, stops watching, and waits for the Provider's
// goroutines, or until ctx is done. No update call starts after Stop
// returns nil. Stop is idempotent; stopping a Provider that was never
// started is allowed.
func (p *Provider) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.state == running {
		close(p.quit)
	}
	p.state = stopped
	loopDone, recvDone := p.loopDone, p.recvDone
	p.mu.Unlock()
	if loopDone == nil {
		return nil
	}
	for _, done := range []chan struct{}{loopDone, recvDone} {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// prepare validates self and builds the packets Start and loop send.
func (p *Provider) prepare(ctx context.Context, self provider.Member) (*announced, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: mdns: "+format, append([]any{provider.ErrInvalidConfig}, args...)...)
	}
	self.Kinds = append([]string(nil), self.Kinds...)
	if len(self.ID) == 0 || len(self.ID) > 63 {
		return nil, bad("self.ID %q: want 1..63 bytes (it is a DNS label)", self.ID)
	}
	for _, f := range []struct{ name, v string }{{"ID", self.ID}, {"Address", self.Address}, {"Cluster", self.Cluster}, {"Version", self.Version}} {
		if strings.IndexByte(f.v, 0) >= 0 {
			return nil, bad("self.%s %q: NUL bytes are not allowed", f.name, f.v)
		}
	}
	for i, k := range self.Kinds {
		if k == "" || len(k) > maxKind || strings.ContainsAny(k, ",\x00") {
			return nil, bad("self.Kinds[%d] %q: want 1..%d bytes without commas", i, k, maxKind)
		}
	}
	host, portStr, err := net.SplitHostPort(self.Address)
	if err != nil || host == "" {
		return nil, bad("self.Address %q: want host:port with port 1..65535", self.Address)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, bad("self.Address %q: port %q: want 1..65535", self.Address, portStr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() {
			return nil, bad("self.Address %q: the unspecified address cannot be dialled; announce a concrete IP address", self.Address)
		}
		ips = []netip.Addr{ip.Unmap().WithZone("")}
	} else {
		found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil || len(found) == 0 {
			return nil, bad("self.Address %q: host %q does not resolve: %v", self.Address, host, err)
		}
		for _, ip := range found {
			ips = append(ips, ip.Unmap().WithZone(""))
		}
	}
	if len(p.cfg.Secret) > 0 {
		self.Auth = provider.Sign(p.cfg.Secret, self)
	}
	txt, err := encodeTXT(self)
	if err != nil {
		return nil, bad("%v", err)
	}
	n := newNames(p.cfg.Service, p.cfg.Domain, self.ID)
	if _, ok := dns.IsDomainName(n.instance); !ok {
		return nil, bad("self.ID %q: the instance name %q is longer than DNS allows", self.ID, n.instance)
	}
	a := &announced{self: self, names: n}
	if a.announce, err = announcement(n, uint16(port), txt, ips, p.ttl()).Pack(); err != nil {
		return nil, bad("self: packing the announcement: %v", err)
	}
	if len(a.announce) > maxPacket {
		return nil, bad("self: the announcement is %d bytes, more than the %d mDNS allows (too many kinds?)", len(a.announce), maxPacket)
	}
	if a.goodbye, err = announcement(n, uint16(port), txt, ips, 0).Pack(); err != nil {
		return nil, bad("self: packing the goodbye: %v", err)
	}
	if a.query, err = query(n.service).Pack(); err != nil {
		return nil, bad("Config.Service: packing the query: %v", err)
	}
	return a, nil
}

// ttl is the TTL of announced records: ExpireAfter in whole seconds,
// rounded up.
func (p *Provider) ttl() uint32 {
	return uint32(math.Ceil(p.cfg.ExpireAfter.Seconds()))
}

// findInterfaces returns the named interfaces, or every up and
// multicast-capable one when names is empty.
func findInterfaces(names []string) ([]net.Interface, error) {
	if len(names) == 0 {
		all, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("%w: mdns: listing interfaces: %v", provider.ErrUnavailable, err)
		}
		var out []net.Interface
		for _, ifi := range all {
			if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
				out = append(out, ifi)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: mdns: no interface is up and supports multicast; name one in Config.Interfaces", provider.ErrUnavailable)
		}
		return out, nil
	}
	out := make([]net.Interface, 0, len(names))
	for _, name := range names {
		ifi, err := net.InterfaceByName(name)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w: mdns: Config.Interfaces: %q: no such interface", provider.ErrInvalidConfig, name)
		case ifi.Flags&net.FlagUp == 0:
			return nil, fmt.Errorf("%w: mdns: Config.Interfaces: %q is down", provider.ErrInvalidConfig, name)
		case ifi.Flags&net.FlagMulticast == 0:
			return nil, fmt.Errorf("%w: mdns: Config.Interfaces: %q does not support multicast (for a loopback interface: ip link set %s multicast on)", provider.ErrInvalidConfig, name, name)
		}
		out = append(out, *ifi)
	}
	return out, nil
}

// listen opens the mDNS socket (224.0.0.251:5353, shared with other mDNS
// sockets of the host) and joins the group on ifaces.
func (p *Provider) listen(ifaces []net.Interface) error {
	group := &net.UDPAddr{IP: mdnsGroup, Port: mdnsPort}
	c, err := net.ListenUDP("udp4", group)
	if err != nil {
		return fmt.Errorf("%w: mdns: listening on %v: %v", provider.ErrUnavailable, group, err)
	}
	conn := ipv4.NewPacketConn(c)
	fail := func(what string, err error) error {
		_ = conn.Close()
		return fmt.Errorf("%w: mdns: %s: %v", provider.ErrUnavailable, what, err)
	}
	if err := conn.SetControlMessage(ipv4.FlagInterface, true); err != nil {
		return fail("asking for the receiving interface", err)
	}
	if err := conn.SetMulticastTTL(255); err != nil {
		return fail("setting the multicast TTL", err)
	}
	if err := conn.SetMulticastLoopback(true); err != nil {
		return fail("enabling multicast loopback", err)
	}
	var joined []net.Interface
	var joinErr error
	for _, ifi := range ifaces {
		if err := conn.JoinGroup(&ifi, &net.UDPAddr{IP: mdnsGroup}); err != nil {
			joinErr = err
			p.log.Warn("mdns: cannot join the multicast group", zap.String("interface", ifi.Name), zap.Error(err))
			continue
		}
		joined = append(joined, ifi)
	}
	if len(joined) == 0 {
		return fail(fmt.Sprintf("joining %v on %v", mdnsGroup, ifaceNames(ifaces)), joinErr)
	}
	p.conn, p.ifaces = conn, joined
	p.joined = make(map[int]bool, len(joined))
	for _, ifi := range joined {
		p.joined[ifi.Index] = true
	}
	return nil
}

// multicast sends b to the mDNS group on every joined interface; it fails
// only when no interface took it.
func (p *Provider) multicast(b []byte) error {
	dst := &net.UDPAddr{IP: mdnsGroup, Port: mdnsPort}
	var firstErr error
	sent := 0
	for _, ifi := range p.ifaces {
		if _, err := p.conn.WriteTo(b, &ipv4.ControlMessage{IfIndex: ifi.Index}, dst); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("on %s: %w", ifi.Name, err)
			}
			continue
		}
		sent++
	}
	if sent == 0 {
		return firstErr
	}
	return nil
}

// loop owns the view: it applies what recv hears, re-announces and expires
// peers on the ticker, calls update, and on Stop sends the goodbye and
// closes the socket (which ends recv).
func (p *Provider) loop(a *announced, update func([]provider.Member)) {
	defer close(p.loopDone)
	defer func() {
		if err := p.multicast(a.goodbye); err != nil {
			p.log.Warn("mdns: sending the goodbye", zap.Error(err))
		}
		_ = p.conn.Close()
	}()

	v := newView(a.self, p.maxMembers)
	update(v.members())
	tick := time.NewTicker(p.cfg.AnnounceInterval)
	defer tick.Stop()
	last := time.Now()
	failing := false
	announce := func(now time.Time) {
		last = now
		err := p.multicast(a.announce)
		switch {
		case err != nil && !failing:
			p.log.Warn("mdns: announcing (logged once until it works again)", zap.Error(err))
		case err == nil && failing:
			p.log.Info("mdns: announcing again")
		}
		failing = err != nil
	}
	var logged map[string]bool // "<kind>/<id>" already logged
	first := func(kind, id string) bool {
		if logged == nil {
			logged = make(map[string]bool)
		}
		key := kind + "/" + id
		if logged[key] || len(logged) >= maxLogged {
			return false
		}
		logged[key] = true
		return true
	}

	for {
		select {
		case <-p.quit:
			return
		case now := <-tick.C:
			announce(now)
			if v.expire(now, p.cfg.ExpireAfter) {
				update(v.members())
			}
		case ev := <-p.events:
			now := time.Now()
			if ev.queried && now.Sub(last) >= p.cfg.AnnounceInterval/4 {
				announce(now)
			}
			changed := false
			for _, s := range ev.seen {
				m := s.member
				switch judge(a.self, p.cfg.Secret, m) {
				case fromSelf:
					continue
				case otherCluster:
					p.ignored.Add(1)
					if first("cluster", m.ID) {
						p.log.Debug("mdns: ignoring a member of another cluster", zap.String("id", m.ID), zap.String("cluster", m.Cluster), zap.String("address", m.Address))
					}
					continue
				case badAuth:
					p.dropped.Add(1)
					if first("auth", m.ID) {
						p.log.Warn("mdns: dropping an announcement that does not verify under Config.Secret (logged once per member)",
							zap.String("id", m.ID), zap.String("address", m.Address), zap.Bool("goodbye", s.goodbye))
					}
					continue
				}
				p.heard.Add(1)
				if s.goodbye {
					if v.remove(m.ID) {
						changed = true
						p.log.Debug("mdns: member said goodbye", zap.String("id", m.ID))
					}
					continue
				}
				c, full := v.observe(m, now)
				changed = changed || c
				if full && first("full", m.ID) {
					p.log.Warn("mdns: member limit reached; ignoring a new member (see WithMaxMembers)", zap.Int("limit", p.maxMembers), zap.String("id", m.ID))
				}
			}
			if changed {
				update(v.members())
			}
		}
	}
}

// recv reads the socket until loop closes it, passing what concerns this
// provider to loop.
func (p *Provider) recv(n names) {
	defer close(p.recvDone)
	buf := make([]byte, 65536)
	for {
		size, cm, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.log.Debug("mdns: reading", zap.Error(err))
			select { // do not spin on a persistent error
			case <-p.quit:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if cm != nil && !p.joined[cm.IfIndex] {
			continue
		}
		var msg dns.Msg
		if msg.Unpack(buf[:size]) != nil {
			continue
		}
		queried, seen := parse(&msg, n)
		if !queried && len(seen) == 0 {
			continue
		}
		select {
		case p.events <- event{queried: queried, seen: seen}:
		case <-p.quit:
			return
		}
	}
}

func ifaceNames(ifaces []net.Interface) []string {
	out := make([]string, len(ifaces))
	for i, ifi := range ifaces {
		out[i] = ifi.Name
	}
	return out
}
