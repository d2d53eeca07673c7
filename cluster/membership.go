package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
	"github.com/foundation-go/foundation/provider"
)

// MembershipConfig configures a Membership. Required: Cluster, Self.Address
// and the three durations (Config's presets give them).
type MembershipConfig struct {
	// Cluster is the cluster name; packets of other clusters are rejected.
	Cluster string
	// Secret keys the HMAC every membership packet carries; a member with
	// another secret is never admitted. Empty means an empty key (development).
	Secret []byte
	// Self describes this member. ID is generated when empty; Address (the
	// remoting host:port) is required.
	Self Member
	// HeartbeatInterval is how often heartbeats go to every member.
	HeartbeatInterval time.Duration
	// SuspectAfter without a heartbeat marks a member unreachable.
	SuspectAfter time.Duration
	// RemoveAfter unreachable removes a member.
	RemoveAfter time.Duration
	// Expected makes Ready wait for this many members, self included. Zero:
	// Ready once every address the provider lists has joined.
	Expected int
	// Logger receives membership events and rejected join attempts. Nil: none.
	Logger *zap.Logger
	// Transport carries the datagrams. Nil: UDP on Self.Address.
	Transport Transport
	// Now is the membership clock. Nil: time.Now.
	Now func() time.Time
}

// Membership keeps this member's view of the cluster: it admits members that
// prove the cluster name and secret, detects failures with heartbeats, and
// publishes events. It is fed candidate addresses by a provider.Provider.
type Membership struct {
	cfg  MembershipConfig
	prov provider.Provider
	log  *zap.Logger
	tr   Transport
	now  func() time.Time

	mu         sync.Mutex
	st         *membershipState
	candidates []string // addresses the provider lists
	subs       map[int]chan MemberEvent
	nextSub    int
	seq        uint64
	rejected   map[string]time.Time // source -> last logged

	dropped atomic.Uint64
	ready   atomic.Bool
	stopped atomic.Bool // set before the leave: nothing but leaves goes out
	life    sync.Mutex  // serialises Start and Stop
	state   int
	quit    chan struct{}
	wg      sync.WaitGroup
}

const (
	lifeNew = iota
	lifeRunning
	lifeStopped
)

// Validate reports every problem of cfg, each wrapping ErrMembershipConfig
// and naming its field. NewMembership calls it.
func (cfg MembershipConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrMembershipConfig, field, fmt.Sprintf(format, args...)))
	}
	if cfg.Cluster == "" {
		bad("Cluster", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(cfg.Self.Address); err != nil {
		bad("Self.Address", "%q must be host:port", cfg.Self.Address)
	}
	if cfg.HeartbeatInterval < time.Millisecond {
		bad("HeartbeatInterval", "%v must be >= 1ms", cfg.HeartbeatInterval)
	}
	if cfg.SuspectAfter <= 0 || cfg.SuspectAfter < 2*cfg.HeartbeatInterval {
		bad("SuspectAfter", "%v must be > 0 and >= 2 x HeartbeatInterval (%v)", cfg.SuspectAfter, cfg.HeartbeatInterval)
	}
	if cfg.RemoveAfter <= 0 {
		bad("RemoveAfter", "%v must be > 0", cfg.RemoveAfter)
	}
	if cfg.Expected < 0 {
		bad("Expected", "%d must be >= 0", cfg.Expected)
	}
	return errors.Join(errs...)
}

// NewMembership checks cfg and builds a Membership; Start runs it.
func NewMembership(cfg MembershipConfig, p provider.Provider) (*Membership, error) {
	err := cfg.Validate()
	if p == nil {
		err = errors.Join(err, fmt.Errorf("%w: provider: must not be nil", ErrMembershipConfig))
	}
	if err != nil {
		return nil, err
	}
	if cfg.Self.ID == "" {
		cfg.Self.ID = NewMemberID()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Self.Started.IsZero() {
		cfg.Self.Started = cfg.Now()
	}
	cfg.Self = cfg.Self.clone()
	cfg.Self.Status = Up
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Membership{
		cfg:      cfg,
		prov:     p,
		log:      log.With(zap.String("member", cfg.Self.ID)),
		now:      cfg.Now,
		st:       newMembershipState(cfg.Self.ID, cfg.SuspectAfter, cfg.RemoveAfter),
		subs:     make(map[int]chan MemberEvent),
		rejected: make(map[string]time.Time),
		quit:     make(chan struct{}),
	}, nil
}

// NewMemberID returns a random member id.
func NewMemberID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Start opens the transport, starts heartbeating and starts the provider. It
// is idempotent; after Stop, or after a Start that failed, it returns
// ErrMembershipStopped.
func (m *Membership) Start(ctx context.Context) error {
	m.life.Lock()
	defer m.life.Unlock()
	switch m.state {
	case lifeRunning:
		return nil
	case lifeStopped:
		return ErrMembershipStopped
	}
	m.state = lifeStopped // unless everything below succeeds
	tr := m.cfg.Transport
	if tr == nil {
		var err error
		if tr, err = ListenUDP(m.cfg.Self.Address); err != nil {
			return err
		}
	}
	m.tr = tr
	m.wg.Add(2)
	go m.readLoop()
	go m.tickLoop()
	self := provider.Member{
		ID:      m.cfg.Self.ID,
		Address: m.cfg.Self.Address,
		Cluster: m.cfg.Cluster,
		Kinds:   slices.Clone(m.cfg.Self.Kinds),
		Version: m.cfg.Self.Version,
	}
	self.Auth = provider.Sign(m.cfg.Secret, self)
	if err := m.prov.Start(ctx, self, m.onProvider); err != nil {
		m.halt()
		return fmt.Errorf("cluster: provider: %w", err)
	}
	m.state = lifeRunning
	m.log.Info("membership started", zap.String("address", m.cfg.Self.Address), zap.String("cluster", m.cfg.Cluster))
	m.heartbeat() // announce at once rather than one interval later
	return nil
}

// Stop announces a graceful leave to every member, withdraws from the
// provider and stops. Peers see this member as Left. Idempotent; it returns
// within ctx.
func (m *Membership) Stop(ctx context.Context) error {
	return m.stop(ctx, true)
}

// Abort stops without announcing a leave, as a crash would: peers detect the
// member as unreachable and remove it. For tests and fatal errors.
func (m *Membership) Abort() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = m.stop(ctx, false)
}

func (m *Membership) stop(ctx context.Context, leave bool) error {
	m.life.Lock()
	defer m.life.Unlock()
	if m.state != lifeRunning {
		m.state = lifeStopped
		return nil
	}
	m.state = lifeStopped
	m.stopped.Store(true) // no more heartbeats: peers must not see us rejoin
	if leave {
		// Leave datagrams go out three times: loss on a real network should
		// not turn a graceful leave into an unreachable member.
		for i := 0; i < 3; i++ {
			m.send(protos.MembershipBody_KIND_LEAVE)
		}
	}
	err := m.prov.Stop(ctx)
	m.halt()
	m.log.Info("membership stopped", zap.Bool("left", leave))
	return err
}

func (m *Membership) halt() {
	m.stopped.Store(true)
	close(m.quit)
	_ = m.tr.Close()
	m.wg.Wait()
	m.mu.Lock()
	for id, ch := range m.subs {
		close(ch)
		delete(m.subs, id)
	}
	m.mu.Unlock()
}

// Self returns this member.
func (m *Membership) Self() Member { return m.cfg.Self.clone() }

// Members returns the current view, this member first, then by id.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Member{m.cfg.Self.clone()}, m.st.view()...)
}

// Ready reports whether the view has held the members this member expects:
// MembershipConfig.Expected of them, or every address the provider lists
// (with mDNS, whatever it has discovered so far: possibly none). It stays
// true once reached.
func (m *Membership) Ready() bool { return m.ready.Load() }

// Subscribe returns a channel of membership events and a cancel function.
// Events are never blocked on: when the channel's buffer is full an event is
// dropped and counted (Dropped). The channel closes on cancel or Stop.
func (m *Membership) Subscribe(buffer int) (<-chan MemberEvent, func()) {
	if buffer < 1 {
		buffer = 1
	}
	ch := make(chan MemberEvent, buffer)
	m.mu.Lock()
	id := m.nextSub
	m.nextSub++
	if m.stopped.Load() {
		close(ch)
	} else {
		m.subs[id] = ch
	}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		if c, ok := m.subs[id]; ok {
			close(c)
			delete(m.subs, id)
		}
		m.mu.Unlock()
	}
}

// Dropped is the number of events not delivered to a full subscriber.
func (m *Membership) Dropped() uint64 { return m.dropped.Load() }

func (m *Membership) onProvider(members []provider.Member) {
	self := canonicalAddress(m.cfg.Self.Address)
	addrs := make([]string, 0, len(members))
	for _, pm := range members {
		if pm.Address == "" || pm.ID == m.cfg.Self.ID {
			continue
		}
		if pm.Cluster != "" && pm.Cluster != m.cfg.Cluster {
			continue
		}
		a := canonicalAddress(pm.Address)
		if a == self {
			continue
		}
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	m.mu.Lock()
	changed := !slices.Equal(addrs, m.candidates)
	m.candidates = addrs
	m.updateReadyLocked()
	m.mu.Unlock()
	if changed {
		m.heartbeat()
	}
}

// detectorSteps is how many failure-detection checks run per heartbeat
// interval: detection lags a deadline by at most a quarter interval rather
// than a whole one.
const detectorSteps = 4

func (m *Membership) tickLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.HeartbeatInterval / detectorSteps)
	defer t.Stop()
	for step := 1; ; step++ {
		select {
		case <-m.quit:
			return
		case <-t.C:
			m.mu.Lock()
			evs := m.st.tick(m.now())
			m.publishLocked(evs)
			m.mu.Unlock()
			if step%detectorSteps == 0 {
				m.heartbeat()
			}
		}
	}
}

// heartbeat sends one heartbeat to every member and candidate address,
// unless the member is stopping.
func (m *Membership) heartbeat() {
	if m.stopped.Load() {
		return
	}
	m.send(protos.MembershipBody_KIND_HEARTBEAT)
}

func (m *Membership) send(kind protos.MembershipBody_Kind) {
	m.mu.Lock()
	m.seq++
	seq := m.seq
	targets := make(map[string]struct{}, len(m.st.byAddr)+len(m.candidates))
	for a := range m.st.byAddr {
		targets[a] = struct{}{}
	}
	for _, a := range m.candidates {
		targets[a] = struct{}{}
	}
	m.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	pkt, err := m.encode(kind, seq)
	if err != nil {
		m.log.Warn("membership: encoding a packet", zap.Error(err))
		return
	}
	for a := range targets {
		if err := m.tr.WriteTo(pkt, a); err != nil && !m.stopped.Load() {
			m.log.Debug("membership: send failed", zap.String("to", a), zap.Error(err))
		}
	}
}

func (m *Membership) encode(kind protos.MembershipBody_Kind, seq uint64) ([]byte, error) {
	self := m.cfg.Self
	body, err := proto.Marshal(&protos.MembershipBody{
		Kind: kind,
		From: &protos.MemberInfo{
			Id:              self.ID,
			Address:         self.Address,
			Cluster:         m.cfg.Cluster,
			Kinds:           self.Kinds,
			Version:         self.Version,
			Labels:          self.Labels,
			StartedUnixNano: self.Started.UnixNano(),
		},
		Seq:          seq,
		SentUnixNano: m.now().UnixNano(),
	})
	if err != nil {
		return nil, err
	}
	return proto.Marshal(&protos.MembershipPacket{Body: body, Mac: m.mac(body)})
}

func (m *Membership) mac(body []byte) []byte {
	h := hmac.New(sha256.New, m.cfg.Secret)
	h.Write([]byte(m.cfg.Cluster))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}

func (m *Membership) readLoop() {
	defer m.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, from, err := m.tr.ReadFrom(buf)
		if err != nil {
			select {
			case <-m.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		m.receive(buf[:n], from)
	}
}

// receive checks one datagram and applies it.
func (m *Membership) receive(b []byte, from string) {
	var pkt protos.MembershipPacket
	if err := proto.Unmarshal(b, &pkt); err != nil {
		m.reject(from, "malformed packet")
		return
	}
	if !hmac.Equal(pkt.Mac, m.mac(pkt.Body)) {
		m.reject(from, "authentication failed: wrong cluster secret or another cluster")
		return
	}
	var body protos.MembershipBody
	if err := proto.Unmarshal(pkt.Body, &body); err != nil || body.From == nil {
		m.reject(from, "malformed body")
		return
	}
	info := body.From
	if info.Cluster != m.cfg.Cluster {
		m.reject(from, "member of cluster "+strconv.Quote(info.Cluster))
		return
	}
	if info.Id == "" || info.Id == m.cfg.Self.ID {
		return
	}
	if _, _, err := net.SplitHostPort(info.Address); err != nil {
		m.reject(from, "bad member address "+strconv.Quote(info.Address))
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped.Load() {
		return
	}
	switch body.Kind {
	case protos.MembershipBody_KIND_HEARTBEAT:
		mem := Member{
			ID:      info.Id,
			Address: info.Address,
			Kinds:   slices.Clone(info.Kinds),
			Labels:  maps.Clone(info.Labels),
			Version: info.Version,
			Started: time.Unix(0, info.StartedUnixNano),
		}
		m.publishLocked(m.st.heard(mem, body.Seq, now))
	case protos.MembershipBody_KIND_LEAVE:
		m.publishLocked(m.st.left(info.Id, body.Seq, now))
	}
}

// reject logs a refused packet, at most once a minute per source.
func (m *Membership) reject(from, why string) {
	now := m.now()
	m.mu.Lock()
	last, seen := m.rejected[from]
	if !seen || now.Sub(last) > time.Minute {
		if len(m.rejected) > 1024 {
			clear(m.rejected)
		}
		m.rejected[from] = now
		m.mu.Unlock()
		m.log.Warn("membership: rejected a join attempt", zap.String("from", from), zap.String("reason", why))
		return
	}
	m.mu.Unlock()
}

func (m *Membership) publishLocked(evs []MemberEvent) {
	for _, ev := range evs {
		switch ev.Kind {
		case MemberUnreachable, Removed:
			m.log.Warn("member "+ev.Kind.String(), zap.String("id", ev.Member.ID), zap.String("address", ev.Member.Address), zap.String("reason", ev.Reason))
		default:
			m.log.Info("member "+ev.Kind.String(), zap.String("id", ev.Member.ID), zap.String("address", ev.Member.Address))
		}
		for _, ch := range m.subs {
			select {
			case ch <- ev:
			default:
				m.dropped.Add(1)
			}
		}
	}
	if len(evs) > 0 {
		m.updateReadyLocked()
	}
}

// canonicalAddress resolves a host name in a host:port (a seed such as
// localhost:7350 or a DNS name) to an IP address, so that candidates compare
// with the addresses members advertise. It waits at most a second for DNS
// and keeps the address as given when it cannot resolve it.
func canonicalAddress(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || net.ParseIP(host) != nil {
		return addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return addr
	}
	ip := ips[0].IP
	for _, c := range ips {
		if c.IP.To4() != nil { // prefer IPv4, as members advertise
			ip = c.IP
			break
		}
	}
	return net.JoinHostPort(ip.String(), port)
}

// updateReadyLocked latches readiness: once the member has seen the members
// it expects it stays ready (a later crash of a seed does not make the
// survivors unready).
func (m *Membership) updateReadyLocked() {
	if m.ready.Load() {
		return
	}
	if m.cfg.Expected > 0 {
		up := 1
		for _, r := range m.st.members {
			if r.m.Status == Up {
				up++
			}
		}
		m.ready.Store(up >= m.cfg.Expected)
		return
	}
	for _, a := range m.candidates {
		if !m.st.has(a) {
			m.ready.Store(false)
			return
		}
	}
	m.ready.Store(true)
}
