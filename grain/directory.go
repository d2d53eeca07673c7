package grain

import (
	"context"
	"slices"
	"time"

	"github.com/foundation-go/foundation/internal/protos"
)

// The directory serves the sticky placements (PreferLocal, LeastLoaded),
// whose location cannot be computed from the view. Each identity has an
// owner, the rendezvous choice among the kind's hosts; the owner records
// where the identity lives and places it on a miss. A new owner (after a
// membership change) rebuilds an entry by claiming the identity from every
// host, which answers HAVE_IT when it holds an activation, so that a moved
// owner never starts a second one.

// dirEntry is an owner's record of one identity.
type dirEntry struct {
	location string
	// done is set while the owner is placing the identity and closed
	// when placement ends; location is valid after that.
	done chan struct{}
	err  error
}

// locate returns where (k, id) lives, asking its owner when this member has
// no cached location (or the cached one was stale).
func (h *Host) locate(ctx context.Context, v *view, k *kindState, id, stale string) (string, error) {
	k.mu.Lock()
	loc, ok := k.locs[id]
	k.mu.Unlock()
	if ok && loc != stale && v.nodes[loc] != nil {
		return loc, nil
	}
	owner := v.place(k.def.Placement, k.def.Name, id)
	if owner == nil {
		return "", h.noMember(v, k)
	}
	if owner.id == h.self {
		loc, err := h.locateHere(ctx, k, id, h.self, stale)
		if err != nil {
			return "", err
		}
		h.cacheLoc(k, id, loc)
		return loc, nil
	}
	r, err := h.requestPeer(ctx, owner, &protos.GrainFrame{Type: protos.GrainFrame_LOCATE, Kind: k.def.Name,
		Identity: id, Member: h.self, Stale: stale, Down: h.goneList(), View: v.id})
	if err != nil {
		if !isRetry(err) && ctx.Err() == nil {
			err = retryErr("locate", err) // a LOCATE may be repeated
		}
		return "", err
	}
	if r.Status != protos.GrainFrame_OK {
		_, err := h.answer(r, k, id, owner.id)
		return "", err
	}
	h.cacheLoc(k, id, r.Member)
	return r.Member, nil
}

func (h *Host) cacheLoc(k *kindState, id, loc string) {
	k.mu.Lock()
	k.locs[id] = loc
	k.mu.Unlock()
}

// locateHere is the owner's side: the recorded location, or a new
// placement.
func (h *Host) locateHere(ctx context.Context, k *kindState, id, requester, stale string) (string, error) {
	for {
		v := h.view.Load()
		if owner := v.place(k.def.Placement, k.def.Name, id); owner == nil || owner.id != h.self {
			return "", retry("not the owner of " + k.def.Name + "/" + id)
		}
		k.mu.Lock()
		e := k.dir[id]
		if e != nil && e.done != nil && !isClosed(e.done) {
			done := e.done
			k.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		if e != nil && e.err == nil && e.location != stale && v.nodes[e.location] != nil {
			k.mu.Unlock()
			return e.location, nil
		}
		e = &dirEntry{done: make(chan struct{})}
		k.dir[id] = e
		k.mu.Unlock()
		loc, err := h.place(ctx, v, k, id, requester)
		k.mu.Lock()
		e.location, e.err = loc, err // under mu: rebalance reads entries
		if e.err != nil && k.dir[id] == e {
			delete(k.dir, id)
		}
		close(e.done)
		k.mu.Unlock()
		return loc, err
	}
}

// place finds or creates the activation of a sticky identity.
func (h *Host) place(ctx context.Context, v *view, k *kindState, id, requester string) (string, error) {
	if k.hosted {
		k.mu.Lock()
		a := k.acts[id]
		live := a != nil && !a.stopping
		k.mu.Unlock()
		if live {
			return h.self, nil
		}
	}
	res, err := h.claim(ctx, k, id)
	if err != nil {
		return "", err
	}
	if res.holder != "" {
		return res.holder, nil
	}
	hosts := v.hosts[k.def.Name]
	var target *node
	switch k.def.Placement {
	case PreferLocal:
		if n := v.nodes[requester]; n != nil && slices.Contains(hosts, n) {
			target = n
		} else {
			target = rendezvous(id, hosts)
		}
	case LeastLoaded:
		target = leastLoaded(id, hosts, res.load)
	}
	if target == nil {
		return "", h.noMember(v, k)
	}
	if target.id == h.self {
		if _, err := h.localPID(ctx, k, id, true, false); err != nil {
			return "", err
		}
		return h.self, nil
	}
	r, err := h.requestPeer(ctx, target, &protos.GrainFrame{Type: protos.GrainFrame_ACTIVATE, Kind: k.def.Name, Identity: id})
	if err != nil {
		if !isRetry(err) && ctx.Err() == nil {
			err = retryErr("activate", err) // an ACTIVATE may be repeated
		}
		return "", err
	}
	if r.Status != protos.GrainFrame_OK {
		_, err := h.answer(r, k, id, target.id)
		return "", err
	}
	return target.id, nil
}

// tellOwnerDeactivated tells the owner of a sticky identity that its
// activation here ended.
func (h *Host) tellOwnerDeactivated(k *kindState, id string) {
	v := h.view.Load()
	owner := v.place(k.def.Placement, k.def.Name, id)
	if owner == nil {
		return
	}
	if owner.id == h.self {
		k.mu.Lock()
		if e := k.dir[id]; e != nil && e.location == h.self && (e.done == nil || isClosed(e.done)) {
			delete(k.dir, id)
		}
		k.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
	defer cancel()
	if c, err := h.peerConn(ctx, owner); err == nil {
		_ = c.write(&protos.GrainFrame{Type: protos.GrainFrame_DEACTIVATED, Kind: k.def.Name, Identity: id, Member: h.self}, time.Time{})
	}
}
