package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"

	"github.com/foundation-go/foundation/internal/backoff"
	"github.com/foundation-go/foundation/provider"
)

// Errors returned by this package besides the provider package's
// ErrInvalidConfig, ErrUnavailable and ErrStopped. Compare them with
// errors.Is.
var (
	// ErrStarted: Start on a Provider that is starting or started.
	ErrStarted = errors.New("etcd: already started")
)

const (
	// revokeTimeout bounds the revocation of the leases when the Provider
	// stops, so that Stop returns within a second even when etcd is gone
	// (the key then expires after LeaseTTL).
	revokeTimeout = 800 * time.Millisecond
	// keepAliveTime is how long a gRPC connection to etcd may be idle
	// before the client pings it, so that a connection to a vanished host
	// is noticed without waiting for TCP; gRPC does not allow less than
	// 10s.
	keepAliveTime = 10 * time.Second
)

// Provider registers this member in etcd under a lease and reports the
// members registered in the same cluster. It implements provider.Provider;
// build one with New. Start and Stop are safe for concurrent use.
type Provider struct {
	cfg Config // defaults applied, slices copied
	log *zap.Logger

	// stopCtx is cancelled by Stop; it bounds the Provider's goroutine, its
	// keep-alive and watch, and a Start in progress.
	stopCtx context.Context
	stop    context.CancelFunc

	mu    sync.Mutex // guards state and done
	state state
	done  chan struct{} // closed when the latest Start's client is released

	// counters, for tests and diagnostics
	registered atomic.Int64 // successful Puts of this member's record
	synced     atomic.Int64 // successful reads of the member set
	failures   atomic.Int64 // failed attempts after Start returned
}

type state int

const (
	idle state = iota
	starting
	running
	stopped
)

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider for cfg, which it copies. A cfg that fails
// Validate is an error wrapping provider.ErrInvalidConfig. New does not
// connect; Start does.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Provider{cfg: cfg, log: cfg.Logger, stopCtx: ctx, stop: cancel}, nil
}

// Start registers self under the key Config.Prefix + self.Cluster +
// "/members/" + self.ID, held by a lease of Config.LeaseTTL that the
// Provider keeps alive, reads the members registered under that prefix and
// starts watching it.
//
// self.ID and self.Cluster must be non-empty and without "/", and
// self.Address non-empty; otherwise, as when update is nil, the error wraps
// provider.ErrInvalidConfig. When registering fails Config.StartRetries + 1
// times (each call bounded by Config.DialTimeout) the error wraps
// provider.ErrUnavailable and names the endpoints. When ctx ends first,
// Start returns ctx's error. A failed Start may be called again.
//
// Start returns once this member is registered. update then receives, on a
// goroutine the Provider owns and never concurrently, the full member set —
// self (as registered) and every valid record of self.Cluster, ordered by
// id — first at once, then whenever the set or a member's fields change.
// update must not block for long and must not call Stop. When the lease is
// lost (etcd restarted without its data, a partition longer than the TTL, a
// revoke) the member registers again under a new lease; when the watch
// ends (etcd restarted, history compacted) the Provider reads the members
// again and watches anew. Start after Stop returns provider.ErrStopped; a
// second Start returns ErrStarted.
func (p *Provider) Start(ctx context.Context, self provider.Member, update func([]provider.Member)) error {
	if update == nil {
		return fmt.Errorf("%w: etcd: Start: update must not be nil", provider.ErrInvalidConfig)
	}
	if err := checkSelf(self); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	switch p.state {
	case stopped:
		p.mu.Unlock()
		return provider.ErrStopped
	case starting, running:
		p.mu.Unlock()
		return ErrStarted
	}
	p.state = starting
	done := make(chan struct{})
	p.done = done
	p.mu.Unlock()

	l, err := p.register(ctx, self, update)

	p.mu.Lock()
	wasStopped := p.state == stopped
	if err == nil && !wasStopped {
		p.state = running
		go l.serve(done)
		p.mu.Unlock()
		return nil
	}
	if !wasStopped {
		p.state = idle
	}
	p.mu.Unlock()
	if err == nil { // Stop came after the registration: withdraw it
		l.shutdown()
	}
	close(done)
	if wasStopped {
		return provider.ErrStopped
	}
	return err
}

// Stop ends the Provider's goroutine first, so that nothing registers this
// member again, then revokes its lease — which deletes its key, so that
// peers drop it at once — within a bound of under a second, closes the
// client and returns, or returns ctx's error when ctx ends first (the
// revocation then completes in the background, and a later Stop waits for
// it). No update call starts after Stop returns nil. Stop is idempotent;
// stopping a Provider that was never started is allowed, and stopping one
// whose Start is in progress makes that Start return provider.ErrStopped.
func (p *Provider) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.state = stopped
	done := p.done
	p.mu.Unlock()
	p.stop()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkSelf validates the fields of self that make its key and record.
func checkSelf(self provider.Member) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: etcd: "+format, append([]any{provider.ErrInvalidConfig}, args...)...)
	}
	for _, f := range []struct{ name, v string }{{"ID", self.ID}, {"Cluster", self.Cluster}} {
		if f.v == "" || strings.ContainsAny(f.v, "/\x00") {
			return bad("self.%s %q: want a non-empty string without \"/\" (it is part of the key)", f.name, f.v)
		}
	}
	if self.Address == "" {
		return bad("self.Address is empty: want the member's host:port")
	}
	return nil
}

// register connects and makes Start's attempts; on success it returns the
// loop, registered and watching, for serve. On failure it has released the
// client.
func (p *Provider) register(ctx context.Context, self provider.Member, update func([]provider.Member)) (*loop, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.stopCtx, cancel)()

	cli, err := clientv3.New(p.clientConfig())
	if err != nil {
		return nil, fmt.Errorf("%w: etcd: endpoints %s: creating the client: %v", provider.ErrUnavailable, p.endpoints(), err)
	}
	l := newLoop(p, cli, self, update)
	attempts := p.cfg.StartRetries + 1
	var lastErr error
	for i := 1; ; i++ {
		lastErr = l.attempt(ctx)
		if lastErr == nil {
			p.log.Info("etcd: registered",
				zap.String("key", l.key), zap.String("address", self.Address), zap.Strings("endpoints", p.cfg.Endpoints),
				zap.Duration("lease_ttl", p.cfg.LeaseTTL), zap.Int("members", len(l.view.members())))
			return l, nil
		}
		if ctx.Err() != nil || i == attempts {
			break
		}
		d := backoff.Delay(p.cfg.RetryMin, p.cfg.RetryMax, i, rand.Float64())
		p.log.Debug("etcd: registering failed; retrying", zap.Int("attempt", i), zap.Duration("pause", d), zap.Error(lastErr))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	l.shutdown()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: etcd: endpoints %s: registering %s failed %d times (each call bounded by Config.DialTimeout %v): %v",
		provider.ErrUnavailable, p.endpoints(), l.key, attempts, p.cfg.DialTimeout, lastErr)
}

func (p *Provider) endpoints() string {
	return strings.Join(p.cfg.Endpoints, ",")
}

// clientConfig is the etcd client's configuration: gRPC reconnecting with
// the Provider's backoff, each connection attempt bounded by DialTimeout
// (at least 500ms), idle connections pinged, the client's own logs at error
// level only.
func (p *Provider) clientConfig() clientv3.Config {
	return clientv3.Config{
		Endpoints:            p.cfg.Endpoints,
		DialTimeout:          p.cfg.DialTimeout,
		DialKeepAliveTime:    keepAliveTime,
		DialKeepAliveTimeout: max(p.cfg.DialTimeout, time.Second),
		Logger:               clientLogger(p.log),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: grpcbackoff.Config{
				BaseDelay:  p.cfg.RetryMin,
				Multiplier: 2,
				Jitter:     0.2,
				MaxDelay:   p.cfg.RetryMax,
			},
			MinConnectTimeout: max(p.cfg.DialTimeout, 500*time.Millisecond),
		})},
	}
}

// clientLogger is the etcd client's logger: log named "etcd-client" at
// error level, since the client warns on every internal retry.
func clientLogger(log *zap.Logger) *zap.Logger {
	if !log.Core().Enabled(zapcore.WarnLevel) {
		return log // already at error level or above (or a no-op)
	}
	return log.Named("etcd-client").WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel))
}
