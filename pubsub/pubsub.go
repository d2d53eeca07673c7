package pubsub

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/protos"
)

// Config configures a PubSub. Zero values are the defaults.
type Config struct {
	// QueueLength bounds the frames waiting to be written to one member,
	// and the messages waiting for one SubscribeFunc handler; past it a
	// message is dropped and counted (Dropped). Default 4096.
	QueueLength int
	// MaxMessageSize bounds a message that crosses members, serialized.
	// Default 1 MiB.
	MaxMessageSize int
	// Logger records dropped peers and malformed frames. Nil: none.
	Logger *zap.Logger
}

// Interest records which members have subscribers for which topics,
// replicated to every member (package crdt's replicator in a node; see
// NewInterest). Set is called when this member's first subscriber of a
// kind (outside groups, or of one group) for a topic arrives (present) or
// its last one leaves; Entries reads this member's replica and must not
// block (every publish calls it); Forget removes every entry of a member
// that left or was removed (one member, the lowest-id Up one, calls it).
type Interest interface {
	Set(topic, entry string, present bool) error
	Entries(topic string) []string
	Forget(member string) error
}

// Message is what a SubscribeFunc handler receives.
type Message struct {
	Topic string
	// Payload is the published message (a protobuf message when it came
	// from another member).
	Payload any
	// From is the publisher given to PublishFrom, else nil.
	From *actor.PID
	// Headers are the publisher's message headers (actor.WithHeaders on
	// its ctx).
	Headers actor.Headers
}

// PubSub is cluster-wide publish/subscribe on one member: see the package
// documentation.
type PubSub struct {
	cfg      Config
	sys      *actor.System
	ms       *cluster.Membership
	interest Interest
	log      *zap.Logger
	self     string
	subs     *table

	mu      sync.Mutex
	peers   map[string]*peer
	closed  bool
	stopped chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	unsub   func()

	dropped atomic.Uint64
	rr      atomic.Uint64 // group choice, round robin per publish
}

// New returns a PubSub for the member of sys and ms, recording interest in
// interest. Start serves other members' frames.
func New(sys *actor.System, ms *cluster.Membership, interest Interest, cfg Config) (*PubSub, error) {
	switch {
	case sys == nil || ms == nil:
		return nil, fmt.Errorf("%w: New needs a System and a Membership", ErrInvalid)
	case interest == nil:
		return nil, fmt.Errorf("%w: New needs an Interest (NewInterest)", ErrInvalid)
	case cfg.QueueLength < 0:
		return nil, fmt.Errorf("%w: Config.QueueLength %d must be >= 0 (0: 4096)", ErrInvalid, cfg.QueueLength)
	case cfg.MaxMessageSize < 0:
		return nil, fmt.Errorf("%w: Config.MaxMessageSize %d must be >= 0 (0: 1 MiB)", ErrInvalid, cfg.MaxMessageSize)
	}
	if cfg.QueueLength == 0 {
		cfg.QueueLength = 4096
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = 1 << 20
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	ps := &PubSub{cfg: cfg, sys: sys, ms: ms, interest: interest, log: log, self: ms.Self().ID,
		subs: newTable(), peers: map[string]*peer{}, stopped: make(chan struct{})}
	ps.ctx, ps.cancel = context.WithCancel(context.Background())
	return ps, nil
}

// Start serves frames from other members and follows the membership (a
// removed member's stream is closed).
func (ps *PubSub) Start(context.Context) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return ErrClosed
	}
	if ps.unsub != nil {
		return nil
	}
	if err := ps.ms.Handle(cluster.ProtocolPubSub, ps.serve); err != nil {
		return err
	}
	events, unsub := ps.ms.Subscribe(256)
	ps.unsub = unsub
	ps.wg.Add(2)
	go func() {
		defer ps.wg.Done()
		ps.reconcileLoop()
	}()
	go func() {
		defer ps.wg.Done()
		for ev := range events {
			if ev.Kind == cluster.Removed || ev.Kind == cluster.Left {
				ps.dropPeer(ev.Member.ID)
				ps.forget(ev.Member.ID)
			}
		}
	}()
	return nil
}

// reconcileLoop re-records, every second, this member's interest where
// the replicated interest lacks it: after this member was downed by the
// split-brain resolver (the others withdrew its interest) and came back,
// say.
func (ps *PubSub) reconcileLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ps.ctx.Done():
			return
		case <-t.C:
		}
		want := map[string]map[string]bool{} // topic -> entries
		for _, s := range ps.subs.all() {
			if want[s.topic] == nil {
				want[s.topic] = map[string]bool{}
			}
			want[s.topic][interestEntry(ps.self, s.group)] = true
		}
		for topic, entries := range want {
			have := ps.interest.Entries(topic)
			for e := range entries {
				if !slices.Contains(have, e) && ps.stillSubscribed(topic, e) {
					if err := ps.interest.Set(topic, e, true); err != nil {
						ps.log.Warn("pubsub: re-recording interest", zap.String("topic", topic), zap.Error(err))
					}
				}
			}
		}
	}
}

// stillSubscribed reports whether this member has a subscriber of topic
// for interest entry e.
func (ps *PubSub) stillSubscribed(topic, e string) bool {
	ts := ps.subs.load(topic)
	if ts == nil {
		return false
	}
	_, g := splitEntry(e)
	if g == "" {
		return len(ts.plain) > 0
	}
	return len(ts.groups[g]) > 0
}

// forget withdraws a gone member's interest, if this member is the
// lowest-id Up one (publishes skip members that are not Up anyway; this
// keeps the interest from growing with every member that ever came).
func (ps *PubSub) forget(gone string) {
	if ps.ms.View().LowestUp() != ps.self {
		return
	}
	if err := ps.interest.Forget(gone); err != nil {
		ps.log.Warn("pubsub: withdrawing a gone member's interest", zap.String("member", gone), zap.Error(err))
	}
}

// Stop ends every subscription and stream. Idempotent.
func (ps *PubSub) Stop(ctx context.Context) error {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		select {
		case <-ps.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ps.closed = true
	peers := ps.peers
	ps.peers = map[string]*peer{}
	unsub := ps.unsub
	ps.mu.Unlock()
	_ = ps.ms.Handle(cluster.ProtocolPubSub, nil)
	if unsub != nil {
		unsub()
	}
	ps.cancel()
	for _, p := range peers {
		p.close()
	}
	for _, s := range ps.subs.all() {
		s.end(false)
	}
	done := make(chan struct{})
	go func() { ps.wg.Wait(); close(done) }()
	select {
	case <-done:
		close(ps.stopped)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pubsub: stop: %w", ctx.Err())
	}
}

// Dropped is how many messages were dropped: a member's outbound queue or
// a handler's queue was full (see Config.QueueLength).
func (ps *PubSub) Dropped() uint64 { return ps.dropped.Load() }

// SubscribeOption configures a subscription.
type SubscribeOption interface{ apply(*Subscription) }

type subOpt func(*Subscription)

func (f subOpt) apply(s *Subscription) { f(s) }

// InGroup makes the subscription a member of group: each message published
// to the topic reaches one subscriber of each group, cluster-wide, instead
// of every subscriber.
func InGroup(group string) SubscribeOption { return subOpt(func(s *Subscription) { s.group = group }) }

// Subscription is one subscriber of one topic.
type Subscription struct {
	ps    *PubSub
	topic string
	group string
	pid   *actor.PID
	fn    func(Message)
	queue chan Message
	watch *actor.ExitWatch
	ended atomic.Bool
	done  chan struct{}
}

// Topic is the subscription's topic.
func (s *Subscription) Topic() string { return s.topic }

// Group is the subscription's group, "" for none.
func (s *Subscription) Group() string { return s.group }

// Subscribe makes pid (a process on this member) receive every message
// published to topic, by Tell (with the publisher's headers). The
// subscription ends on Unsubscribe or when pid exits.
func (ps *PubSub) Subscribe(topic string, pid *actor.PID, opts ...SubscribeOption) (*Subscription, error) {
	if pid == nil {
		return nil, fmt.Errorf("%w: Subscribe: nil pid", ErrInvalid)
	}
	if pid.Address != ps.sys.Address() {
		return nil, fmt.Errorf("%w: Subscribe: %s is on another member; subscribe on the member it runs on", ErrInvalid, actor.PIDString(pid))
	}
	s := &Subscription{ps: ps, topic: topic, pid: pid, done: make(chan struct{})}
	return ps.add(s, opts)
}

// SubscribeFunc makes f receive every message published to topic, one at a
// time and in each publisher's order, on a goroutine of the subscription.
func (ps *PubSub) SubscribeFunc(topic string, f func(Message), opts ...SubscribeOption) (*Subscription, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: SubscribeFunc: nil handler", ErrInvalid)
	}
	s := &Subscription{ps: ps, topic: topic, fn: f, queue: make(chan Message, ps.cfg.QueueLength), done: make(chan struct{})}
	return ps.add(s, opts)
}

func (ps *PubSub) add(s *Subscription, opts []SubscribeOption) (*Subscription, error) {
	for _, o := range opts {
		if o != nil {
			o.apply(s)
		}
	}
	if err := checkName("topic", s.topic); err != nil {
		return nil, err
	}
	if s.group != "" {
		if err := checkName("group", s.group); err != nil {
			return nil, err
		}
	}
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil, ErrClosed
	}
	if s.pid != nil {
		w, err := ps.sys.WatchExit(s.pid)
		if err != nil {
			ps.mu.Unlock()
			return nil, fmt.Errorf("pubsub: Subscribe: %w", err)
		}
		s.watch = w
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			select {
			case <-w.Done():
				_ = s.Unsubscribe() // its process exited
			case <-s.done:
			}
		}()
	} else {
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			s.run()
		}()
	}
	first := ps.subs.add(s)
	ps.mu.Unlock()
	if first {
		if err := ps.interest.Set(s.topic, interestEntry(ps.self, s.group), true); err != nil {
			_ = s.Unsubscribe()
			return nil, fmt.Errorf("pubsub: recording interest in %q: %w", s.topic, err)
		}
	}
	return s, nil
}

// checkName rejects empty names and the separator used in interest entries.
func checkName(what, name string) error {
	if name == "" || strings.ContainsAny(name, "|\x00") || len(name) > 255 {
		return fmt.Errorf("%w: %s %q: want 1..255 bytes without '|' or NUL", ErrInvalid, what, name)
	}
	return nil
}

// Unsubscribe ends the subscription: no message is delivered after it
// returns (a SubscribeFunc handler may still be running one). Idempotent.
func (s *Subscription) Unsubscribe() error {
	return s.end(true)
}

func (s *Subscription) end(recordInterest bool) error {
	if !s.ended.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	if s.watch != nil {
		s.watch.Close()
	}
	_, last := s.ps.subs.remove(s)
	if last && recordInterest {
		if err := s.ps.interest.Set(s.topic, interestEntry(s.ps.self, s.group), false); err != nil {
			return fmt.Errorf("pubsub: withdrawing interest in %q: %w", s.topic, err)
		}
	}
	return nil
}

// run delivers a SubscribeFunc's messages in order.
func (s *Subscription) run() {
	for {
		select {
		case m := <-s.queue:
			if s.ended.Load() {
				return
			}
			s.call(m)
		case <-s.done:
			return
		}
	}
}

func (s *Subscription) call(m Message) {
	defer func() {
		if r := recover(); r != nil {
			s.ps.log.Warn("pubsub: a subscriber's handler panicked", zap.String("topic", s.topic), zap.Any("panic", r))
		}
	}()
	s.fn(m)
}

// deliver hands m to s without blocking.
func (s *Subscription) deliver(m Message) {
	if s.ended.Load() || (m.From != nil && sameProcess(m.From, s.pid)) {
		return
	}
	if s.pid != nil {
		if len(m.Headers) > 0 {
			s.ps.sys.TellWithHeaders(s.pid, m.Payload, m.Headers)
		} else {
			s.ps.sys.Tell(s.pid, m.Payload)
		}
		return
	}
	select {
	case s.queue <- m:
	default:
		s.ps.dropped.Add(1)
	}
}

// Publish delivers msg to every subscriber of topic on every member (one
// subscriber per group), at most once: see the package documentation. It
// returns an error only when msg is not sent at all (ErrInvalid,
// ErrNoSubscribers, ErrNotSerializable for a member that has subscribers,
// ErrTooLarge, ErrClosed); it never waits for subscribers.
func (ps *PubSub) Publish(ctx context.Context, topic string, msg any) error {
	return ps.publish(ctx, topic, msg, nil, "")
}

// PublishFrom is Publish, except that the subscriber from (the publisher's
// own process) does not receive the message.
func (ps *PubSub) PublishFrom(ctx context.Context, from *actor.PID, topic string, msg any) error {
	if from == nil {
		return fmt.Errorf("%w: PublishFrom: nil publisher", ErrInvalid)
	}
	return ps.publish(ctx, topic, msg, from, "")
}

// Direct delivers msg to the subscribers of topic on member only (one per
// group there).
func (ps *PubSub) Direct(ctx context.Context, member, topic string, msg any) error {
	if member == "" {
		return fmt.Errorf("%w: Direct: empty member id", ErrInvalid)
	}
	return ps.publish(ctx, topic, msg, nil, member)
}

// Members returns the ids of the Up members that this member knows to have
// subscribers of topic (in or outside groups), sorted: where a Publish
// would send. Interest spreads by replication, so a subscriber that has
// just subscribed elsewhere may not be listed yet.
func (ps *PubSub) Members(topic string) []string {
	up := map[string]bool{}
	for _, m := range ps.ms.View().Up() {
		up[m.ID] = true
	}
	var out []string
	for _, e := range ps.interest.Entries(topic) {
		if m, _ := splitEntry(e); up[m] && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// PublishLocal delivers msg to the subscribers of topic on this member
// only (one per group), without crossing the network.
func (ps *PubSub) PublishLocal(ctx context.Context, topic string, msg any) error {
	return ps.publish(ctx, topic, msg, nil, ps.self)
}

func (ps *PubSub) publish(ctx context.Context, topic string, msg any, from *actor.PID, only string) error {
	if err := checkName("topic", topic); err != nil {
		return err
	}
	if msg == nil {
		return fmt.Errorf("%w: nil message", ErrInvalid)
	}
	ps.mu.Lock()
	closed := ps.closed
	ps.mu.Unlock()
	if closed {
		return ErrClosed
	}
	m := Message{Topic: topic, Payload: msg, From: from, Headers: actor.HeadersFrom(ctx)}
	var targets map[string]*delivery
	if only == ps.self {
		targets = map[string]*delivery{ps.self: ps.localDelivery(topic)}
	} else {
		up := map[string]bool{}
		for _, mem := range ps.ms.View().Up() {
			if only == "" || mem.ID == only {
				up[mem.ID] = true
			}
		}
		if only != "" && !up[only] {
			return fmt.Errorf("%w: Direct: member %s is not an Up member of the view", ErrUnknownMember, only)
		}
		n := ps.rr.Add(1)
		targets = route(ps.interest.Entries(topic), up, func(_ string, k int) int { return int(n % uint64(k)) })
	}
	if !anyDelivery(targets) {
		return fmt.Errorf("%w: topic %q", ErrNoSubscribers, topic)
	}
	var frame []byte
	for member, d := range targets {
		if member == ps.self {
			ps.deliverLocal(topic, d, m)
			continue
		}
		if frame == nil {
			var err error
			if frame, err = ps.encode(topic, msg, from, m.Headers); err != nil {
				return err
			}
		}
		ps.send(member, frame, d)
	}
	return nil
}

func anyDelivery(targets map[string]*delivery) bool {
	for _, d := range targets {
		if d.plain || len(d.groups) > 0 {
			return true
		}
	}
	return false
}

// localDelivery is everything this member's subscribers of topic take.
func (ps *PubSub) localDelivery(topic string) *delivery {
	d := &delivery{}
	if ts := ps.subs.load(topic); ts != nil {
		d.plain = len(ts.plain) > 0
		for g := range ts.groups {
			d.groups = append(d.groups, g)
		}
	}
	return d
}

func (ps *PubSub) deliverLocal(topic string, d *delivery, m Message) {
	ts := ps.subs.load(topic)
	if ts == nil {
		return
	}
	if d.plain {
		for _, s := range ts.plain {
			s.deliver(m)
		}
	}
	for _, g := range d.groups {
		if s := ts.pickGroup(g); s != nil {
			s.deliver(m)
		}
	}
}

// encode serializes the frame body shared by every member of one publish;
// send adds each member's plain and group flags.
func (ps *PubSub) encode(topic string, msg any, from *actor.PID, h actor.Headers) ([]byte, error) {
	pm, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%w: %T cannot cross members", ErrNotSerializable, msg)
	}
	payload, err := proto.Marshal(pm)
	if err != nil {
		return nil, fmt.Errorf("%w: %T: %v", ErrNotSerializable, msg, err)
	}
	if len(payload) > ps.cfg.MaxMessageSize {
		return nil, fmt.Errorf("%w: %T is %d bytes serialized, over Config.MaxMessageSize %d", ErrTooLarge, msg, len(payload), ps.cfg.MaxMessageSize)
	}
	f := &protos.PubSubFrame{Topic: topic, TypeName: string(pm.ProtoReflect().Descriptor().FullName()), Payload: payload, Headers: h}
	if from != nil {
		f.From = from.Address + "/" + from.Id
	}
	return proto.Marshal(f)
}

// send queues the frame for member, with its delivery flags. The flags are
// a second encoded PubSubFrame appended to the shared body: protobuf merges
// concatenated messages, so the body is encoded once per publish.
func (ps *PubSub) send(member string, body []byte, d *delivery) {
	ext, _ := proto.Marshal(&protos.PubSubFrame{Plain: d.plain, Groups: d.groups})
	frame := make([]byte, 4, 4+len(body)+len(ext))
	frame = append(append(frame, body...), ext...) // protobuf merges the two messages
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	p := ps.peer(member)
	if p == nil {
		return
	}
	select {
	case p.queue <- frame:
	default:
		ps.dropped.Add(1)
	}
}

// peer returns the outbound queue to member, starting its writer.
func (ps *PubSub) peer(member string) *peer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil
	}
	p := ps.peers[member]
	if p == nil {
		p = &peer{ps: ps, id: member, queue: make(chan []byte, ps.cfg.QueueLength), quit: make(chan struct{})}
		ps.peers[member] = p
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			p.run()
		}()
	}
	return p
}

func (ps *PubSub) dropPeer(member string) {
	ps.mu.Lock()
	p := ps.peers[member]
	delete(ps.peers, member)
	ps.mu.Unlock()
	if p != nil {
		p.close()
	}
}

// peer writes one member's frames in order on one stream, reconnecting
// when it breaks (frames queued while it is down may be lost: at most
// once).
type peer struct {
	ps    *PubSub
	id    string
	queue chan []byte
	quit  chan struct{}
	once  sync.Once
}

func (p *peer) close() { p.once.Do(func() { close(p.quit) }) }

// writeTimeout bounds one frame's write to a member.
const writeTimeout = 5 * time.Second

func (p *peer) run() {
	var conn net.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	backoff := 10 * time.Millisecond
	for {
		var frame []byte
		select {
		case frame = <-p.queue:
		case <-p.quit:
			return
		case <-p.ps.ctx.Done():
			return
		}
		if conn == nil {
			ctx, cancel := context.WithTimeout(p.ps.ctx, time.Second)
			c, err := p.ps.ms.Dial(ctx, p.id, cluster.ProtocolPubSub)
			cancel()
			if err != nil {
				p.ps.dropped.Add(1)
				p.ps.log.Debug("pubsub: cannot reach a member; dropping", zap.String("member", p.id), zap.Error(err))
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-p.quit:
					t.Stop()
					return
				}
				backoff = min(2*backoff, time.Second)
				continue
			}
			conn, backoff = c, 10*time.Millisecond
		}
		// The frames already queued go in the same write (one syscall for
		// a burst, up to 64 KiB).
		bufs := net.Buffers{frame}
		size := len(frame)
	gather:
		for size < 64<<10 {
			select {
			case f := <-p.queue:
				bufs = append(bufs, f)
				size += len(f)
			default:
				break gather
			}
		}
		n := len(bufs)
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := bufs.WriteTo(conn); err != nil {
			p.ps.dropped.Add(uint64(n))
			_ = conn.Close()
			conn = nil
		}
	}
}

// serve reads frames from another member and delivers them here, in order.
func (ps *PubSub) serve(ctx context.Context, conn net.Conn, peerID string) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > uint32(ps.cfg.MaxMessageSize)+64<<10 {
			ps.log.Warn("pubsub: oversized frame; closing the stream", zap.String("member", peerID), zap.Uint32("bytes", n))
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var f protos.PubSubFrame
		if err := proto.Unmarshal(buf, &f); err != nil {
			ps.log.Warn("pubsub: malformed frame", zap.String("member", peerID), zap.Error(err))
			continue
		}
		m, err := decodeMessage(&f)
		if err != nil {
			ps.log.Warn("pubsub: a message that cannot be decoded here was dropped", zap.String("topic", f.Topic), zap.Error(err))
			continue
		}
		ps.deliverLocal(f.Topic, &delivery{plain: f.Plain, groups: f.Groups}, m)
	}
}

func decodeMessage(f *protos.PubSubFrame) (Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(f.TypeName))
	if err != nil {
		return Message{}, fmt.Errorf("%w: unknown message type %q", ErrNotSerializable, f.TypeName)
	}
	pm := mt.New().Interface()
	if err := proto.Unmarshal(f.Payload, pm); err != nil {
		return Message{}, fmt.Errorf("%w: %s: %v", ErrNotSerializable, f.TypeName, err)
	}
	m := Message{Topic: f.Topic, Payload: pm}
	if len(f.Headers) > 0 {
		m.Headers = actor.Headers(f.Headers)
	}
	if f.From != "" {
		if i := strings.LastIndexByte(f.From, '/'); i > 0 {
			m.From = &actor.PID{Address: f.From[:i], Id: f.From[i+1:]}
		}
	}
	return m, nil
}
