package dns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	miekg "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/internal/backoff"
	"github.com/foundation-go/foundation/provider"
)

// Errors returned by this package besides the provider package's
// ErrInvalidConfig, ErrUnavailable and ErrStopped. Compare them with
// errors.Is.
var (
	// ErrStarted: Start on a Provider that was already started.
	ErrStarted = errors.New("dns: already started")
)

// Provider reports the members a DNS name resolves to, polling it. It
// implements provider.Provider; build one with New. Start and Stop are safe
// for concurrent use.
type Provider struct {
	cfg        Config // defaults applied, slices copied
	log        *zap.Logger
	resolvConf string // read by Start when cfg.Servers is empty

	mu     sync.Mutex // guards the fields below
	state  state
	cancel context.CancelFunc // ends Start's lookups and run; set by Start
	done   chan struct{}      // closed when run returns; set by Start
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
// Validate is an error wrapping provider.ErrInvalidConfig. New sends no
// query and reads no file; Start does.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Provider{cfg: cfg, log: cfg.Logger, resolvConf: resolvConf}, nil
}

// Start resolves Config.Name and reports the members it finds.
//
// The port of members found through A/AAAA records is Config.Port or, when
// that is 0, the port of self.Address; when neither gives one the error
// wraps provider.ErrInvalidConfig. self is otherwise unused: this provider
// announces nothing, and self's own address may be among the members
// reported.
//
// Start tries the first lookup 1+StartRetries times, waiting RetryMin,
// 2×RetryMin, … (at most RetryMax) between tries; when every try fails the
// error wraps provider.ErrUnavailable and names Config.Name, the servers
// and the last failure. When ctx ends first, Start returns ctx's error.
// Otherwise it returns after update has received the first member set —
// possibly empty, when the name does not exist yet — and then resolves the
// name every Interval on a goroutine it owns, calling update with the full
// set of members (provider.Member with only Address set, ordered by
// address) each time the set changes. Lookups that fail keep the last set:
// they are retried with the same backoff, and logged once when they start
// failing and once when they work again.
//
// update is called on the Provider's goroutine, never concurrently; it must
// not block for long and must not call Stop. Start after Stop returns
// provider.ErrStopped; Start on a started Provider returns ErrStarted. A
// Start that failed may be tried again.
func (p *Provider) Start(ctx context.Context, self provider.Member, update func([]provider.Member)) error {
	if update == nil {
		return fmt.Errorf("%w: dns: Start: update must not be nil", provider.ErrInvalidConfig)
	}
	port, err := p.memberPort(self)
	if err != nil {
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
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.mu.Unlock()

	r := &resolver{
		name:    miekg.Fqdn(p.cfg.Name),
		port:    port,
		servers: p.cfg.Servers,
		timeout: p.cfg.Timeout,
	}
	if len(r.servers) == 0 {
		r.servers = systemServers(p.resolvConf)
	}
	addrs, err := p.first(ctx, runCtx, r)

	p.mu.Lock()
	if p.state == stopped {
		p.mu.Unlock()
		cancel()
		return provider.ErrStopped
	}
	if err != nil {
		p.state = idle
		p.mu.Unlock()
		cancel()
		return err
	}
	p.state = running
	p.done = make(chan struct{})
	delivered := make(chan struct{})
	go p.run(runCtx, r, addrs, update, delivered)
	p.mu.Unlock()

	p.log.Info("dns: resolved", zap.String("name", r.name), zap.Strings("servers", r.servers), zap.Int("members", len(addrs)))
	<-delivered
	return nil
}

// Stop stops resolving, cancelling a query in flight, and waits for the
// Provider's goroutine, or until ctx is done. There is no announcement to
// withdraw: the DNS records are the DNS owner's (Kubernetes removes a pod
// from a headless service when it stops being ready). No update call starts
// after Stop returns nil. Stop is idempotent; stopping a Provider that was
// never started is allowed, and a Start in progress returns
// provider.ErrStopped.
func (p *Provider) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.state = stopped
	if p.cancel != nil {
		p.cancel()
	}
	done := p.done
	p.mu.Unlock()
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

// memberPort is the port of members found through A/AAAA records.
func (p *Provider) memberPort(self provider.Member) (uint16, error) {
	if p.cfg.Port != 0 {
		return uint16(p.cfg.Port), nil
	}
	_, s, err := net.SplitHostPort(self.Address)
	var n uint64
	if err == nil && strings.TrimLeft(s, "0123456789") == "" {
		n, err = strconv.ParseUint(s, 10, 16)
	}
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: dns: Config.Port is 0 and self.Address %q has no port 1..65535 to use instead: set Config.Port or give self a host:port address", provider.ErrInvalidConfig, self.Address)
	}
	return uint16(n), nil
}

// first does Start's first lookup, with its retries. It gives up when ctx
// (Start's) or stop (Stop's) is done.
func (p *Provider) first(ctx, stop context.Context, r *resolver) ([]string, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(stop, cancel)()

	tries := 1 + p.cfg.StartRetries
	var lastErr error
	for i := 1; ; i++ {
		addrs, err := r.lookup(lctx)
		if err == nil {
			return addrs, nil
		}
		if lctx.Err() == nil {
			lastErr = err
			p.log.Debug("dns: first lookup failed", zap.String("name", r.name), zap.Int("try", i), zap.Int("of", tries), zap.Error(err))
		}
		if i >= tries || lctx.Err() != nil {
			break
		}
		t := time.NewTimer(backoff.Delay(p.cfg.RetryMin, p.cfg.RetryMax, i, rand.Float64()))
		select {
		case <-t.C:
		case <-lctx.Done():
			t.Stop()
		}
	}
	switch {
	case stop.Err() != nil:
		return nil, provider.ErrStopped
	case ctx.Err() != nil:
		if lastErr != nil {
			return nil, fmt.Errorf("dns: Start: resolving %q: %w (last failure: %v)", r.name, ctx.Err(), lastErr)
		}
		return nil, fmt.Errorf("dns: Start: resolving %q: %w", r.name, ctx.Err())
	}
	return nil, fmt.Errorf("%w: dns: resolving %q via %s: %d tries failed; last: %v",
		provider.ErrUnavailable, r.name, strings.Join(r.servers, ", "), tries, lastErr)
}

// run resolves the name every Interval until ctx is done and reports each
// change of the member set; it first reports first and closes delivered.
func (p *Provider) run(ctx context.Context, r *resolver, first []string, update func([]provider.Member), delivered chan<- struct{}) {
	defer close(p.done)
	last := first
	update(members(last))
	close(delivered)

	t := time.NewTimer(p.cfg.Interval)
	defer t.Stop()
	ep := backoff.Episode{Log: p.log, What: "dns: lookup"}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		addrs, err := r.lookup(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The last member set is kept while lookups fail.
			ep.Fail(err, zap.String("name", r.name), zap.Int("kept_members", len(last)))
			t.Reset(backoff.Delay(p.cfg.RetryMin, p.cfg.RetryMax, ep.Failures(), rand.Float64()))
			continue
		}
		ep.OK(zap.String("name", r.name))
		if added, removed := diff(last, addrs); len(added) > 0 || len(removed) > 0 {
			p.log.Info("dns: members changed", zap.String("name", r.name), zap.Int("members", len(addrs)),
				zap.Strings("added", added), zap.Strings("removed", removed))
			last = addrs
			update(members(last))
		}
		t.Reset(p.cfg.Interval)
	}
}

// members wraps sorted addresses as provider.Members.
func members(addrs []string) []provider.Member {
	out := make([]provider.Member, len(addrs))
	for i, a := range addrs {
		out[i] = provider.Member{Address: a}
	}
	return out
}
