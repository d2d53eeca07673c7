package cache

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/internal/protos"
)

// handoffBatch bounds the bytes of one HANDOFF frame.
const handoffBatch = 1 << 20

// rebalanceLoop moves entries after each topology change.
func (r *reg) rebalanceLoop() {
	for {
		select {
		case <-r.done:
			return
		case <-r.kick:
		}
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(r.h.ctx, 30*time.Second)
			complete := r.rebalance(ctx)
			cancel()
			if complete || attempt == handoffAttempts {
				break
			}
			// A member did not take its entries (it has not opened the
			// cache yet, or its stream broke): try again shortly.
			t := time.NewTimer(retryHandoff)
			select {
			case <-r.done:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// retryHandoff spaces the attempts to hand entries over after one
// topology change; handoffAttempts bounds them (the next change tries
// again).
const (
	retryHandoff    = 200 * time.Millisecond
	handoffAttempts = 25
)

// rebalance hands entries over after a topology change: an entry whose
// owner was this member and is now another goes to its new owner; an
// owner sends its entries to the members that became their copies
// (backups, or a member that joined a Replicated cache); and an entry
// this member no longer keeps is deleted once handed over. Only the keys
// whose placement changed move (rendezvous hashing).
func (r *reg) rebalance(ctx context.Context) (complete bool) {
	if !r.enter() {
		return true
	}
	defer r.exit()
	r.rebMu.Lock()
	defer r.rebMu.Unlock()
	t := r.topo.Load()
	prev := t.prev
	self := r.h.self
	n := r.copies(t)
	type out struct {
		entries []*protos.CacheEntry
		keys    map[string]bool // to delete here once sent
		size    int
	}
	per := map[string]*out{}
	add := func(m string, it *item[[]byte], drop bool) {
		o := per[m]
		if o == nil {
			o = &out{}
			per[m] = o
		}
		o.entries = append(o.entries, entryOf(it))
		o.size += len(it.val) + len(it.key) + 32
		if drop {
			if o.keys == nil {
				o.keys = map[string]bool{}
			}
			o.keys[it.key] = true
		}
	}
	complete = true
	var orphans []string // kept by no member: delete
	r.st.each(func(it *item[[]byte]) bool {
		now := t.ranked(it.key, n)
		keep := slices.Contains(now, self)
		if len(now) == 0 {
			return true
		}
		owner := now[0]
		var was []string
		if prev != nil {
			was = prev.ranked(it.key, r.copies(prev))
		}
		switch {
		case owner == self:
			for _, m := range now[1:] {
				if prev == nil || !slices.Contains(was, m) {
					add(m, it, false)
				}
			}
		case !keep || (len(was) > 0 && was[0] == self):
			add(owner, it, !keep)
		}
		if !keep && len(now) == 0 {
			orphans = append(orphans, it.key)
		}
		return true
	})
	for m, o := range per {
		for len(o.entries) > 0 {
			// Split into frames of about handoffBatch bytes.
			k, size := 0, 0
			for k < len(o.entries) && (k == 0 || size < handoffBatch) {
				size += len(o.entries[k].Value) + len(o.entries[k].Key) + 32
				k++
			}
			batch := o.entries[:k]
			o.entries = o.entries[k:]
			resp, err := r.h.do(ctx, m, &protosRequest{Cache: r.name, Op: opHandoff, Entries: batch})
			if err != nil || resp.Status != statusOK {
				complete = false
				if ctx.Err() != nil {
					return false
				}
				r.h.log.Debug("cache: handing entries over failed", zap.String("cache", r.name), zap.String("member", m), zap.Error(err))
				continue
			}
			for _, e := range batch {
				if o.keys[e.Key] {
					r.st.delIfOlder(e.Key, e.Version)
				}
			}
		}
	}
	for _, k := range orphans {
		r.st.del(k)
	}
	return complete
}

// leave hands this member's entries to their owners without it, then
// withdraws it from the hosting set. Requests that still arrive are
// forwarded to the new owners.
func (r *reg) leave(ctx context.Context) error {
	if r.leaving.Swap(true) {
		return nil
	}
	select {
	case <-r.done: // the host stopped
		return nil
	default:
	}
	r.refresh()
	// Hand over, retrying while ctx allows.
	for attempt := 1; !r.rebalance(ctx) && len(r.topo.Load().members) > 0 && attempt < handoffAttempts; attempt++ {
		t := time.NewTimer(retryHandoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	err := r.setHosting(false)
	r.h.unregister(r)
	return err
}

func (r *reg) close() {
	r.closeOnce.Do(func() {
		r.cmu.Lock()
		r.isClosed = true
		r.cmu.Unlock()
		close(r.done)
		r.inflight.Wait()
		r.lmu.Lock()
		for _, l := range r.leases {
			if l.timer != nil {
				l.timer.Stop()
			}
		}
		r.lmu.Unlock()
		r.stopNear()
		// The two ristretto caches close in parallel (each resets its
		// admission counters).
		var wg sync.WaitGroup
		if r.onClose != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.onClose()
			}()
		}
		r.st.close()
		wg.Wait()
	})
}
