package grain

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/internal/protos"
)

// inbound handles one frame from a peer's connection. Anything that may
// wait (an activation, a claim) runs on a tracked goroutine so that the
// connection keeps reading.
func (h *Host) inbound(c *conn, f *protos.GrainFrame) {
	k := h.kinds[f.Kind]
	switch f.Type {
	case protos.GrainFrame_REQUEST, protos.GrainFrame_CLAIM, protos.GrainFrame_LOCATE, protos.GrainFrame_ACTIVATE:
		if !h.spawnTracked(func() {
			r := h.serve(k, f)
			r.Type, r.Id = protos.GrainFrame_RESPONSE, f.Id
			_ = c.write(r, time.Time{})
		}) {
			_ = c.write(&protos.GrainFrame{Type: protos.GrainFrame_RESPONSE, Id: f.Id, Status: protos.GrainFrame_STOPPING}, time.Time{})
		}
	case protos.GrainFrame_TELL:
		if k == nil || !k.hosted {
			return
		}
		msg, err := getPayload(f)
		if err != nil {
			h.log.Warn("grain tell dropped", zapKind(f.Kind, f.Identity), zapErr(err))
			return
		}
		h.localTell(k, f.Identity, msg, actor.Headers(f.Headers))
	case protos.GrainFrame_DEACTIVATED:
		if k != nil {
			k.mu.Lock()
			if e := k.dir[f.Identity]; e != nil && e.location == f.Member {
				delete(k.dir, f.Identity)
			}
			k.mu.Unlock()
		}
	}
}

// serve answers a request frame.
func (h *Host) serve(k *kindState, f *protos.GrainFrame) *protos.GrainFrame {
	r := &protos.GrainFrame{}
	if h.closing.Load() {
		r.Status = protos.GrainFrame_STOPPING
		return r
	}
	if k == nil || (!k.hosted && f.Type != protos.GrainFrame_LOCATE) {
		r.Status = protos.GrainFrame_UNKNOWN_KIND
		return r
	}
	timeout := h.cfg.CallTimeout
	if f.TimeoutMicros > 0 {
		timeout = time.Duration(f.TimeoutMicros) * time.Microsecond
	}
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	defer cancel()
	h.checkDown(ctx, f.Down)
	switch f.Type {
	case protos.GrainFrame_CLAIM:
		return h.onClaim(ctx, k, f.Identity, f.View)
	case protos.GrainFrame_LOCATE:
		if f.View != 0 && f.View != h.view.Load().id {
			r.Status = protos.GrainFrame_STALE
			return r
		}
		loc, err := h.locateHere(ctx, k, f.Identity, f.Member, f.Stale)
		if err != nil {
			return errFrame(err)
		}
		r.Member = loc
		return r
	case protos.GrainFrame_ACTIVATE:
		if _, err := h.localPID(ctx, k, f.Identity, true, false); err != nil {
			return errFrame(err)
		}
		return r
	}
	// REQUEST
	msg, err := getPayload(f)
	if err != nil {
		r.Status, r.Error = protos.GrainFrame_BAD_MESSAGE, err.Error()
		return r
	}
	p := k.def.Placement
	create, claim := true, p.exclusive()
	switch {
	case p.sticky():
		create = false
	case p.exclusive():
		if n := h.view.Load().place(p, k.def.Name, f.Identity); n == nil || n.id != h.self {
			r.Status = protos.GrainFrame_WRONG_MEMBER
			return r
		}
	}
	var cctx context.Context = ctx
	if len(f.Headers) > 0 {
		cctx = actor.WithHeaders(ctx, actor.Headers(f.Headers))
	}
	out, err := h.localCall(cctx, k, f.Identity, msg, create, claim)
	if err != nil {
		return errFrame(err)
	}
	if err := putPayload(r, out); err != nil {
		r.Status, r.Error = protos.GrainFrame_BAD_MESSAGE, err.Error()
	}
	return r
}

// errFrame turns a local error into a RESPONSE status.
func errFrame(err error) *protos.GrainFrame {
	r := &protos.GrainFrame{Error: err.Error()}
	switch {
	case errors.Is(err, errNotHere):
		r.Status = protos.GrainFrame_NOT_HERE
	case errors.Is(err, ErrActivationFailed):
		var ae *activationError
		if errors.As(err, &ae) {
			r.Error = ae.err.Error()
		}
		r.Status = protos.GrainFrame_ACTIVATION_FAILED
	case errors.Is(err, ErrStopped):
		r.Status = protos.GrainFrame_STOPPING
	case errors.Is(err, ErrActivationCrashed):
		r.Status = protos.GrainFrame_CRASHED
	case errors.Is(err, ErrUnknownKind):
		r.Status = protos.GrainFrame_UNKNOWN_KIND
	case errors.Is(err, ErrOutcomeUnknown):
		// The request was handed to the activation and its deadline
		// passed: the caller's deadline has passed too.
		r.Status = protos.GrainFrame_TIMED_OUT
	case errors.Is(err, ErrNoMemberForKind), isRetry(err), errors.Is(err, context.DeadlineExceeded):
		r.Status = protos.GrainFrame_WRONG_MEMBER
	default:
		r.Status = protos.GrainFrame_ERROR
	}
	return r
}

// checkDown verifies the members a caller found gone: dialling one whose
// cluster port refuses connections here too makes this member's membership
// remove it, so that this member places its grains as the caller does.
func (h *Host) checkDown(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	v := h.view.Load()
	for _, id := range ids {
		if v.nodes[id] == nil || id == h.self {
			continue
		}
		n := v.nodes[id]
		if _, err := h.peerConn(ctx, n); err != nil {
			h.log.Debug("member reported gone", zap.String("peer", id), zapErr(err))
		}
	}
	h.refresh()
}
