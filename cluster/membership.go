package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
	"github.com/foundation-go/foundation/provider"
)

// MembershipConfig configures a Membership. Required: Cluster, Bind (unless
// Listener and Transport are both given), the SWIM timings and
// SplitBrain.StableAfter (Config's presets give them all).
type MembershipConfig struct {
	// Cluster is the cluster name; members of other clusters are rejected.
	Cluster string
	// Secret authenticates every member: it keys the encryption of SWIM's
	// packets and the handshake of every stream. Empty means a key derived
	// from the cluster name alone (development).
	Secret []byte
	// Self describes this member. ID is generated when empty; Address is
	// its actor remoting address, announced to the others. ClusterAddress
	// is set by Start.
	Self Member
	// Bind is the host:port of the cluster port, TCP and UDP; port 0 picks
	// a port free for both.
	Bind string
	// Advertise is the host:port the others dial for the cluster port; port
	// 0 means the bound port. Default: the bound address (Bind's host must
	// then be a specific IP).
	Advertise string
	// ProbeInterval is SWIM's probe interval: each member probes one other
	// member per interval.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a direct probe waits for its ack before
	// asking other members to probe indirectly. Below ProbeInterval.
	ProbeTimeout time.Duration
	// GossipInterval is how often SWIM gossips queued updates.
	GossipInterval time.Duration
	// SuspicionMultiplier scales SWIM's suspicion timeout: a suspected
	// member that does not refute within SuspicionMultiplier ×
	// max(1, log10(N)) × ProbeInterval is declared failed (Unreachable).
	SuspicionMultiplier int
	// SplitBrain configures the split-brain resolver.
	SplitBrain ResolverConfig
	// JoinTimeout: a member whose join candidates do not answer forms a
	// cluster of its own after this long (at once when it has the lowest
	// address among them, or has no candidates). Default 2s.
	JoinTimeout time.Duration
	// Expected makes Ready also wait until this many members, self
	// included, were Up at once. Zero: no such condition.
	Expected int
	// TLS, when set, runs every stream of the cluster port over mutual TLS
	// (the listener presents TLS.Certificates and verifies clients against
	// TLS.ClientCAs; dials verify the server against TLS.RootCAs and the
	// host of its address unless ServerName is set). SWIM's packets stay
	// encrypted by the secret.
	TLS *tls.Config
	// Logger receives membership events and rejected join attempts. Nil:
	// none.
	Logger *zap.Logger
	// Transport carries SWIM's packets. Nil: UDP on Bind's port.
	Transport Transport
	// Listener accepts the streams of the cluster port. Nil: TCP on Bind.
	Listener net.Listener
	// Dial opens a TCP connection to a cluster address. Nil: net.Dialer.
	Dial func(ctx context.Context, address string) (net.Conn, error)
	// Now is the membership clock. Nil: time.Now.
	Now func() time.Time
}

// maxMeta is SWIM's limit on a member's metadata (memberlist.MetaMaxSize).
const maxMeta = memberlist.MetaMaxSize

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
	if cfg.Listener == nil || cfg.Transport == nil {
		if _, _, err := net.SplitHostPort(cfg.Bind); err != nil {
			bad("Bind", "%q must be host:port", cfg.Bind)
		}
	}
	if cfg.Advertise != "" {
		if _, _, err := net.SplitHostPort(cfg.Advertise); err != nil {
			bad("Advertise", "%q must be host:port", cfg.Advertise)
		}
	}
	if cfg.ProbeInterval < time.Millisecond {
		bad("ProbeInterval", "%v must be >= 1ms", cfg.ProbeInterval)
	}
	if cfg.Self.Protocol < 0 || cfg.Self.Protocol > math.MaxInt32 {
		bad("Self.Protocol", "%d must be 0 (ProtocolVersion) .. %d", cfg.Self.Protocol, math.MaxInt32)
	}
	if cfg.ProbeTimeout <= 0 || cfg.ProbeTimeout >= cfg.ProbeInterval {
		bad("ProbeTimeout", "%v must be > 0 and below ProbeInterval (%v)", cfg.ProbeTimeout, cfg.ProbeInterval)
	}
	if cfg.GossipInterval <= 0 {
		bad("GossipInterval", "%v must be > 0", cfg.GossipInterval)
	}
	if cfg.SuspicionMultiplier < 1 || cfg.SuspicionMultiplier > 20 {
		bad("SuspicionMultiplier", "%d must be in 1..20", cfg.SuspicionMultiplier)
	}
	if cfg.JoinTimeout < 0 {
		bad("JoinTimeout", "%v must be >= 0", cfg.JoinTimeout)
	}
	if cfg.Expected < 0 {
		bad("Expected", "%d must be >= 0", cfg.Expected)
	}
	cfg.SplitBrain.validate(&errs)
	if b, err := encodeMeta(cfg.Cluster, cfg.Self, false); err == nil && len(b) > maxMeta {
		bad("Self", "its address, kinds, labels and version encode to %d bytes; at most %d fit in SWIM's node metadata (use fewer or shorter kinds and labels)", len(b), maxMeta)
	}
	return errors.Join(errs...)
}

// Membership keeps this member's view of the cluster. Membership is SWIM
// gossip (hashicorp/memberlist: probes with indirect checks, Lifeguard
// suspicion and refutation, member-list gossip), so one reachable member
// is enough to join and every member learns of every other; a provider
// only feeds candidate addresses to join. On top of SWIM it keeps the view
// Foundation's layers place grains by, with a split-brain resolver that
// downs the losing side of a partition, and carries the authenticated
// member-to-member streams of those layers on the same cluster port.
type Membership struct {
	cfg  MembershipConfig
	prov provider.Provider
	log  *zap.Logger
	now  func() time.Time

	ml   *memberlist.Memberlist
	link *link
	tr   *mlTransport
	meta atomic.Pointer[[]byte]
	self Member

	mu         sync.Mutex
	vs         *viewState
	refused    map[string]time.Time // nodes of another protocol version: last logged
	candidates []string             // provider addresses, as given
	resolved   []string             // candidates resolved, without self
	leaving    map[string]bool      // peers that announced a graceful leave
	targets    map[string]*joinTarget
	verifying  map[string]bool
	subs       map[int]chan MemberEvent
	nextSub    int
	changed    chan struct{} // closed and replaced on every view change
	expectedOK bool
	sweeping   bool
	lastSweep  time.Time
	leasing    string // fence key of a lease attempt in flight
	formed     bool   // a join round ran
	heard      bool   // the provider delivered a member list
	closing    bool   // halt began: no new goroutines
	started    time.Time

	dropped atomic.Uint64
	life    sync.Mutex // serialises Start and Stop
	state   int
	quit    chan struct{}
	kick    chan struct{}
	wg      sync.WaitGroup
}

// joinTarget is an address this member tries to join.
type joinTarget struct {
	next     time.Time
	backoff  time.Duration
	inflight bool
	until    time.Time // zero: while it is a candidate or a suspect's address
}

const (
	lifeNew = iota
	lifeRunning
	lifeStopped
)

// rejoinWindow is how long this member keeps trying to join the address of
// a member it removed (a healed partition re-forms the cluster).
const rejoinWindow = 10 * time.Minute

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
	if cfg.JoinTimeout == 0 {
		cfg.JoinTimeout = 2 * time.Second
	}
	if cfg.Self.Started.IsZero() {
		cfg.Self.Started = cfg.Now()
	}
	if cfg.Self.Protocol == 0 {
		cfg.Self.Protocol = ProtocolVersion
	}
	if cfg.SplitBrain.Strategy == "" {
		cfg.SplitBrain.Strategy = KeepMajority
	}
	cfg.Self = cfg.Self.clone()
	cfg.Self.Status = Up
	lg := cfg.Logger
	if lg == nil {
		lg = zap.NewNop()
	}
	m := &Membership{
		cfg: cfg, prov: p, now: cfg.Now, self: cfg.Self,
		log:       lg.With(zap.String("member", cfg.Self.ID)),
		leaving:   make(map[string]bool),
		targets:   make(map[string]*joinTarget),
		verifying: make(map[string]bool),
		refused:   make(map[string]time.Time),
		subs:      make(map[int]chan MemberEvent),
		changed:   make(chan struct{}),
		quit:      make(chan struct{}),
		kick:      make(chan struct{}, 1),
	}
	m.vs = newViewState(m.self, cfg.SplitBrain, cfg.Now())
	return m, nil
}

// goLocked runs f on a goroutine the membership waits for at stop, unless
// it is stopping. m.mu must be held.
func (m *Membership) goLocked(f func()) bool {
	if m.closing {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
	return true
}

// NewMemberID returns a random member id.
func NewMemberID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Start opens the cluster port, starts SWIM and the provider, and starts
// joining the candidates the provider lists. It does not wait for the
// cluster: see Ready and Await. ctx bounds Start itself (the provider's
// start), not the membership's life. It is idempotent; after Stop, or
// after a Start that failed, it returns ErrMembershipStopped.
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
	ln, tr, err := m.listen()
	if err != nil {
		return err
	}
	adv := m.cfg.Advertise
	if adv == "" {
		adv = ln.Addr().String()
	} else if h, p, err := net.SplitHostPort(adv); err == nil && p == "0" {
		_, bound, _ := net.SplitHostPort(ln.Addr().String())
		adv = net.JoinHostPort(h, bound)
	}
	ap, err := resolveAdvertise(ctx, adv)
	if err != nil {
		_ = ln.Close()
		_ = tr.Close()
		return err
	}
	m.self.ClusterAddress = ap.String()
	m.mu.Lock()
	m.vs.self = m.self
	m.started = m.now()
	m.mu.Unlock()
	if err := m.setMeta(false); err != nil {
		_ = ln.Close()
		_ = tr.Close()
		return err
	}
	dial := m.cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }
	}
	m.link = newLink(m.cfg.Cluster, m.self.ID, m.cfg.Secret, m.cfg.TLS, ln, dial, m.log, m.now)
	m.link.refused = m.onRefused
	m.tr = newMLTransport(m.link, tr, ap)
	m.link.start()
	m.ml, err = memberlist.Create(m.swimConfig())
	if err != nil {
		_ = m.tr.Shutdown()
		m.link.close()
		return fmt.Errorf("cluster: starting SWIM: %w", err)
	}
	self := provider.Member{
		ID:      m.self.ID,
		Address: m.self.ClusterAddress,
		Cluster: m.cfg.Cluster,
		Kinds:   slices.Clone(m.self.Kinds),
		Version: m.self.Version,
	}
	self.Auth = provider.Sign(m.cfg.Secret, self)
	m.mu.Lock()
	m.goLocked(m.tickLoop)
	m.mu.Unlock()
	if err := m.prov.Start(ctx, self, m.onProvider); err != nil {
		_ = m.halt(false, ctx)
		return fmt.Errorf("cluster: provider: %w", err)
	}
	m.mu.Lock()
	m.goLocked(m.joinLoop)
	m.mu.Unlock()
	m.state = lifeRunning
	m.log.Info("membership started", zap.String("address", m.self.Address),
		zap.String("cluster_address", m.self.ClusterAddress), zap.String("cluster", m.cfg.Cluster))
	return nil
}

// listen opens the cluster port: a TCP listener and a UDP socket on the
// same port number.
func (m *Membership) listen() (net.Listener, Transport, error) {
	ln, tr := m.cfg.Listener, m.cfg.Transport
	if ln != nil && tr != nil {
		return ln, tr, nil
	}
	host, port, _ := net.SplitHostPort(m.cfg.Bind)
	for attempt := 0; ; attempt++ {
		l := ln
		var err error
		if l == nil {
			if l, err = net.Listen("tcp", m.cfg.Bind); err != nil {
				return nil, nil, fmt.Errorf("cluster: cluster port: listening on tcp %s: %w", m.cfg.Bind, err)
			}
		}
		if tr != nil {
			return l, tr, nil
		}
		_, p, _ := net.SplitHostPort(l.Addr().String())
		t, err := ListenUDP(net.JoinHostPort(host, p))
		if err == nil {
			return l, t, nil
		}
		if ln == nil {
			_ = l.Close()
		}
		if port != "0" || attempt >= 20 {
			return nil, nil, err
		}
		// The free TCP port is taken over UDP: try another.
	}
}

func (m *Membership) swimConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.Name = m.self.ID
	c.Transport = m.tr
	c.Label = m.cfg.Cluster
	c.SecretKey = deriveKey("foundation-swim-v1", m.cfg.Cluster, m.cfg.Secret)
	c.ProbeInterval = m.cfg.ProbeInterval
	c.ProbeTimeout = m.cfg.ProbeTimeout
	c.GossipInterval = m.cfg.GossipInterval
	c.SuspicionMult = m.cfg.SuspicionMultiplier
	// The suspicion timeout starts at twice its minimum while independent
	// confirmations are expected (large clusters), not six times.
	c.SuspicionMaxTimeoutMult = 2
	c.IndirectChecks = 3
	c.RetransmitMult = 4
	c.GossipNodes = 3
	// Full state syncs with one random member: gossip carries every
	// change, and these repair what a lost or crowded-out packet missed
	// (many members joining at once queue more news than gossip packets
	// carry). memberlist stretches the interval above 32 members.
	c.PushPullInterval = 10 * m.cfg.ProbeInterval
	c.GossipToTheDeadTime = 30 * m.cfg.ProbeInterval
	c.TCPTimeout = max(10*m.cfg.ProbeInterval, time.Second)
	c.AwarenessMaxMultiplier = 4
	c.EnableCompression = false
	c.DeadNodeReclaimTime = 0
	c.Logger = log.New(&mlLog{log: m.log, now: m.now}, "", 0)
	d := &swimDelegate{m}
	c.Delegate, c.Events, c.Alive, c.Conflict = d, d, d, d
	return c
}

// Stop leaves the cluster gracefully: peers see this member as Left. It
// waits at most until ctx ends (a second when ctx has no deadline) for the
// leave to be gossiped, then stops. Idempotent.
func (m *Membership) Stop(ctx context.Context) error {
	return m.stop(ctx, true)
}

// Abort stops without leaving, as a crash would: peers find the member
// gone (its port refuses connections) and remove it. For tests and fatal
// errors.
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
	err := m.halt(leave, ctx)
	m.log.Info("membership stopped", zap.Bool("left", leave))
	return err
}

func (m *Membership) halt(leave bool, ctx context.Context) error {
	var err error
	if leave {
		// The leave gets at most half of what ctx allows (a second without
		// a deadline): the provider's withdrawal needs the rest.
		budget := time.Second
		if dl, ok := ctx.Deadline(); ok {
			budget = time.Until(dl)
		}
		budget /= 2
		start := time.Now()
		m.link.leaving.Store(true)
		// Peers learn of the leave three ways, the first to arrive wins: a
		// notice sent to each (best effort), the "leaving" flag in this
		// member's metadata (gossiped), and SWIM's leave itself.
		// Addresses from this member's own view: memberlist's Members()
		// hands out nodes it keeps writing to.
		notice, _ := proto.Marshal(&protos.LeaveNotice{Id: m.self.ID})
		m.mu.Lock()
		var to []memberlist.Address
		for _, p := range m.vs.peers {
			to = append(to, memberlist.Address{Addr: p.m.ClusterAddress, Name: p.m.ID})
		}
		m.mu.Unlock()
		for _, a := range to {
			_ = m.ml.SendToAddress(a, notice)
		}
		if merr := m.setMeta(true); merr == nil {
			_ = m.ml.UpdateNode(min(budget/4, 3*m.cfg.GossipInterval))
		}
		if lerr := m.ml.Leave(max(budget-time.Since(start), time.Millisecond)); lerr != nil {
			m.log.Debug("membership: leave not confirmed", zap.Error(lerr))
		}
	}
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	_ = m.ml.Shutdown()
	m.link.close()
	if perr := m.prov.Stop(ctx); perr != nil {
		err = perr
	}
	close(m.quit)
	m.wg.Wait()
	// memberlist's Shutdown does not wait for a probe in flight: its
	// goroutine waits for the probe's ack timer, which fires a probe
	// interval after the ping was sent, whatever happens to the transport.
	// Nothing signals its end, so wait out that bound (the last send, plus
	// the interval; within ctx): Stop returns with no goroutine of the
	// membership's left running.
	if d := time.Until(m.tr.probeDone(m.cfg.ProbeInterval)); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	m.mu.Lock()
	m.publishLocked(m.vs.stop(m.now()))
	for id, ch := range m.subs {
		close(ch)
		delete(m.subs, id)
	}
	m.mu.Unlock()
	return err
}

// Self returns this member (its ClusterAddress once started).
func (m *Membership) Self() Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self.clone()
}

// Members returns the current view, this member first, then by id.
func (m *Membership) Members() []Member {
	return m.View().Members
}

// View returns the current view with its epoch and this member's status.
func (m *Membership) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vs.view()
}

// Status is this member's own status.
func (m *Membership) Status() SelfStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vs.status
}

// Ready reports whether this member is Serving: it joined (or formed) a
// cluster, its side would survive a split, and — when Expected is set —
// the view has held that many members at once.
func (m *Membership) Ready() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vs.status == Serving && (m.cfg.Expected == 0 || m.expectedOK)
}

// Await waits until cond holds for the view (checked now and after every
// change), or ctx ends. Conditions such as AtLeast and HostingKind wait for
// what a program needs, where Ready only says the member serves.
func (m *Membership) Await(ctx context.Context, cond func(View) bool) error {
	for {
		m.mu.Lock()
		v, ch := m.vs.view(), m.changed
		m.mu.Unlock()
		if cond(v) {
			return nil
		}
		if v.Self == Stopped {
			return ErrMembershipStopped
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for the view: %w", ctx.Err())
		}
	}
}

// AtLeast is an Await condition: n members, self included, are Up and
// this member serves.
func AtLeast(n int) func(View) bool {
	return func(v View) bool { return v.Self == Serving && len(v.Up()) >= n }
}

// HostingKind is an Await condition: n Up members host kind and this member
// serves.
func HostingKind(kind string, n int) func(View) bool {
	return func(v View) bool { return v.Self == Serving && len(v.Hosting(kind)) >= n }
}

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
	if m.vs.status == Stopped {
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

// Handle registers h as the server of protocol p on this member's cluster
// port (nil unregisters). Peers dialling p before it is registered get
// ErrNoHandler.
func (m *Membership) Handle(p Protocol, h StreamHandler) error {
	if p == ProtocolGossip {
		return fmt.Errorf("%w: protocol %d is SWIM's", ErrMembershipConfig, p)
	}
	m.life.Lock()
	defer m.life.Unlock()
	if m.link == nil {
		return fmt.Errorf("%w: Handle before Start", ErrMembershipConfig)
	}
	m.link.handle(p, h)
	return nil
}

// Dial opens an authenticated stream of protocol p to member id (over
// mutual TLS when configured). The errors are ErrUnknownMember,
// ErrMemberGone (its port refuses connections, or another run answers:
// the member is removed at once), ErrMemberLeaving, ErrNoHandler,
// ErrHandshake, ErrMembershipStopped, or the network's (a timeout: the
// member may be unreachable). No error means nothing was sent but the
// handshake.
func (m *Membership) Dial(ctx context.Context, id string, p Protocol) (net.Conn, error) {
	m.mu.Lock()
	addr := ""
	if pe := m.vs.peers[id]; pe != nil {
		addr = pe.m.ClusterAddress
	}
	m.mu.Unlock()
	if addr == "" {
		if id == m.self.ID {
			return nil, fmt.Errorf("%w: %s is this member", ErrUnknownMember, id)
		}
		return nil, fmt.Errorf("%w: %s", ErrUnknownMember, id)
	}
	if m.link == nil {
		return nil, ErrMembershipStopped
	}
	c, _, err := m.link.dial(ctx, addr, id, p)
	return c, err
}

// onProvider records the provider's member list as join candidates. It
// never blocks: names are resolved by the join loop.
func (m *Membership) onProvider(members []provider.Member) {
	addrs := make([]string, 0, len(members))
	for _, pm := range members {
		if pm.Address == "" || pm.ID == m.self.ID {
			continue
		}
		if pm.Cluster != "" && pm.Cluster != m.cfg.Cluster {
			continue
		}
		addrs = append(addrs, pm.Address)
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	m.mu.Lock()
	changed := !slices.Equal(addrs, m.candidates) || !m.heard
	m.candidates = addrs
	m.heard = true
	m.mu.Unlock()
	if changed {
		m.wake()
	}
}

func (m *Membership) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// publishLocked delivers events to subscribers (never blocking) and logs
// them.
func (m *Membership) publishLocked(evs []MemberEvent) {
	if len(evs) == 0 {
		return
	}
	for _, ev := range evs {
		fields := []zap.Field{zap.String("id", ev.Member.ID), zap.String("address", ev.Member.Address), zap.Uint64("epoch", ev.Epoch)}
		if ev.Reason != "" {
			fields = append(fields, zap.String("reason", ev.Reason))
		}
		switch {
		case ev.Kind == SelfChanged:
			f := []zap.Field{zap.String("status", ev.Self.String()), zap.String("reason", ev.Reason), zap.Uint64("epoch", ev.Epoch)}
			if ev.Self == Fenced || ev.Self == Downed {
				m.log.Warn("this member is "+ev.Self.String(), f...)
			} else {
				m.log.Info("this member is "+ev.Self.String(), f...)
			}
		case ev.Kind == MemberUnreachable || ev.Kind == Removed:
			m.log.Warn("member "+ev.Kind.String(), fields...)
		default:
			m.log.Info("member "+ev.Kind.String(), fields...)
		}
		if ev.Kind == Removed && ev.Member.ClusterAddress != "" {
			// Keep trying its address: a healed partition re-forms.
			now := m.now()
			m.targets[ev.Member.ClusterAddress] = &joinTarget{backoff: m.cfg.ProbeInterval,
				next: now.Add(m.cfg.ProbeInterval), until: now.Add(rejoinWindow)}
		}
		for _, ch := range m.subs {
			select {
			case ch <- ev:
			default:
				m.dropped.Add(1)
			}
		}
	}
	if m.cfg.Expected > 0 && !m.expectedOK {
		up := 1
		for _, p := range m.vs.peers {
			if !p.suspect {
				up++
			}
		}
		m.expectedOK = up >= m.cfg.Expected
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// onRefused: member id's cluster port refused a connection.
func (m *Membership) onRefused(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return
	}
	if m.leaving[id] {
		m.publishLocked(m.vs.left(id, m.now()))
		return
	}
	m.publishLocked(m.vs.refused(id, m.now()))
}

// setMeta encodes this member's metadata for SWIM.
func (m *Membership) setMeta(leaving bool) error {
	b, err := encodeMeta(m.cfg.Cluster, m.self, leaving)
	if err != nil {
		return err
	}
	if len(b) > maxMeta {
		return fmt.Errorf("%w: Self: metadata of %d bytes exceeds %d", ErrMembershipConfig, len(b), maxMeta)
	}
	m.meta.Store(&b)
	return nil
}

func encodeMeta(cluster string, self Member, leaving bool) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(&protos.MemberMeta{
		Address: self.Address, Cluster: cluster, Kinds: self.Kinds, Version: self.Version,
		Labels: self.Labels, StartedUnixNano: self.Started.UnixNano(), Leaving: leaving, Protocol: uint32(max(self.Protocol, 0)),
	})
}

// errIncompatible: a node speaks a protocol version too far from this
// member's.
var errIncompatible = errors.New("incompatible protocol version")

// decodeNode turns a SWIM node into a Member. It checks the cluster name,
// the protocol version against protocol (this member's) and the
// addresses, and never panics on malformed metadata.
func decodeNode(cluster string, protocol int, n *memberlist.Node) (Member, bool, error) {
	if n == nil || n.Name == "" {
		return Member{}, false, errors.New("a node without a name")
	}
	if len(n.Meta) > maxMeta {
		return Member{}, false, fmt.Errorf("node %s: metadata of %d bytes", n.Name, len(n.Meta))
	}
	var meta protos.MemberMeta
	if err := proto.Unmarshal(n.Meta, &meta); err != nil {
		return Member{}, false, fmt.Errorf("node %s: malformed metadata: %v", n.Name, err)
	}
	if meta.Cluster != cluster {
		return Member{}, false, fmt.Errorf("node %s is a member of cluster %q", n.Name, meta.Cluster)
	}
	if meta.Protocol > math.MaxInt32 || !ProtocolCompatible(protocol, int(meta.Protocol)) {
		return Member{}, false, fmt.Errorf("%w: node %s speaks protocol version %d, this member %d: members more than one version apart cannot form a cluster (upgrade one version at a time)",
			errIncompatible, n.Name, max(meta.Protocol, 1), max(protocol, 1))
	}
	ip, ok := netip.AddrFromSlice(n.Addr)
	if !ok {
		return Member{}, false, fmt.Errorf("node %s: bad address", n.Name)
	}
	return Member{
		ID:             n.Name,
		Address:        meta.Address,
		ClusterAddress: netip.AddrPortFrom(ip.Unmap(), n.Port).String(),
		Kinds:          slices.Clone(meta.Kinds),
		Labels:         maps.Clone(meta.Labels),
		Version:        meta.Version,
		Protocol:       int(max(meta.Protocol, 1)),
		Started:        time.Unix(0, meta.StartedUnixNano),
	}, meta.Leaving, nil
}

// tickLoop applies the resolver and starts direct probes and lease
// attempts; it runs four times per probe interval.
func (m *Membership) tickLoop() {
	t := time.NewTicker(max(m.cfg.ProbeInterval/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
		}
		health := m.ml.GetHealthScore()
		now := m.now()
		m.mu.Lock()
		evs, req, lease := m.vs.tick(now)
		m.publishLocked(evs)
		if lease && m.leasing != req.key {
			m.leasing = req.key
			m.goLocked(func() { m.acquire(req) })
		}
		// Direct probes of every peer only while this member's own probes
		// go unanswered (Lifeguard's health score: a member whose probes
		// fail without even a nack from the helpers may be the one cut
		// off), or while it is fenced (to see the others come back). A
		// healthy member forgets its failed direct probes: in a large
		// cluster, every member sweeping every member would be a storm.
		switch {
		case health == 0 && m.vs.status != Fenced:
			m.publishLocked(m.vs.clearProbes(now))
		case !m.sweeping && now.Sub(m.lastSweep) >= m.cfg.ProbeInterval:
			var peers []Member
			for _, p := range m.vs.sortedPeers() {
				peers = append(peers, p.m)
			}
			m.sweeping = m.goLocked(func() { m.sweep(peers) })
			m.lastSweep = now
		}
		m.mu.Unlock()
	}
}

// sweep probes every peer directly, so that a member cut off from the
// others learns it within one probe timeout and fences itself.
func (m *Membership) sweep(peers []Member) {
	defer func() {
		m.mu.Lock()
		m.sweeping = false
		m.mu.Unlock()
	}()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, p := range peers {
		ap, err := netip.ParseAddrPort(p.ClusterAddress)
		if err != nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-m.quit:
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := m.ml.Ping(p.ID, net.UDPAddrFromAddrPort(ap))
			m.mu.Lock()
			wasSuspect := m.vs.peers[p.ID] != nil && m.vs.peers[p.ID].suspect
			m.publishLocked(m.vs.probed(p.ID, err == nil, m.now()))
			m.mu.Unlock()
			if err == nil && wasSuspect {
				m.wake() // it answers again: join it to re-merge SWIM's views
			}
		}()
	}
	wg.Wait()
}

// acquire tries the split-brain lease for the side named by req.
func (m *Membership) acquire(req leaseRequest) {
	if req.delay > 0 {
		t := time.NewTimer(req.delay)
		select {
		case <-t.C:
		case <-m.quit:
			t.Stop()
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(m.cfg.SplitBrain.StableAfter, 5*time.Second))
	go func() {
		select {
		case <-m.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	held, err := m.cfg.SplitBrain.Lease.Acquire(ctx, req.owner)
	cancel()
	if err != nil {
		m.log.Warn("split-brain lease: acquisition failed; this side goes down", zap.Error(err))
		held = false
	} else {
		m.log.Info("split-brain lease", zap.String("owner", req.owner), zap.Bool("held", held))
	}
	m.mu.Lock()
	m.vs.leaseResult(req.key, held)
	if m.leasing == req.key {
		m.leasing = ""
	}
	m.mu.Unlock()
}

// joinLoop joins the provider's candidates, the addresses of suspected
// members and of members removed recently, with a backoff per address; and
// forms a cluster alone when nobody answers (see MembershipConfig.JoinTimeout).
func (m *Membership) joinLoop() {
	t := time.NewTicker(m.cfg.ProbeInterval)
	defer t.Stop()
	var resolvedFor []string
	for {
		m.mu.Lock()
		cands := slices.Clone(m.candidates)
		m.mu.Unlock()
		if !slices.Equal(cands, resolvedFor) {
			resolvedFor = cands
			r := m.resolveCandidates(cands)
			m.mu.Lock()
			m.resolved = r
			m.mu.Unlock()
		}
		m.joinRound()
		select {
		case <-m.quit:
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

// resolveCandidates resolves host names among the candidates (a second at
// most each) and leaves this member out.
func (m *Membership) resolveCandidates(cands []string) []string {
	out := make([]string, 0, len(cands))
	for _, c := range cands {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		go func() {
			select {
			case <-m.quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		ap, err := resolveAdvertise(ctx, c)
		cancel()
		a := c
		if err == nil {
			a = ap.String()
		}
		if a != m.self.ClusterAddress {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (m *Membership) joinRound() {
	now := m.now()
	m.mu.Lock()
	alive := map[string]bool{m.self.ClusterAddress: true}
	want := map[string]time.Time{} // address -> until (zero: no end)
	for _, p := range m.vs.peers {
		if p.suspect {
			want[p.m.ClusterAddress] = time.Time{}
		} else {
			alive[p.m.ClusterAddress] = true
		}
	}
	for _, a := range m.resolved {
		want[a] = time.Time{}
	}
	for a, t := range m.targets {
		if !t.until.IsZero() {
			if now.After(t.until) {
				delete(m.targets, a)
				continue
			}
			if _, ok := want[a]; !ok {
				want[a] = t.until
			}
		}
	}
	var due []string
	for a, until := range want {
		if alive[a] {
			continue
		}
		t := m.targets[a]
		if t == nil {
			t = &joinTarget{backoff: m.cfg.ProbeInterval}
			m.targets[a] = t
		}
		t.until = until
		if !t.inflight && !now.Before(t.next) {
			t.inflight = true
			due = append(due, a)
		}
	}
	for a, t := range m.targets {
		if _, ok := want[a]; !ok && t.until.IsZero() && !t.inflight {
			delete(m.targets, a)
		}
	}
	if !m.formed {
		m.formed = true
	} else if !m.vs.joined {
		m.maybeFormLocked(now)
	}
	if len(m.resolved) == 0 && !m.vs.joined && (m.heard || now.Sub(m.started) >= m.cfg.JoinTimeout) {
		m.publishLocked(m.vs.joinedCluster(now))
	}
	for _, a := range due {
		m.goLocked(func() { m.join(a) })
	}
	m.mu.Unlock()
}

// maybeFormLocked forms a cluster of this member alone when none of its
// candidates answered: at once when it has the lowest address of them all,
// else after JoinTimeout.
func (m *Membership) maybeFormLocked(now time.Time) {
	lowest := true
	for _, a := range m.resolved {
		if a < m.self.ClusterAddress {
			lowest = false
		}
	}
	if lowest || now.Sub(m.started) >= m.cfg.JoinTimeout {
		if !lowest {
			m.log.Warn("no join candidate answered within join_timeout: forming a cluster alone",
				zap.Strings("candidates", m.resolved), zap.Duration("join_timeout", m.cfg.JoinTimeout))
		}
		m.publishLocked(m.vs.joinedCluster(now))
	}
}

func (m *Membership) join(addr string) {
	n, err := m.ml.Join([]string{addr})
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.targets[addr]
	if n > 0 && err == nil {
		m.publishLocked(m.vs.joinedCluster(now))
		if t != nil {
			t.inflight, t.backoff, t.next = false, m.cfg.ProbeInterval, now.Add(m.cfg.ProbeInterval)
		}
		return
	}
	if t != nil {
		t.inflight = false
		t.next = now.Add(t.backoff)
		if m.vs.joined {
			t.backoff = min(2*t.backoff, 5*time.Second)
		} // until it joined, a member tries its candidates every probe interval
	}
	m.log.Debug("membership: join failed", zap.String("address", addr), zap.Error(err))
}

// verifyLocked probes a removed member that SWIM reports alive again; if
// it answers, it may join again (its tomb is cleared and its address
// joined). m.mu must be held.
func (m *Membership) verifyLocked(mem Member) {
	if m.verifying[mem.ID] {
		return
	}
	m.verifying[mem.ID] = m.goLocked(func() {
		ap, err := netip.ParseAddrPort(mem.ClusterAddress)
		if err == nil {
			_, err = m.ml.Ping(mem.ID, net.UDPAddrFromAddrPort(ap))
		}
		m.mu.Lock()
		delete(m.verifying, mem.ID)
		if err == nil {
			if t, ok := m.vs.tombs[mem.ID]; ok && !t.final {
				delete(m.vs.tombs, mem.ID)
				now := m.now()
				m.targets[mem.ClusterAddress] = &joinTarget{backoff: m.cfg.ProbeInterval, next: now, until: now.Add(rejoinWindow)}
			}
		}
		m.mu.Unlock()
		if err == nil {
			m.wake()
		}
	})
}

// swimDelegate receives SWIM's callbacks. memberlist calls them with its
// own locks held: they only update the view and never call back into
// memberlist.
type swimDelegate struct{ m *Membership }

func (d *swimDelegate) NodeMeta(limit int) []byte {
	b := *d.m.meta.Load()
	if len(b) > limit {
		return nil
	}
	return b
}

func (d *swimDelegate) NotifyMsg(b []byte) {
	var n protos.LeaveNotice
	if proto.Unmarshal(b, &n) != nil || n.Id == "" {
		return
	}
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return
	}
	m.leaving[n.Id] = true
	if p := m.vs.peers[n.Id]; p != nil && p.suspect {
		m.publishLocked(m.vs.left(n.Id, m.now()))
	}
}

func (d *swimDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *swimDelegate) LocalState(bool) []byte          { return nil }
func (d *swimDelegate) MergeRemoteState([]byte, bool)   {}

// NotifyAlive admits or rejects a node SWIM heard of: another cluster,
// malformed metadata, a member that left, or a removed member not yet
// verified are rejected.
func (d *swimDelegate) NotifyAlive(n *memberlist.Node) error {
	m := d.m
	if n.Name == m.self.ID {
		return nil
	}
	mem, _, err := decodeNode(m.cfg.Cluster, m.self.Protocol, n)
	if errors.Is(err, errIncompatible) {
		m.mu.Lock()
		last, seen := m.refused[n.Name]
		now := m.now()
		if !seen || now.Sub(last) >= time.Minute {
			if len(m.refused) > 1024 {
				clear(m.refused)
			}
			m.refused[n.Name] = now
			m.log.Warn("refused a member of another protocol version", zap.String("node", n.Name), zap.Error(err))
		}
		m.mu.Unlock()
	}
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, tombed := m.vs.tombs[mem.ID]
	switch {
	case tombed && t.final:
		return fmt.Errorf("member %s left the cluster", mem.ID)
	case tombed:
		m.verifyLocked(mem)
		return fmt.Errorf("member %s was removed; admitted again once it answers a probe", mem.ID)
	}
	return nil
}

func (d *swimDelegate) NotifyJoin(n *memberlist.Node)   { d.alive(n) }
func (d *swimDelegate) NotifyUpdate(n *memberlist.Node) { d.alive(n) }

func (d *swimDelegate) alive(n *memberlist.Node) {
	m := d.m
	if n.Name == m.self.ID {
		return
	}
	mem, leaving, err := decodeNode(m.cfg.Cluster, m.self.Protocol, n)
	if err != nil {
		m.log.Debug("membership: ignoring a node", zap.Error(err))
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return
	}
	if leaving {
		m.leaving[mem.ID] = true
	}
	evs, adm := m.vs.alive(mem, false, m.now())
	m.publishLocked(evs)
	if adm == verify {
		m.verifyLocked(mem)
	}
}

func (d *swimDelegate) NotifyLeave(n *memberlist.Node) {
	m := d.m
	if n.Name == m.self.ID {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return
	}
	now := m.now()
	if m.leaving[n.Name] {
		delete(m.leaving, n.Name)
		m.publishLocked(m.vs.left(n.Name, now))
		return
	}
	m.publishLocked(m.vs.suspect(n.Name, "declared failed by SWIM: no answer to direct or indirect probes within the suspicion timeout", now))
}

func (d *swimDelegate) NotifyConflict(existing, other *memberlist.Node) {
	d.m.log.Warn("membership: two members claim one id", zap.String("id", existing.Name),
		zap.String("address", existing.Address()), zap.String("other", other.Address()))
}

// isClosed reports whether err says a socket was closed.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
