package grain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/internal/protos"
	"github.com/foundation-go/foundation/internal/telctx"
)

// Ref is a typed reference to the grain (kind, identity); R is the reply
// type of its calls. A Ref is a small value: make one per call or keep it.
type Ref[R any] struct {
	h  *Host
	k  *kindState
	id string
	// err: the kind is not declared (reported by every call).
	err error
}

// Get returns a reference to (kind, identity). An undeclared kind or an
// empty identity makes every call of the Ref fail (ErrUnknownKind,
// ErrInvalid).
func Get[R any](h *Host, kind, identity string) Ref[R] {
	r := Ref[R]{h: h, id: identity}
	switch {
	case h == nil:
		r.err = fmt.Errorf("%w: nil Host", ErrInvalid)
	case identity == "":
		r.err = fmt.Errorf("%w: empty identity for kind %q", ErrInvalid, kind)
	default:
		if r.k = h.kinds[kind]; r.k == nil {
			r.err = fmt.Errorf("%w: %q is not declared on this member (Config.Kinds)", ErrUnknownKind, kind)
		}
	}
	return r
}

// Kind is the reference's kind.
func (r Ref[R]) Kind() string {
	if r.k == nil {
		return ""
	}
	return r.k.def.Name
}

// Identity is the reference's identity.
func (r Ref[R]) Identity() string { return r.id }

// Call sends req to the grain and returns its reply, activating the grain
// where its placement says. It retries across topology changes until ctx
// (or Config.CallTimeout when ctx has no deadline) ends. Messages and
// replies that cross members must be protobuf messages. Headers attached
// to ctx with actor.WithHeaders reach the grain (Context.Header), on this
// member or another. When ctx's deadline passes the error is ErrTimeout
// (and context.DeadlineExceeded); when ctx is canceled it matches
// context.Canceled, never ErrTimeout.
func (r Ref[R]) Call(ctx context.Context, req any) (R, error) {
	var zero R
	if r.err != nil {
		return zero, r.err
	}
	v, err := r.h.call(ctx, r.k, r.id, req)
	if err != nil {
		return zero, err
	}
	if v == nil {
		return zero, nil
	}
	out, ok := v.(R)
	if !ok {
		return zero, fmt.Errorf("%w: %s/%s replied %T, want %T", ErrBadReply, r.k.def.Name, r.id, v, zero)
	}
	return out, nil
}

// Tell sends msg to the grain without waiting for it to be handled, at
// most once (a member that fails with it loses it). It returns an error
// only when msg cannot be sent at all (undeclared kind, no member for the
// kind, a message that cannot be serialized). ctx carries headers
// (actor.WithHeaders) to the grain's Context.Header; Tell does not wait on
// it.
func (r Ref[R]) Tell(ctx context.Context, msg any) error {
	if r.err != nil {
		return r.err
	}
	return r.h.tell(ctx, r.k, r.id, msg, false)
}

// Broadcast sends msg to every activation of a Replicated grain's identity
// (one per member hosting the kind); for other placements it is Tell.
func (r Ref[R]) Broadcast(ctx context.Context, msg any) error {
	if r.err != nil {
		return r.err
	}
	return r.h.tell(ctx, r.k, r.id, msg, r.k.def.Placement == Replicated)
}

// Where returns the member id that holds (or would hold) the grain now, for
// diagnostics; sticky placements answer from this member's cache only.
func (r Ref[R]) Where() string {
	if r.err != nil {
		return ""
	}
	v := r.h.view.Load()
	if r.k.def.Placement.sticky() {
		r.k.mu.Lock()
		defer r.k.mu.Unlock()
		return r.k.locs[r.id]
	}
	if n := v.place(r.k.def.Placement, r.k.def.Name, r.id); n != nil {
		return n.id
	}
	return ""
}

func (h *Host) call(ctx context.Context, k *kindState, id string, req any) (any, error) {
	if o := h.cfg.Observer; o != nil {
		start := time.Now()
		ctx, tok := o.CallStart(ctx, k.def.Name, id, req)
		v, err := h.callRetrying(ctx, k, id, req)
		o.CallDone(tok, k.def.Name, time.Since(start), err)
		return v, err
	}
	return h.callRetrying(ctx, k, id, req)
}

func (h *Host) callRetrying(ctx context.Context, k *kindState, id string, req any) (any, error) {
	if err := actor.CheckHeaders(actor.HeadersFrom(ctx)); err != nil {
		return nil, fmt.Errorf("%w: %s/%s: %w", ErrInvalid, k.def.Name, id, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.CallTimeout)
		defer cancel()
	}
	backoff := h.cfg.RetryMin
	var stale string
	for {
		if h.closing.Load() {
			return nil, ErrStopped
		}
		v, err := h.attempt(ctx, k, id, req, &stale)
		if err == nil || !isRetry(err) {
			return v, callErr(ctx, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctxDone(ctx, k, id, err)
		}
		if backoff *= 2; backoff > h.cfg.RetryMax {
			backoff = h.cfg.RetryMax
		}
	}
}

// ctxDone is the error of a call whose ctx ended while it waited to retry
// after last: ErrTimeout for a deadline, context.Canceled (never ErrTimeout)
// for a cancellation.
func ctxDone(ctx context.Context, k *kindState, id string, last error) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s/%s: %w (last: %v)", ErrTimeout, k.def.Name, id, err, last)
	}
	return fmt.Errorf("grain: call to %s/%s canceled: %w (last: %v)", k.def.Name, id, err, last)
}

func callErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, actor.ErrTimeout)) && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// attempt routes one try of a call.
func (h *Host) attempt(ctx context.Context, k *kindState, id string, req any, stale *string) (any, error) {
	v := h.view.Load()
	p := k.def.Placement
	if p.sticky() {
		loc, err := h.locate(ctx, v, k, id, *stale)
		if err != nil {
			return nil, err
		}
		var out any
		if loc == h.self {
			out, err = h.localCall(ctx, k, id, req, false, false)
		} else {
			out, err = h.remoteCall(ctx, v.nodes[loc], k, id, req)
		}
		if errors.Is(err, errNotHere) {
			k.mu.Lock()
			if k.locs[id] == loc {
				delete(k.locs, id)
			}
			k.mu.Unlock()
			*stale = loc
			return nil, retry("no activation at " + loc)
		}
		return out, err
	}
	n := v.place(p, k.def.Name, id)
	if n == nil {
		return nil, h.noMember(v, k)
	}
	if n.id == h.self {
		return h.localCall(ctx, k, id, req, true, p.exclusive())
	}
	return h.remoteCall(ctx, n, k, id, req)
}

func (h *Host) noMember(v *view, k *kindState) error {
	if k.def.Placement == Local {
		return fmt.Errorf("%w: %q is Local and this member does not host it", ErrNoMemberForKind, k.def.Name)
	}
	return fmt.Errorf("%w: %q (placement %v) among %d members", ErrNoMemberForKind, k.def.Name, k.def.Placement, len(v.nodes))
}

// localCall calls the local activation of (k, id).
func (h *Host) localCall(ctx context.Context, k *kindState, id string, req any, create, claim bool) (any, error) {
	if !k.hosted {
		return nil, fmt.Errorf("%w: %q is not hosted on member %s", ErrUnknownKind, k.def.Name, h.self)
	}
	if h.cfg.SerializeMessages {
		var err error
		if req, err = roundTrip(req); err != nil {
			return nil, err
		}
	}
	pid, err := h.localPID(ctx, k, id, create, claim)
	if err != nil {
		return nil, err
	}
	if h.cfg.Observer != nil {
		// The grain call is traced already: the actor Call to the
		// activation carries its trace context on, with no span of its own.
		ctx = telctx.Quiet(ctx)
	}
	out, err := actor.Call[any](ctx, h.sys, pid, req)
	var pe *actor.PanicError
	switch {
	case err == nil:
		if h.cfg.SerializeMessages {
			return roundTrip(out)
		}
		return out, nil
	case errors.As(err, &pe):
		return nil, fmt.Errorf("%w: %s/%s: %v", ErrActivationCrashed, k.def.Name, id, pe)
	case errors.Is(err, actor.ErrExited):
		return nil, fmt.Errorf("%w: %s/%s: %w", ErrOutcomeUnknown, k.def.Name, id, err)
	case errors.Is(err, actor.ErrNoProcess):
		// Passivated or moved between the lookup and the call: the request
		// was not handled.
		return nil, retry("activation of " + k.def.Name + "/" + id + " ended")
	case errors.Is(err, actor.ErrStopped):
		return nil, ErrStopped
	case errors.Is(err, actor.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return nil, fmt.Errorf("%w: %s/%s: the request was queued: %w", ErrOutcomeUnknown, k.def.Name, id, err)
	}
	return out, err
}

// roundTrip passes msg through protobuf serialization, as crossing members
// would (Config.SerializeMessages).
func roundTrip(msg any) (any, error) {
	if t, ok := msg.(tell); ok {
		m, err := roundTrip(t.msg)
		return tell{m}, err
	}
	if msg == nil {
		return nil, nil
	}
	var f protos.GrainFrame
	if err := putPayload(&f, msg); err != nil {
		return nil, err
	}
	return getPayload(&f)
}

// remoteCall sends a REQUEST to member n.
func (h *Host) remoteCall(ctx context.Context, n *node, k *kindState, id string, req any) (any, error) {
	if n == nil {
		return nil, retry("member left the view")
	}
	f := &protos.GrainFrame{Type: protos.GrainFrame_REQUEST, Kind: k.def.Name, Identity: id}
	if hd := actor.HeadersFrom(ctx); len(hd) > 0 {
		if err := actor.CheckHeaders(hd); err != nil {
			return nil, fmt.Errorf("%w: %s/%s: %w", ErrInvalid, k.def.Name, id, err)
		}
		f.Headers = hd
	}
	if err := putPayload(f, req); err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		f.TimeoutMicros = time.Until(dl).Microseconds()
	}
	f.Down = h.goneList()
	r, err := h.requestPeer(ctx, n, f)
	if err != nil {
		return nil, err
	}
	return h.answer(r, k, id, n.id)
}

// answer turns a RESPONSE into a reply or an error.
func (h *Host) answer(r *protos.GrainFrame, k *kindState, id, from string) (any, error) {
	switch r.Status {
	case protos.GrainFrame_OK:
		return getPayload(r)
	case protos.GrainFrame_ERROR:
		return nil, fmt.Errorf("%w: %s/%s on %s: %s", ErrRemote, k.def.Name, id, from, r.Error)
	case protos.GrainFrame_NOT_HERE:
		return nil, errNotHere
	case protos.GrainFrame_UNKNOWN_KIND:
		return nil, fmt.Errorf("%w: member %s does not host %q", ErrUnknownKind, from, k.def.Name)
	case protos.GrainFrame_ACTIVATION_FAILED:
		return nil, &activationError{kind: k.def.Name, id: id, err: errors.New(r.Error)}
	case protos.GrainFrame_BAD_MESSAGE:
		return nil, fmt.Errorf("%w: member %s: %s", ErrNotSerializable, from, r.Error)
	case protos.GrainFrame_STOPPING:
		return nil, retry("member " + from + " is stopping")
	case protos.GrainFrame_CRASHED:
		return nil, fmt.Errorf("%w: %s/%s on %s: %s", ErrActivationCrashed, k.def.Name, id, from, r.Error)
	case protos.GrainFrame_TIMED_OUT:
		// The caller's deadline, sent with the request, passed on the
		// receiver while the activation held it.
		return nil, fmt.Errorf("%w: %w: %s/%s on %s: %w (%s)", ErrTimeout, ErrOutcomeUnknown, k.def.Name, id, from, context.DeadlineExceeded, r.Error)
	case protos.GrainFrame_STALE:
		return nil, retry(fmt.Sprintf("%s/%s: member %s has another view", k.def.Name, id, from))
	}
	return nil, retry(fmt.Sprintf("%s/%s: member %s answered %v", k.def.Name, id, from, r.Status))
}

// requestPeer sends a request frame to n and waits for its RESPONSE.
func (h *Host) requestPeer(ctx context.Context, n *node, f *protos.GrainFrame) (*protos.GrainFrame, error) {
	c, err := h.peerConn(ctx, n)
	if err != nil {
		return nil, err
	}
	r, err := c.request(ctx, f)
	if err != nil && (isRetry(err) || errors.Is(err, ErrOutcomeUnknown)) {
		// The connection dropped: if the member's port now refuses, it is
		// gone; the next dial finds out.
		h.forgetConn(n.id, c)
	}
	return r, err
}

func (h *Host) forgetConn(id string, c *conn) {
	h.peersMu.Lock()
	if h.peers[id] == c {
		delete(h.peers, id)
	}
	h.peersMu.Unlock()
}

// goneList returns the members this host found gone recently (their
// cluster port refused it), for peers to check.
func (h *Host) goneList() []string {
	h.topoMu.Lock()
	defer h.topoMu.Unlock()
	if len(h.gone) == 0 {
		return nil
	}
	out := make([]string, 0, len(h.gone))
	for id := range h.gone {
		out = append(out, id)
	}
	return out
}

// tell delivers msg to (k, id): on every host of the kind for a broadcast.
func (h *Host) tell(ctx context.Context, k *kindState, id string, msg any, broadcast bool) error {
	hdr := actor.HeadersFrom(ctx)
	if h.closing.Load() {
		return ErrStopped
	}
	if err := actor.CheckHeaders(hdr); err != nil {
		return fmt.Errorf("%w: %s/%s: %w", ErrInvalid, k.def.Name, id, err)
	}
	if h.cfg.SerializeMessages {
		var err error
		if msg, err = roundTrip(msg); err != nil {
			return err
		}
	}
	v := h.view.Load()
	var targets []*node
	if broadcast {
		targets = v.hosts[k.def.Name]
	} else if !k.def.Placement.sticky() {
		if n := v.place(k.def.Placement, k.def.Name, id); n != nil {
			targets = []*node{n}
		}
	}
	if k.def.Placement.sticky() && !broadcast {
		// The location needs the directory: deliver as a call whose reply
		// is dropped, in the background.
		if !h.spawnTracked(func() {
			ctx, cancel := context.WithTimeout(h.ctx, h.cfg.CallTimeout)
			defer cancel()
			if len(hdr) > 0 {
				ctx = actor.WithHeaders(ctx, hdr)
			}
			if _, err := h.call(ctx, k, id, tell{msg}); err != nil {
				h.log.Warn("grain tell failed", zapKind(k.def.Name, id), zapErr(err))
			}
		}) {
			return ErrStopped
		}
		return nil
	}
	if len(targets) == 0 {
		return h.noMember(v, k)
	}
	var f *protos.GrainFrame
	for _, n := range targets {
		if n.id == h.self {
			h.localTell(k, id, msg, hdr)
			continue
		}
		if f == nil {
			f = &protos.GrainFrame{Type: protos.GrainFrame_TELL, Kind: k.def.Name, Identity: id, Headers: hdr}
			if err := putPayload(f, msg); err != nil {
				return err
			}
		}
		n := n
		if !h.spawnTracked(func() {
			ctx, cancel := context.WithTimeout(h.ctx, h.cfg.CallTimeout)
			defer cancel()
			c, err := h.peerConn(ctx, n)
			if err == nil {
				err = c.write(f, time.Time{})
			}
			if err != nil {
				h.log.Warn("grain tell failed", zapKind(k.def.Name, id), zap.String("peer", n.id), zapErr(err))
			}
		}) {
			return ErrStopped
		}
	}
	return nil
}

// localTell casts msg to the local activation, activating it in the
// background when needed.
func (h *Host) localTell(k *kindState, id string, msg any, hdr actor.Headers) {
	if !k.hosted {
		return
	}
	// An activation's pid and stopping are written under k.mu (activation,
	// deactivateAll): read them there too.
	k.mu.Lock()
	var pid *actor.PID
	if a := k.acts[id]; a != nil && !a.stopping {
		pid = a.pid
	}
	k.mu.Unlock()
	if pid != nil {
		h.sys.TellWithHeaders(pid, tell{msg}, hdr)
		return
	}
	h.spawnTracked(func() {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.CallTimeout)
		defer cancel()
		pid, err := h.localPID(ctx, k, id, true, k.def.Placement.exclusive())
		if err != nil {
			h.log.Warn("grain tell: activation failed", zapKind(k.def.Name, id), zapErr(err))
			return
		}
		h.sys.TellWithHeaders(pid, tell{msg}, hdr)
	})
}

func putPayload(f *protos.GrainFrame, msg any) error {
	if msg == nil {
		return nil
	}
	if t, ok := msg.(tell); ok {
		msg = t.msg
	}
	m, ok := msg.(proto.Message)
	if !ok {
		return fmt.Errorf("%w: %T cannot cross members", ErrNotSerializable, msg)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("%w: %T: %v", ErrNotSerializable, msg, err)
	}
	f.TypeName = string(m.ProtoReflect().Descriptor().FullName())
	f.Payload = b
	return nil
}

func getPayload(f *protos.GrainFrame) (any, error) {
	if f.TypeName == "" {
		return nil, nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(f.TypeName))
	if err != nil {
		return nil, fmt.Errorf("%w: unknown message type %q", ErrNotSerializable, f.TypeName)
	}
	m := mt.New().Interface()
	if err := proto.Unmarshal(f.Payload, m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotSerializable, f.TypeName, err)
	}
	return m, nil
}
