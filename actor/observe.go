package actor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Observer watches a System's messages for telemetry: package telemetry
// implements it to trace calls across processes and members and to count
// messages. Install it with WithObserver; a System without one pays a nil
// check per message and per call, nothing more.
//
// The System calls it on the goroutines named below, synchronously: every
// method must return quickly and must not block or call back into the
// System. Tokens are the Observer's own values, handed back unchanged.
type Observer interface {
	// Send is called by Call, CallAny and Send on the sender's
	// goroutine before the message leaves, with the headers its ctx carries
	// (nil when none). It returns the headers to send — h itself, or a new
	// map: it must not modify h — and, for a call, a token for Replied.
	Send(ctx context.Context, target *PID, msg any, call bool, h Headers) (Headers, any)
	// Replied is called when a Call that Send saw returns, on the caller's
	// goroutine, with the Call's error (nil on success). The System does
	// not time calls (a clock read costs as much as a tenth of a local
	// Call on some machines): an Observer that wants the duration reads
	// the clock in Send and keeps it in the token.
	Replied(token any, target *PID, msg any, err error)
	// Receive is called on a process's goroutine before its behaviour
	// handles a user message that carries headers. kind is the process's
	// kind (see KindOf), b its behaviour (a Server or an Actor). It returns
	// the context the handler sees through ContextOf (nil: one that carries
	// h) and a token for Received.
	Receive(self *PID, kind string, b any, msg any, h Headers) (context.Context, any)
	// Received is called on the same goroutine once the handler returned.
	Received(token any)
}

// ErrorObserver is an Observer that also learns when a handler failed:
// when the handler of a message Receive saw answered a Call with an error
// (a Server's HandleCall; a grain's Receive, which its activation returns)
// or crashed, the System calls ReceivedError with that error instead of
// Received, on the same goroutine.
type ErrorObserver interface {
	Observer
	ReceivedError(token any, err error)
}

// WithObserver installs o (see Observer). It also turns on the per-kind
// message counts (System.Kinds) and process kinds (System.Processes).
// Default: none.
func WithObserver(o Observer) Option {
	return optionFunc(func(opts *options) error { opts.observer = o; return nil })
}

// KindNamer is implemented by behaviours that name their kind for
// telemetry: a process's kind is Kind() when its behaviour implements it,
// else the behaviour's Go type ("*main.Counter"). Grain activations are
// "grain:<kind>", supervisors "supervisor". Kinds label metrics, so a kind
// must come from a small fixed set, never from data.
type KindNamer interface {
	ActorKind() string
}

// KindOf returns the kind of behaviour b (see KindNamer).
func KindOf(b any) string {
	if k, ok := b.(KindNamer); ok {
		return k.ActorKind()
	}
	if b == nil {
		return ""
	}
	return reflect.TypeOf(b).String()
}

// MaxHeaderBytes bounds the headers of one message: the sum of the lengths
// of their keys and values. Context values (foundation.WithContext), the
// W3C trace context and baggage all travel as headers; a Call, Send
// or grain call whose headers exceed the bound is refused with
// ErrHeadersTooLarge before anything is sent.
const MaxHeaderBytes = 16 << 10

// ErrHeadersTooLarge: a message's headers exceed MaxHeaderBytes.
var ErrHeadersTooLarge = errors.New("actor: message headers too large")

// CheckHeaders returns ErrHeadersTooLarge (with the size) when h exceeds
// MaxHeaderBytes.
func CheckHeaders(h Headers) error {
	if len(h) == 0 {
		return nil
	}
	n := 0
	for k, v := range h {
		n += len(k) + len(v)
	}
	if n > MaxHeaderBytes {
		return fmt.Errorf("%w: %d bytes in %d headers, at most %d (actor.MaxHeaderBytes): keep context values small, carry data in the message", ErrHeadersTooLarge, n, len(h), MaxHeaderBytes)
	}
	return nil
}

// contexter is implemented by Processes that know the context of the
// message being handled (the runtime's, and actortest's).
type contexter interface {
	MessageContext() context.Context
}

// ContextOf returns the context of the message p is handling: it carries
// the message's headers (HeadersFrom: the caller's context values and trace
// context) and what the System's Observer attached (the handler's span).
// Pass it to the Calls and grain calls the handler makes, and they carry
// the same context on. Without headers it is context.Background(). It
// never ends: bound the calls made with it (context.WithTimeout).
func ContextOf(p Process) context.Context {
	if c, ok := p.(contexter); ok {
		if ctx := c.MessageContext(); ctx != nil {
			return ctx
		}
	}
	return context.Background()
}

// MessageContext implements ContextOf for the runtime's processes.
func (p *process) MessageContext() context.Context {
	x := p.ext()
	if x.mctx != nil {
		return x.mctx
	}
	if x.ctx == nil {
		return nil
	}
	h := x.ctx.MessageHeader()
	if h == nil || h.Length() == 0 {
		return nil
	}
	x.mctx = context.WithValue(context.Background(), headersKey{}, Headers(h.ToMap()))
	return x.mctx
}

// receiveObserved handles a user message that carries headers when an
// Observer is installed: the Observer's span wraps the handler.
func (p *process) receiveObserved(o Observer, c actor.Context, m any, h actor.ReadonlyMessageHeader) {
	x := p.ext()
	x.ctx = c
	var b any = p.b
	if x.srv != nil {
		b = x.srv
	}
	kind := ""
	if x.kind != nil {
		kind = x.kind.name
	}
	ctx, tok := o.Receive(c.Self(), kind, b, m, Headers(h.ToMap()))
	x.mctx, x.herr = ctx, nil
	defer func() {
		err := x.herr
		x.mctx, x.herr = nil, nil
		if eo, ok := o.(ErrorObserver); ok && err != nil {
			eo.ReceivedError(tok, err)
			return
		}
		o.Received(tok)
	}()
	if p.x.exiting {
		p.refuse(c)
		return
	}
	p.handle(c, m)
	p.afterHandler()
}

// kindStats counts the messages of one kind of process.
type kindStats struct {
	name     string
	messages atomic.Uint64 // user messages handled
	calls    atomic.Uint64 // calls handled by Servers
}

// kinds maps behaviour types to their counters; used only with an Observer.
type kinds struct {
	m sync.Map // reflect.Type or KindNamer name -> *kindStats
}

func (k *kinds) of(b any) *kindStats {
	var key any = reflect.TypeOf(b)
	if n, ok := b.(KindNamer); ok {
		key = "name:" + n.ActorKind()
	}
	if v, ok := k.m.Load(key); ok {
		return v.(*kindStats)
	}
	v, _ := k.m.LoadOrStore(key, &kindStats{name: KindOf(b)})
	return v.(*kindStats)
}

// KindStats is what a System counted for one kind of process.
type KindStats struct {
	// Kind is the kind (see KindOf).
	Kind string
	// Messages is how many user messages processes of the kind handled.
	Messages uint64
	// Calls is how many Calls Servers of the kind handled.
	Calls uint64
	// Processes is how many live processes of the kind there are, and
	// MailboxDepth how many messages wait in their mailboxes (summed), with
	// MaxMailbox the largest mailbox among them.
	Processes, MailboxDepth, MaxMailbox int
}

// Kinds returns the counts per kind of process since the System started,
// with the live processes and mailbox depths of each kind: a walk over
// every local process, for a metrics scrape or a dashboard, not for a hot
// path. It is empty without an Observer (WithObserver).
func (s *System) Kinds() []KindStats {
	if s.opts.observer == nil || s.state.Load() != stateRunning {
		return nil
	}
	byName := map[string]*KindStats{}
	var order []string
	get := func(name string) *KindStats {
		ks := byName[name]
		if ks == nil {
			ks = &KindStats{Kind: name}
			byName[name] = ks
			order = append(order, name)
		}
		return ks
	}
	s.kinds.m.Range(func(_, v any) bool {
		k := v.(*kindStats)
		ks := get(k.name)
		ks.Messages += k.messages.Load()
		ks.Calls += k.calls.Load()
		return true
	})
	for _, pi := range s.Processes() {
		if pi.Kind == "" {
			continue
		}
		ks := get(pi.Kind)
		ks.Processes++
		ks.MailboxDepth += pi.Mailbox
		ks.MaxMailbox = max(ks.MaxMailbox, pi.Mailbox)
	}
	out := make([]KindStats, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out
}

// ProcessInfo describes one local process (System.Processes).
type ProcessInfo struct {
	// PID is the process.
	PID *PID
	// Kind is its kind (see KindOf); "" without an Observer.
	Kind string
	// Parent is the id of the process that spawned it ("" for a top-level
	// process): children's ids extend their parent's ("parent/child").
	Parent string
	// Mailbox is how many messages wait in its mailbox (see MailboxLen).
	Mailbox int
	// Names are the names it is registered under.
	Names []string
}

// Processes lists the live Foundation processes of this System, as
// Erlang's observer does: kind, parent, mailbox depth and names. It walks
// every process; it is for inspection, not for a hot path.
func (s *System) Processes() []ProcessInfo {
	if s.state.Load() != stateRunning {
		return nil
	}
	if !mailboxFieldOK {
		return nil
	}
	var out []ProcessInfo
	// The registry is 1024 concurrent maps: IterCb reads each under its
	// shard locks with no copies and no goroutines (Items would start one
	// per shard, 32 768 in all).
	for _, bucket := range s.as.ProcessRegistry.LocalPIDs.LocalPIDs {
		bucket.IterCb(func(id string, item any) {
			ap, ok := item.(*actor.ActorProcess)
			if !ok {
				return
			}
			mb := mailboxOf(ap)
			fm := foundationMailbox(mb)
			if fm == nil {
				return // engine infrastructure
			}
			pi := ProcessInfo{PID: s.as.NewLocalPID(id), Mailbox: mb.UserMessageCount(), Kind: fm.kindName()}
			if i := strings.LastIndexByte(id, '/'); i > 0 {
				pi.Parent = id[:i]
			}
			out = append(out, pi)
		})
	}
	// Names are looked up outside the registry's locks.
	for i := range out {
		pi := &out[i]
		s.table.peek(pi.PID, func(e *entry) { pi.Names = append([]string(nil), e.names...) })
	}
	return out
}

// foundationMailbox returns the Foundation mailbox behind mb, or nil for an
// engine mailbox.
func foundationMailbox(mb actor.Mailbox) *mailbox {
	switch m := mb.(type) {
	case *mailbox:
		return m
	case *serverMailbox:
		fm, _ := m.Mailbox.(*mailbox)
		return fm
	}
	return nil
}
