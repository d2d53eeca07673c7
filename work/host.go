package work

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
)

// sweepInterval is how often the Host re-reads the view, in case a
// membership event was dropped: streams to members no longer Up close,
// and runs look for members that joined.
const sweepInterval = 250 * time.Millisecond

// Host is a member's side of distributed task runs: the task kinds it
// runs, with a worker pool each, served to the runs of every member over
// ProtocolWork streams of the cluster port; and the runs this member
// coordinates (Run). One Host per member; a foundation.Node has one
// (Node.Work).
type Host struct {
	ms   *cluster.Membership
	cfg  Config
	log  *zap.Logger
	self string

	nextRun atomic.Uint64

	mu      sync.Mutex
	kinds   map[string]*entry
	clients map[string]*client
	conns   map[*sconn]struct{}
	runs    map[uint64]*runState
	started bool
	closed  bool
	unsub   func()
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped chan struct{}
}

// NewHost returns the work host of the member of ms. Start serves other
// members' runs and allows this member's.
func NewHost(ms *cluster.Membership, cfg Config) (*Host, error) {
	if ms == nil {
		return nil, fmt.Errorf("%w: NewHost needs a Membership", ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Host{ms: ms, cfg: cfg, log: cfg.Logger, self: ms.Self().ID,
		kinds: map[string]*entry{}, clients: map[string]*client{}, conns: map[*sconn]struct{}{},
		runs: map[uint64]*runState{}, stopped: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Register makes this member run kinds, each with a worker pool of
// Kind.Workers (or Config.Workers). A kind may be registered before or
// after Start; a run in progress that found this member without it asks
// again about a second later. Registering a name twice is ErrInvalid;
// nothing is registered when any kind is invalid.
func (h *Host) Register(kinds ...AnyKind) error {
	es := make([]*entry, 0, len(kinds))
	for _, k := range kinds {
		if k == nil {
			return fmt.Errorf("%w: Register: a nil kind", ErrInvalid)
		}
		e, err := k.entry(h.cfg.Workers)
		if err != nil {
			return err
		}
		es = append(es, e)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	seen := map[string]bool{}
	for _, e := range es {
		if h.kinds[e.name] != nil || seen[e.name] {
			return fmt.Errorf("%w: kind %q is already registered", ErrInvalid, e.name)
		}
		seen[e.name] = true
	}
	for _, e := range es {
		h.kinds[e.name] = e
	}
	return nil
}

// Kinds returns the names of the kinds this member runs, sorted.
func (h *Host) Kinds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.kinds))
	for name := range h.kinds {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Workers returns the worker pool size of kind on this member (0 when it
// does not run the kind).
func (h *Host) Workers(kind string) int {
	if e := h.kind(kind); e != nil {
		return e.workers
	}
	return 0
}

func (h *Host) kind(name string) *entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.kinds[name]
}

// Start serves the ProtocolWork streams and follows the membership.
// Idempotent; ErrClosed after Stop.
func (h *Host) Start(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if h.started {
		return nil
	}
	if err := h.ms.Handle(cluster.ProtocolWork, h.serve); err != nil {
		return err
	}
	events, unsub := h.ms.Subscribe(256)
	h.started, h.unsub = true, unsub
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.follow(events)
	}()
	return nil
}

// Stop stops the host: this member's runs end with ErrClosed, the tasks
// it runs for other members are cancelled (their callers run them on
// other members), the streams close. It waits for the host's goroutines
// (handlers included) until ctx ends. Idempotent.
func (h *Host) Stop(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		select {
		case <-h.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.closed = true
	clients := h.clients
	h.clients = map[string]*client{}
	conns := make([]*sconn, 0, len(h.conns))
	for sc := range h.conns {
		conns = append(conns, sc)
	}
	runs := make([]*runState, 0, len(h.runs))
	for _, rs := range h.runs {
		runs = append(runs, rs)
	}
	started, unsub := h.started, h.unsub
	h.mu.Unlock()
	if started {
		_ = h.ms.Handle(cluster.ProtocolWork, nil)
		unsub()
	}
	for _, rs := range runs {
		rs.cancel(ErrClosed)
	}
	h.cancel()
	for _, c := range clients {
		c.close("the host stopped")
	}
	for _, sc := range conns {
		_ = sc.conn.Close()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		close(h.stopped)
		return nil
	case <-ctx.Done():
		go func() { <-done; close(h.stopped) }()
		return fmt.Errorf("work: stopping: task handlers still running: %w", ctx.Err())
	}
}

// Abort stops as Stop does, as a crash would leave other members: their
// runs see the streams break. It waits for the host's goroutines.
func (h *Host) Abort() { _ = h.Stop(context.Background()) }

// goFunc runs f on a goroutine of the host, unless it is stopped.
func (h *Host) goFunc(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
}

// follow closes the streams to members that are no longer Up (their
// runs re-run what those members held) and tells the runs when the view
// changes; a ticker re-reads the view in case an event was dropped.
func (h *Host) follow(events <-chan cluster.MemberEvent) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch ev.Kind {
			case cluster.MemberUnreachable, cluster.Removed, cluster.Left:
				h.dropClient(ev.Member.ID, "member "+ev.Kind.String())
			}
			h.notifyRuns()
		case <-t.C:
			h.sweep()
			h.notifyRuns()
		case <-h.ctx.Done():
			return
		}
	}
}

// sweep closes the streams to members not Up in the view.
func (h *Host) sweep() {
	up := map[string]bool{}
	for _, m := range h.ms.View().Members {
		if m.Status == cluster.Up {
			up[m.ID] = true
		}
	}
	h.mu.Lock()
	var gone []string
	for id := range h.clients {
		if !up[id] {
			gone = append(gone, id)
		}
	}
	h.mu.Unlock()
	for _, id := range gone {
		h.dropClient(id, "member not up in the view")
	}
}

func (h *Host) dropClient(id, why string) {
	h.mu.Lock()
	c := h.clients[id]
	delete(h.clients, id)
	h.mu.Unlock()
	if c != nil {
		c.close(why)
	}
}

// client returns the outbound stream holder for member id.
func (h *Host) client(id string) (*client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	c := h.clients[id]
	if c == nil {
		c = &client{h: h, peer: id}
		h.clients[id] = c
	}
	return c, nil
}

func (h *Host) notifyRuns() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, rs := range h.runs {
		if rs.viewPending.CompareAndSwap(false, true) {
			rs.inbox.post(event{kind: evView})
		}
	}
}

// openRun registers a new run; ErrClosed when the host is stopped or not
// started.
func (h *Host) openRun(ctx context.Context) (*runState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("%w: the host is stopped", ErrClosed)
	}
	if !h.started {
		return nil, fmt.Errorf("%w: the host is not started", ErrClosed)
	}
	rs := &runState{id: h.nextRun.Add(1), inbox: newInbox()}
	rs.ctx, rs.cancel = context.WithCancelCause(ctx)
	h.runs[rs.id] = rs
	return rs, nil
}

func (h *Host) closeRun(rs *runState) {
	rs.cancel(context.Canceled)
	h.mu.Lock()
	delete(h.runs, rs.id)
	h.mu.Unlock()
}

// runState is the part of a run the host and the streams see: its id,
// its inbox of events and its cancellation.
type runState struct {
	id          uint64
	inbox       *inbox
	ctx         context.Context
	cancel      context.CancelCauseFunc
	viewPending atomic.Bool
}

type evKind uint8

const (
	evConnected evKind = iota + 1 // a stream to member is open (cc)
	evRefused                     // member will not run the run's tasks (err)
	evOpened                      // member accepted the run (workers)
	evLost                        // member's stream broke (err)
	evResult                      // a task's result
	evView                        // the view changed
)

// event is what the streams, the local workers and the host tell a run.
type event struct {
	kind    evKind
	member  string
	cc      *cconn
	workers int
	err     error
	// A result: index, then output (from another member) or value (from
	// this member), or failure (failed, the handler's error text).
	index  int
	output []byte
	value  any
	local  bool // value holds the output (this member ran the task)
	failed bool
	text   string
	codec  bool // the failure is this member's codec's (ErrCodec)
}

// inbox is a run's unbounded event queue: posting never blocks (the
// streams' readers and the host post into it).
type inbox struct {
	mu     sync.Mutex
	evs    []event
	signal chan struct{}
}

func newInbox() *inbox { return &inbox{signal: make(chan struct{}, 1)} }

func (b *inbox) post(ev event) {
	b.mu.Lock()
	b.evs = append(b.evs, ev)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *inbox) drain() []event {
	b.mu.Lock()
	defer b.mu.Unlock()
	evs := b.evs
	b.evs = nil
	return evs
}
