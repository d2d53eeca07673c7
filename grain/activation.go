package grain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/protos"
)

// deactivate asks an activation to end (moved, host stopping, released).
type deactivate struct{ reason string }

// tell wraps a Tell'd message so that the activation knows to drop the
// reply.
type tell struct{ msg any }

// activation is the actor.Server behind one activation.
type activation struct {
	actor.ServerBase
	h      *Host
	k      *kindState
	id     string
	a      *act
	g      Grain
	gctx   *Context
	cancel context.CancelFunc
	born   time.Time
	why    string // why it ended, for the Observer
}

// ActorKind names the activation's kind for telemetry: "grain:<kind>".
func (x *activation) ActorKind() string { return "grain:" + x.k.def.Name }

// GrainIdentity is the activation's kind and identity, for telemetry.
func (x *activation) GrainIdentity() (kind, identity string) { return x.k.def.Name, x.id }

func (x *activation) Init(p actor.Process) error {
	ctx, cancel := context.WithCancel(x.h.ctx)
	x.cancel = cancel
	x.born = time.Now()
	x.gctx = &Context{Context: ctx, kind: x.k.def.Name, identity: x.id, member: x.h.self, host: x.h,
		log: x.h.log.With(zap.String("kind", x.k.def.Name), zap.String("identity", x.id))}
	x.g = x.k.def.New(x.id)
	if x.g == nil {
		cancel()
		return fmt.Errorf("kind %q: New returned nil", x.k.def.Name)
	}
	if a, ok := x.g.(Activator); ok {
		if err := a.OnActivate(x.gctx); err != nil {
			cancel()
			return err
		}
	}
	return nil
}

func (x *activation) HandleCall(p actor.Process, req any) (any, error) {
	x.gctx.proc = p
	base := x.gctx.Context
	if mctx := actor.ContextOf(p); mctx != context.Background() {
		// Receive sees the call's context values and trace span, so that
		// the calls it makes with its ctx carry them on.
		x.gctx.Context = callContext{Context: base, vals: mctx}
	}
	defer func() { x.gctx.proc, x.gctx.Context = nil, base }()
	if t, ok := req.(tell); ok { // a sticky kind's Tell, routed as a call
		x.gctx.tell = true
		defer func() { x.gctx.tell = false }()
		_, err := x.g.Receive(x.gctx, t.msg)
		return nil, err
	}
	return x.g.Receive(x.gctx, req)
}

func (x *activation) HandleCast(p actor.Process, msg any) {
	switch m := msg.(type) {
	case deactivate:
		x.why = m.reason
		x.h.markStopping(x.k, x.a)
		p.Stop(actor.Normal)
	case tell:
		x.gctx.proc, x.gctx.tell = p, true
		defer func() { x.gctx.proc, x.gctx.tell = nil, false }()
		if _, err := x.g.Receive(x.gctx, m.msg); err != nil {
			x.gctx.log.Warn("grain message failed", zap.Error(err))
		}
	}
}

func (x *activation) HandleInfo(p actor.Process, msg any) {
	if _, ok := msg.(actor.Timeout); ok {
		x.why = "idle"
		x.h.markStopping(x.k, x.a)
		p.Stop(actor.Normal)
	}
}

func (x *activation) Terminate(_ actor.Process, _ actor.Reason) {
	if d, ok := x.g.(Deactivator); ok {
		func() {
			defer func() {
				if r := recover(); r != nil {
					x.gctx.log.Error("OnDeactivate panicked", zap.Any("panic", r))
				}
			}()
			d.OnDeactivate(x.gctx)
		}()
	}
	x.cancel()
	x.h.ended(x.k, x.id, x.a)
	if o := x.h.cfg.Observer; o != nil {
		why := x.why
		if why == "" {
			why = "stopped"
		}
		o.Deactivated(x.k.def.Name, x.id, why, time.Since(x.born))
	}
}

func (h *Host) markStopping(k *kindState, a *act) {
	k.mu.Lock()
	a.stopping = true
	k.mu.Unlock()
}

// ended removes a finished activation and tells a sticky kind's owner.
func (h *Host) ended(k *kindState, id string, a *act) {
	k.mu.Lock()
	if k.acts[id] == a {
		delete(k.acts, id)
	}
	k.mu.Unlock()
	h.load.Add(-1)
	close(a.gone)
	if k.def.Placement.sticky() && h.ctx.Err() == nil {
		h.spawnTracked(func() { h.tellOwnerDeactivated(k, id) })
	}
}

// errNotHere: a sticky kind's identity has no activation here and this
// member may not create one without its owner.
var errNotHere = errors.New("grain: not here")

// localPID returns the local activation of (k, id), activating it when
// create is set. claim makes a new activation of an exclusive kind claim
// the identity from every other host first.
func (h *Host) localPID(ctx context.Context, k *kindState, id string, create, claim bool) (*actor.PID, error) {
	for {
		k.mu.Lock()
		a := k.acts[id]
		if a != nil && a.pid != nil && !a.stopping {
			k.mu.Unlock()
			return a.pid, nil
		}
		if a != nil {
			wait := a.gone
			if a.pid == nil {
				wait = a.ready
			}
			k.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if !create {
			k.mu.Unlock()
			return nil, errNotHere
		}
		if h.closing.Load() {
			k.mu.Unlock()
			return nil, retry("member " + h.self + " is stopping")
		}
		a = &act{ready: make(chan struct{}), gone: make(chan struct{})}
		k.acts[id] = a
		k.mu.Unlock()
		pid, err := h.activate(ctx, k, id, a, claim)
		k.mu.Lock()
		if err != nil {
			if k.acts[id] == a {
				delete(k.acts, id)
			}
			a.err = err
			close(a.ready)
			close(a.gone)
			k.mu.Unlock()
			return nil, err
		}
		a.pid = pid
		close(a.ready)
		k.mu.Unlock()
		if h.closing.Load() {
			h.markStopping(k, a)
			h.sys.Tell(pid, deactivate{reason: "host stopping"})
		}
		return pid, nil
	}
}

func (h *Host) activate(ctx context.Context, k *kindState, id string, a *act, claim bool) (*actor.PID, error) {
	if !mayActivate(h.view.Load(), k.def.Placement) {
		return nil, retry("member " + h.self + " does not serve exclusive grains now (joining, fenced or downed)")
	}
	if claim {
		if _, err := h.claim(ctx, k, id); err != nil {
			return nil, err
		}
	}
	x := &activation{h: h, k: k, id: id, a: a}
	var opts []actor.SpawnOption
	if k.def.IdleTimeout > 0 {
		opts = append(opts, actor.WithIdleTimeout(k.def.IdleTimeout))
	}
	h.load.Add(1)
	start := time.Now()
	pid, err := h.sys.Spawn(x, opts...)
	if o := h.cfg.Observer; o != nil {
		o.Activated(ctx, k.def.Name, id, start, err)
	}
	if err != nil {
		h.load.Add(-1)
		if errors.Is(err, actor.ErrStopped) {
			return nil, ErrStopped
		}
		cause := err
		if u := errors.Unwrap(err); u != nil && errors.Is(err, actor.ErrInitFailed) {
			cause = u
		}
		return nil, &activationError{kind: k.def.Name, id: id, err: cause}
	}
	return pid, nil
}

// activationError is ErrActivationFailed with OnActivate's error.
type activationError struct {
	kind, id string
	err      error
}

func (e *activationError) Error() string {
	return fmt.Sprintf("grain: activating %s/%s: %v", e.kind, e.id, e.err)
}

func (e *activationError) Is(target error) bool { return target == ErrActivationFailed }

func (e *activationError) Unwrap() error { return e.err }

// claimResult is what the other hosts said to a claim.
type claimResult struct {
	holder string           // a member that holds the identity (sticky kinds)
	load   map[string]int64 // live activations per member
}

// claim asks every other member that may hold (k, id) — Unreachable ones
// included — whether it does. Members of exclusive kinds release an
// activation their view no longer keeps (its OnDeactivate has finished when
// they answer); a member that still keeps it answers CONFLICT, and one whose
// view differs answers STALE: the claim then fails with a retry until the
// views agree. Only a member whose cluster port refuses connections (its
// process is gone) is skipped.
func (h *Host) claim(ctx context.Context, k *kindState, id string) (claimResult, error) {
	v := h.view.Load()
	res := claimResult{load: map[string]int64{h.self: h.load.Load()}}
	hosts := v.claimees[k.def.Name]
	type answer struct {
		n   *node
		f   *protos.GrainFrame
		err error
	}
	others := 0
	ch := make(chan answer, len(hosts))
	down := h.goneList()
	var unreachable string
	for _, n := range hosts {
		if n.id == h.self {
			continue
		}
		if !n.up {
			// It may still hold the identity and cannot say: the claim
			// waits until the membership removed it (it has fenced itself
			// by then).
			unreachable = n.id
			continue
		}
		others++
		n := n
		go func() {
			f, err := h.requestPeer(ctx, n, &protos.GrainFrame{Type: protos.GrainFrame_CLAIM, Kind: k.def.Name,
				Identity: id, View: v.id, Down: down})
			ch <- answer{n, f, err}
		}()
	}
	var first error
	if unreachable != "" {
		first = retry(fmt.Sprintf("claim of %s/%s: member %s is unreachable", k.def.Name, id, unreachable))
	}
	for i := 0; i < others; i++ {
		an := <-ch
		if an.err != nil {
			if errors.Is(an.err, cluster.ErrMemberGone) {
				continue // its process is gone: it holds nothing
			}
			if !isRetry(an.err) {
				an.err = retryErr("claim", an.err) // a claim may be repeated
			}
			if first == nil {
				first = an.err
			}
			continue
		}
		res.load[an.n.id] = an.f.Load
		switch an.f.Status {
		case protos.GrainFrame_NONE:
		case protos.GrainFrame_HAVE_IT:
			res.holder = an.n.id
		default:
			if first == nil {
				first = retry(fmt.Sprintf("claim of %s/%s: %s answered %v", k.def.Name, id, an.n.id, an.f.Status))
			}
		}
	}
	if first != nil && !isRetry(first) && ctx.Err() == nil {
		first = retryErr("claim", first)
	}
	return res, first
}

// onClaim answers another member's claim of (k, id), made with its view
// id senderView (see decideClaim).
func (h *Host) onClaim(ctx context.Context, k *kindState, id string, senderView uint64) *protos.GrainFrame {
	r := &protos.GrainFrame{Type: protos.GrainFrame_RESPONSE}
	v := h.view.Load()
	k.mu.Lock()
	a := k.acts[id]
	hold := a.holding()
	if a == nil {
		if e := k.dir[id]; e != nil && e.done != nil && !isClosed(e.done) {
			hold = holdsPlacing
		}
	}
	d := decideClaim(v, k.def.Placement, k.def.Name, id, hold, senderView)
	if !d.release && !d.waitGone {
		k.mu.Unlock()
		r.Status, r.Load = d.status, h.load.Load()
		return r
	}
	if d.release {
		a.stopping = true
		h.sys.Tell(a.pid, deactivate{reason: "claimed by another member"})
	}
	gone := a.gone
	k.mu.Unlock()
	select {
	case <-gone:
		r.Status, r.Load = protos.GrainFrame_NONE, h.load.Load()
	case <-ctx.Done():
		r.Status = protos.GrainFrame_CONFLICT
	}
	return r
}
