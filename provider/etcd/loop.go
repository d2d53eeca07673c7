package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/internal/backoff"
	"github.com/foundation-go/foundation/provider"
)

const (
	// maxLogged bounds the keys a loop remembers having logged about, so
	// that a flood of bad records cannot grow memory.
	maxLogged = 1024
	// maxLeases bounds the leases a loop remembers to revoke. A lease is
	// replaced only when etcd said it was gone or its keep-alive went a
	// whole TTL unanswered, so older ones than the last few have expired.
	maxLeases = 8
)

// work is what the loop still has to do to be registered and watching.
type work struct {
	grant bool // get a new lease (and keep it alive); implies put
	put   bool // write this member's record under the current lease
	sync  bool // read the member set and watch from the read's revision
}

func (w work) any() bool { return w.grant || w.put || w.sync }

// loop registers one member and follows the member set. Start's register
// drives it until the first registration; then serve, on the goroutine it
// owns, keeps the registration and the watch alive until Stop. Its fields
// are owned by whichever of the two runs it.
type loop struct {
	p      *Provider
	cli    *clientv3.Client
	ctx    context.Context // the Provider's stop context
	key    string          // this member's key
	value  string          // this member's record
	prefix string          // the cluster's members prefix
	update func([]provider.Member)

	view     *view
	reported []provider.Member  // last passed to update
	logged   map[string]verdict // keys whose rejection was logged, with the verdict

	leases      []clientv3.LeaseID // granted and not known revoked; the last is current
	kaCh        <-chan *clientv3.LeaseKeepAliveResponse
	kaCancel    context.CancelFunc
	watchCh     clientv3.WatchChan
	watchCancel context.CancelFunc

	pending  work
	failing  bool  // an episode of errors is open: its warning is logged
	failures int   // consecutive failed attempts, for the backoff
	lastErr  error // of the latest failed attempt, logged when it works again
}

func newLoop(p *Provider, cli *clientv3.Client, self provider.Member, update func([]provider.Member)) *loop {
	self.Kinds = slices.Clone(self.Kinds)
	self.Auth = ""
	if len(p.cfg.Secret) > 0 {
		self.Auth = provider.Sign(p.cfg.Secret, self)
	}
	prefix := p.cfg.Prefix + self.Cluster + "/members/"
	return &loop{
		p:       p,
		cli:     cli,
		ctx:     p.stopCtx,
		key:     prefix + self.ID,
		value:   encode(self),
		prefix:  prefix,
		update:  update,
		view:    newView(self, prefix, p.cfg.Secret),
		logged:  make(map[string]verdict),
		pending: work{grant: true, put: true, sync: true},
	}
}

// attempt does the pending work, each call bounded by DialTimeout within
// ctx, and clears what it did. It stops at the first error.
func (l *loop) attempt(ctx context.Context) error {
	call := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, l.p.cfg.DialTimeout)
	}
	if l.pending.grant {
		c, cancel := call()
		resp, err := l.cli.Grant(c, int64(l.p.cfg.LeaseTTL/time.Second))
		cancel()
		if err != nil {
			return fmt.Errorf("granting a lease: %w", err)
		}
		l.leases = append(l.leases, resp.ID)
		if len(l.leases) > maxLeases {
			l.leases = slices.Delete(l.leases, 0, len(l.leases)-maxLeases)
		}
		l.stopKeepAlive()
		kctx, kcancel := context.WithCancel(l.ctx)
		ch, err := l.cli.KeepAlive(kctx, resp.ID)
		if err != nil {
			kcancel()
			return fmt.Errorf("keeping lease %x alive: %w", resp.ID, err)
		}
		l.kaCh, l.kaCancel = ch, kcancel
		l.pending.grant = false
		l.pending.put = true
	}
	if l.pending.put {
		lease := l.leases[len(l.leases)-1]
		c, cancel := call()
		_, err := l.cli.Put(c, l.key, l.value, clientv3.WithLease(lease))
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			l.pending.grant = true
			return fmt.Errorf("registering %s: lease %x is gone: %w", l.key, lease, err)
		}
		if err != nil {
			return fmt.Errorf("registering %s: %w", l.key, err)
		}
		l.pending.put = false
		l.p.registered.Add(1)
		l.revokeOld(ctx)
	}
	if l.pending.sync {
		c, cancel := call()
		resp, err := l.cli.Get(c, l.prefix, clientv3.WithPrefix())
		cancel()
		if err != nil {
			return fmt.Errorf("reading %s: %w", l.prefix, err)
		}
		l.view.reset()
		own := false
		for _, kv := range resp.Kvs {
			own = own || string(kv.Key) == l.key
			l.admit(string(kv.Key), kv.Value)
		}
		l.stopWatch()
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(l.ctx))
		l.watchCh = l.cli.Watch(wctx, l.prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		l.watchCancel = wcancel
		l.pending.sync = false
		l.p.synced.Add(1)
		if !own { // deleted between the Put and the Get: the watch will not say so
			l.pending.put = true
			return fmt.Errorf("registering %s: the key vanished after it was written", l.key)
		}
	}
	return nil
}

// revokeOld revokes the leases granted before the current one, which hold
// no key once this member's record is under the current lease. Failures are
// left for the next registration or for shutdown.
func (l *loop) revokeOld(ctx context.Context) {
	cur := l.leases[len(l.leases)-1]
	kept := l.leases[:0]
	for _, id := range l.leases[:len(l.leases)-1] {
		c, cancel := context.WithTimeout(ctx, l.p.cfg.DialTimeout)
		_, err := l.cli.Revoke(c, id)
		cancel()
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			kept = append(kept, id)
		}
	}
	l.leases = append(kept, cur)
}

// serve runs on the Provider's goroutine from Start until Stop: it reports
// the member set, applies the watch, and registers and reads again when the
// lease is lost or the watch ends, backing off while that fails. It
// withdraws the registration and closes done when it returns.
func (l *loop) serve(done chan struct{}) {
	defer close(done)
	defer l.shutdown()
	l.report()
	var retry <-chan time.Time // set while backing off
	for {
		select {
		case <-l.ctx.Done():
			return
		case _, ok := <-l.kaCh:
			if ok {
				continue
			}
			l.kaCh = nil
			if l.ctx.Err() != nil {
				return
			}
			l.pending = work{grant: true, put: true, sync: true}
			l.trouble("etcd: lease lost; registering again (logged once until it works again)", nil)
		case wr, ok := <-l.watchCh:
			if l.ctx.Err() != nil {
				return
			}
			switch {
			case !ok:
				l.stopWatch()
				l.pending.sync = true
				l.trouble("etcd: watch ended; reading the members again (logged once until it works again)", nil)
			case wr.CompactRevision != 0:
				l.stopWatch()
				l.pending.sync = true
				l.p.log.Info("etcd: watch fell behind a compaction; reading the members again", zap.Int64("compact_revision", wr.CompactRevision))
			case wr.Err() != nil:
				l.stopWatch()
				l.pending.sync = true
				l.trouble("etcd: watch failed; reading the members again (logged once until it works again)", wr.Err())
			default:
				l.apply(wr.Events)
				l.report()
			}
		case <-retry:
			retry = nil
		}
		if !l.pending.any() || retry != nil {
			continue
		}
		if err := l.attempt(l.ctx); err != nil {
			if l.ctx.Err() != nil {
				return
			}
			l.failures++
			l.lastErr = err
			l.p.failures.Add(1)
			l.trouble("etcd: cannot register or read the members; retrying with backoff (logged once until it works again)", err)
			retry = time.After(backoff.Delay(l.p.cfg.RetryMin, l.p.cfg.RetryMax, l.failures, rand.Float64()))
			continue
		}
		if l.failing {
			fields := []zap.Field{zap.String("key", l.key), zap.Int("failed_attempts", l.failures)}
			if l.lastErr != nil {
				fields = append(fields, zap.NamedError("last_error", l.lastErr))
			}
			l.p.log.Info("etcd: registered and watching again", fields...)
		}
		l.failing, l.failures, l.lastErr = false, 0, nil
		l.report()
	}
}

// trouble opens an episode of errors, logging msg once; until the pending
// work is done, further trouble is not logged.
func (l *loop) trouble(msg string, err error) {
	if l.failing {
		return
	}
	l.failing = true
	fields := []zap.Field{zap.String("key", l.key), zap.Strings("endpoints", l.p.cfg.Endpoints)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	l.p.log.Warn(msg, fields...)
}

// apply applies watched events to the view. A deletion of this member's
// own key (by someone else: a revoke, an etcdctl del) makes it register
// again.
func (l *loop) apply(events []*clientv3.Event) {
	for _, ev := range events {
		key := string(ev.Kv.Key)
		switch ev.Type {
		case mvccpb.PUT:
			l.admit(key, ev.Kv.Value)
		case mvccpb.DELETE:
			if key == l.key {
				if !l.pending.grant && !l.pending.put {
					l.pending.put = true
					l.trouble("etcd: this member's key was deleted; registering again (logged once until it works again)", nil)
				}
				continue
			}
			l.view.remove(key)
		}
	}
}

// admit puts a record into the view, logging the first rejection of each
// key.
func (l *loop) admit(key string, value []byte) {
	v := l.view.put(key, value)
	switch v {
	case admit, fromSelf:
		delete(l.logged, key)
		return
	}
	if old, ok := l.logged[key]; (ok && old == v) || (!ok && len(l.logged) >= maxLogged) {
		return
	}
	l.logged[key] = v
	if v == otherCluster {
		l.p.log.Debug("etcd: ignoring a record", zap.String("key", key), zap.Stringer("reason", v))
		return
	}
	l.p.log.Warn("etcd: dropping a record (logged once per key)", zap.String("key", key), zap.Stringer("reason", v))
}

// report calls update when the member set differs from the one last
// reported.
func (l *loop) report() {
	ms := l.view.members()
	if sameMembers(ms, l.reported) {
		return
	}
	l.reported = ms
	out := make([]provider.Member, len(ms))
	for i, m := range ms {
		m.Kinds = slices.Clone(m.Kinds)
		out[i] = m
	}
	l.update(out)
}

func (l *loop) stopKeepAlive() {
	if l.kaCancel != nil {
		l.kaCancel()
	}
	l.kaCh, l.kaCancel = nil, nil
}

func (l *loop) stopWatch() {
	if l.watchCancel != nil {
		l.watchCancel()
	}
	l.watchCh, l.watchCancel = nil, nil
}

// shutdown stops the keep-alive and the watch, revokes every lease granted
// (the current one first; revoking deletes this member's key) within
// revokeTimeout, and closes the client.
func (l *loop) shutdown() {
	l.stopKeepAlive()
	l.stopWatch()
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	withdrawn := len(l.leases) > 0
	for i := len(l.leases) - 1; i >= 0; i-- {
		_, err := l.cli.Revoke(ctx, l.leases[i])
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			withdrawn = false
			l.p.log.Warn("etcd: revoking the lease failed; the key expires after LeaseTTL",
				zap.String("key", l.key), zap.Duration("lease_ttl", l.p.cfg.LeaseTTL), zap.Error(err))
			break
		}
	}
	l.leases = nil
	_ = l.cli.Close()
	if withdrawn {
		l.p.log.Info("etcd: withdrawn", zap.String("key", l.key))
	}
}
