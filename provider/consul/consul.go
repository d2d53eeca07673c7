package consul

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/internal/backoff"
	"github.com/foundation-go/foundation/provider"
)

// Errors returned by this package besides the provider package's
// ErrInvalidConfig, ErrUnavailable and ErrStopped. Compare them with
// errors.Is.
var (
	// ErrStarted: Start on a Provider that is already started.
	ErrStarted = errors.New("consul: already started")
)

// StopTimeout bounds Stop: it returns within this time even when the
// agent does not answer the deregistration, or within its ctx if sooner.
const StopTimeout = time.Second

// maxLogged bounds the members a Provider remembers having logged about, so
// that a flood of made-up ids cannot grow its memory.
const maxLogged = 1024

// Provider registers this member as an instance of a Consul service with a
// TTL check it keeps passing, and reports the service's healthy instances
// it learns with blocking queries. It implements provider.Provider; build
// one with New. Start and Stop are safe for concurrent use.
type Provider struct {
	cfg       Config // defaults applied, Secret copied
	log       *zap.Logger
	client    *api.Client
	transport *http.Transport // the client's; Stop closes its idle connections

	mu    sync.Mutex // guards the fields below
	state state
	// quit and abort end the current run (Start's attempts and the
	// goroutines): after quit nothing new is sent to the agent and blocking
	// queries end; abort also abandons requests in flight.
	quit, abort context.CancelFunc
	done        chan struct{} // closed when Start's attempts and the goroutines have ended
	a           *announcement // what Stop deregisters; nil when nothing may be registered

	stopOnce sync.Once // the deregistration, after the goroutines have ended
	stopErr  error
}

type state int

const (
	idle state = iota
	running
	stopped
)

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider for cfg, which it copies. A cfg that fails
// Validate is an error wrapping provider.ErrInvalidConfig. New does not
// contact the agent; Start does.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	addr, err := parseAddress(cfg.Address)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: cfg.RequestTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: cfg.RequestTimeout,
		MaxIdleConnsPerHost: 4, // a blocking query and a check renewal at a time
		IdleConnTimeout:     90 * time.Second,
	}
	if addr.socket != "" {
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", addr.socket)
		}
	}
	client, err := api.NewClient(&api.Config{
		Address:    addr.api,
		Token:      cfg.Token,
		Transport:  tr,
		HttpClient: &http.Client{Transport: tr},
	})
	if err != nil {
		return nil, invalid("Config.Address %q: the Consul API client refused it: %v", cfg.Address, err)
	}
	return &Provider{cfg: cfg, log: cfg.Logger, client: client, transport: tr}, nil
}

// Start registers self with the agent as an instance of Config.Service and
// starts keeping its check passing and watching the service.
//
// The instance's id is "<Service>-<self.ID>", its address and port those of
// self.Address (an unspecified host, such as 0.0.0.0, registers no address,
// and the agent's node address is reported instead), and its meta carries
// self's id, cluster, kinds (comma-joined), version and auth. It has one TTL
// check, "service:<instance id>", registered passing, passed again at once
// and every TTL/3 after, and removed by the agent DeregisterAfter after it
// turns critical. self.ID must be 1..512 bytes without white space, control
// characters, '/', '\', '?', '#' or '%'; self.Address must be host:port; a
// kind must not be empty or contain a comma. Those are errors wrapping
// provider.ErrInvalidConfig, as is an agent refusing the registration as
// malformed (400) or not permitted (401, 403: see Config.Token).
//
// Start makes up to StartRetries attempts, with backoff between them; when
// all fail it returns an error wrapping provider.ErrUnavailable that names
// the address. When ctx ends first it returns an error wrapping ctx.Err().
// After a failed Start, Start may be called again.
//
// Once Start has returned nil, update receives, on a goroutine the Provider
// owns and never concurrently, the full set of the service's healthy
// instances of self.Cluster (self among them), ordered by id: first at
// once, then whenever the set or a member's fields change. With
// Config.Secret set, instances whose auth does not verify are left out.
// update must not block for long and must not call Stop. Start after Stop
// returns provider.ErrStopped; a second Start returns ErrStarted.
func (p *Provider) Start(ctx context.Context, self provider.Member, update func([]provider.Member)) error {
	if update == nil {
		return invalid("Start: update must not be nil")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a, err := newAnnouncement(p.cfg, self)
	if err != nil {
		return err
	}
	p.mu.Lock()
	switch p.state {
	case stopped:
		p.mu.Unlock()
		return provider.ErrStopped
	case running:
		p.mu.Unlock()
		return ErrStarted
	}
	hard, abort := context.WithCancel(context.Background())
	soft, quit := context.WithCancel(hard)
	done := make(chan struct{})
	p.state, p.quit, p.abort, p.done, p.a = running, quit, abort, done, a
	p.mu.Unlock()

	registered, err := p.announce(ctx, soft, hard, a)

	p.mu.Lock()
	if err == nil && p.state != running {
		err = provider.ErrStopped // Stop came while registering; it deregisters
	}
	if err == nil {
		go p.run(soft, hard, done, a, update)
		p.mu.Unlock()
		return nil
	}
	abort()
	close(done)
	withdraw := false
	if p.state == running { // not stopped meanwhile: this Start cleans up
		p.state, p.a = idle, nil
		withdraw = registered
	}
	p.mu.Unlock()
	if withdraw {
		// An attempt registered and a later step failed: take it back, so
		// that no instance is left behind for the agent to expire.
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), StopTimeout)
		_ = p.deregister(wctx, a)
		wcancel()
	}
	p.transport.CloseIdleConnections()
	return err
}

// Stop ends the Provider's goroutines — so that nothing renews or
// re-registers this member any more — and then deregisters it from the
// agent, so that the other members' next blocking query drops it. A
// request in flight (a renewal, a re-registration) is let finish for up to
// half of Stop's time, so that it cannot reach the agent after the
// deregistration, and abandoned after that. Stop returns within ctx or
// StopTimeout (1s), whichever is sooner; when the agent does not confirm
// the deregistration in that time it returns an error wrapping
// provider.ErrUnavailable, and the agent removes the instance
// DeregisterAfter after its check turns critical (TTL after the last
// renewal). No update call starts after Stop returns. Stop is idempotent:
// once it has waited for the goroutines, later calls return its result;
// stopping a Provider that was never started is allowed.
func (p *Provider) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.state == running {
		p.quit()
	}
	p.state = stopped
	done, a, abort := p.done, p.a, p.abort
	p.mu.Unlock()
	if a == nil {
		return nil
	}
	// A tenth of StopTimeout is kept for returning in time.
	ctx, cancel := context.WithTimeout(ctx, StopTimeout-StopTimeout/10)
	defer cancel()
	deadline, _ := ctx.Deadline()
	grace := time.NewTimer(time.Until(deadline) / 2)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		abort()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("consul: Stop: waiting for the provider's goroutines: %w", ctx.Err())
		}
	case <-ctx.Done():
		abort()
		return fmt.Errorf("consul: Stop: waiting for the provider's goroutines: %w", ctx.Err())
	}
	abort() // releases the run's contexts
	p.stopOnce.Do(func() {
		p.stopErr = p.deregister(ctx, a)
		p.transport.CloseIdleConnections()
	})
	return p.stopErr
}

// announce makes up to StartRetries attempts to register a and pass its
// check, until ctx or soft ends (hard abandons a request in flight).
// registered reports whether a registration reached the agent.
func (p *Provider) announce(ctx, soft, hard context.Context, a *announcement) (registered bool, err error) {
	send, cancelSend := context.WithCancel(ctx) // requests: until ctx or hard ends
	defer cancelSend()
	defer context.AfterFunc(hard, cancelSend)()
	wait, cancelWait := context.WithCancel(send) // between attempts: until soft ends too
	defer cancelWait()
	defer context.AfterFunc(soft, cancelWait)()
	ended := func() error {
		if soft.Err() != nil {
			return provider.ErrStopped
		}
		return fmt.Errorf("consul: registering %q with the agent at %s: %w", a.serviceID, p.cfg.Address, ctx.Err())
	}
	var last error
	attempt := 1
	for ; ; attempt++ {
		err := p.register(send, a)
		if err == nil {
			registered = true
			if soft.Err() != nil {
				return registered, provider.ErrStopped
			}
			err = p.pass(send, a)
		}
		if err == nil {
			p.log.Info("consul: registered",
				zap.String("service", p.cfg.Service), zap.String("instance", a.serviceID),
				zap.String("address", a.self.Address), zap.String("agent", p.cfg.Address))
			return registered, nil
		}
		if wait.Err() != nil {
			return registered, ended()
		}
		if err := permanent(err, p.cfg.Address); err != nil {
			return registered, err
		}
		last = err
		if attempt >= p.cfg.StartRetries {
			break
		}
		p.log.Debug("consul: registering failed; retrying", zap.Int("attempt", attempt), zap.String("agent", p.cfg.Address), zap.Error(err))
		if !sleep(wait, backoff.Delay(p.cfg.RetryMin, p.cfg.RetryMax, attempt, rand.Float64())) {
			return registered, ended()
		}
	}
	return registered, fmt.Errorf("%w: consul: registering %q with the agent at %s: %d attempts failed, the last with: %v",
		provider.ErrUnavailable, a.serviceID, p.cfg.Address, attempt, last)
}

// run owns the goroutines of one started Provider: keep and watch. It
// closes done when both have returned.
func (p *Provider) run(soft, hard context.Context, done chan struct{}, a *announcement, update func([]provider.Member)) {
	defer close(done)
	var wg sync.WaitGroup
	wg.Go(func() { p.keep(soft, hard, a) })
	p.watch(soft, a, update)
	wg.Wait()
}

// keep passes the check every TTL/3 until soft ends; its requests end only
// with hard, so that one in flight when Stop begins reaches the agent
// before the deregistration. When the agent no longer knows the check (it
// restarted without its state, or an operator deregistered the member)
// keep registers the member again — unless soft has ended. Failures are
// retried with backoff (never slower than every TTL/3) and logged once
// per episode.
func (p *Provider) keep(soft, hard context.Context, a *announcement) {
	interval := p.cfg.TTL / 3
	ep := backoff.Episode{Log: p.log, What: "consul: renewing the TTL check"}
	fields := []zap.Field{zap.String("check", a.checkID), zap.String("agent", p.cfg.Address)}
	lost := false // re-registering since the agent lost the check
	delay := interval
	for {
		if !sleep(soft, delay) {
			return
		}
		err := p.pass(hard, a)
		if err != nil && soft.Err() == nil && lostRegistration(err) {
			if !lost {
				p.log.Info("consul: the agent does not know this member's check (restarted? deregistered?); registering again", append(fields, zap.Error(err))...)
				lost = true
			}
			if err = p.register(hard, a); err == nil && soft.Err() == nil {
				err = p.pass(hard, a)
			}
		}
		if soft.Err() != nil {
			return // Stopping: nothing more is sent or retried
		}
		if err != nil {
			ep.Fail(err, fields...)
			delay = min(backoff.Delay(p.cfg.RetryMin, p.cfg.RetryMax, ep.Failures(), rand.Float64()), interval)
			continue
		}
		if lost {
			p.log.Info("consul: registered again", fields...)
			lost = false
		}
		ep.OK(fields...)
		delay = interval
	}
}

// watch follows the service's healthy instances with blocking queries
// until ctx ends, and calls update with the admitted member set whenever it
// changes (and with the first set at once). Failures are retried with
// backoff and logged once per episode.
func (p *Provider) watch(ctx context.Context, a *announcement, update func([]provider.Member)) {
	ep := backoff.Episode{Log: p.log, What: "consul: watching the service's healthy instances"}
	fields := []zap.Field{zap.String("service", p.cfg.Service), zap.String("agent", p.cfg.Address)}
	logged := make(map[string]bool)
	var (
		index    uint64
		last     []provider.Member
		reported bool
	)
	for {
		began := time.Now()
		entries, meta, err := p.health(ctx, index)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			ep.Fail(err, fields...)
			// The agent may have restarted, its index with it: the next
			// query answers at once rather than wait on a stale index.
			index = 0
			if !sleep(ctx, backoff.Delay(p.cfg.RetryMin, p.cfg.RetryMax, ep.Failures(), rand.Float64())) {
				return
			}
			continue
		}
		ep.OK(fields...)
		index = nextIndex(index, meta.LastIndex)
		ms := p.admitted(a, entries, logged)
		if !reported || !sameMembers(ms, last) {
			reported, last = true, ms
			update(cloneMembers(ms))
		}
		// Consul's advice for blocking queries: rate-limit them, so that an
		// agent answering at once (a busy service, a bug) cannot make this
		// loop spin.
		if rest := p.cfg.RetryMin - time.Since(began); rest > 0 && !sleep(ctx, rest) {
			return
		}
	}
}

// admitted converts entries into the member set to report: instances of
// self's cluster, and with Config.Secret set only those that verify. The
// first instance dropped under each id is logged.
func (p *Provider) admitted(a *announcement, entries []*api.ServiceEntry, logged map[string]bool) []provider.Member {
	first := func(kind, id string) bool {
		key := kind + "/" + id
		if logged[key] || len(logged) >= maxLogged {
			return false
		}
		logged[key] = true
		return true
	}
	ms := make([]provider.Member, 0, len(entries))
	for _, e := range entries {
		reported, announced, ok := entryMember(e)
		if !ok {
			if e != nil && e.Service != nil && first("malformed", e.Service.ID) {
				p.log.Debug("consul: ignoring an instance without a usable address and port", zap.String("instance", e.Service.ID))
			}
			continue
		}
		switch admit(a.self.Cluster, p.cfg.Secret, announced) {
		case otherCluster:
			if first("cluster", announced.ID) {
				p.log.Debug("consul: ignoring an instance of another cluster (logged once per member)",
					zap.String("id", announced.ID), zap.String("cluster", announced.Cluster), zap.String("address", reported.Address))
			}
			continue
		case badAuth:
			if first("auth", announced.ID) {
				p.log.Warn("consul: dropping an instance whose auth does not verify under Config.Secret (logged once per member)",
					zap.String("id", announced.ID), zap.String("address", reported.Address), zap.String("instance", e.Service.ID))
			}
			continue
		}
		ms = append(ms, reported)
	}
	return sortMembers(ms)
}

// register (re-)registers a with the agent, replacing its check.
func (p *Provider) register(ctx context.Context, a *announcement) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	return p.client.Agent().ServiceRegisterOpts(a.reg, api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx))
}

// pass sets a's check to passing, renewing its TTL.
func (p *Provider) pass(ctx context.Context, a *announcement) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	return p.client.Agent().UpdateTTLOpts(a.checkID, "", api.HealthPassing, (&api.QueryOptions{}).WithContext(ctx))
}

// health runs one blocking query for the service's passing instances.
func (p *Provider) health(ctx context.Context, index uint64) ([]*api.ServiceEntry, *api.QueryMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WaitTime+p.cfg.WaitTime/16+p.cfg.RequestTimeout)
	defer cancel()
	q := (&api.QueryOptions{WaitIndex: index, WaitTime: p.cfg.WaitTime}).WithContext(ctx)
	return p.client.Health().Service(p.cfg.Service, "", true, q)
}

// deregister removes a from the agent; an instance the agent does not know
// is already gone.
func (p *Provider) deregister(ctx context.Context, a *announcement) error {
	err := p.client.Agent().ServiceDeregisterOpts(a.serviceID, (&api.QueryOptions{}).WithContext(ctx))
	if err == nil || statusCode(err) == http.StatusNotFound {
		p.log.Info("consul: deregistered", zap.String("instance", a.serviceID), zap.String("agent", p.cfg.Address))
		return nil
	}
	p.log.Warn("consul: deregistering failed; the agent removes the instance once its check has been critical for DeregisterAfter",
		zap.String("instance", a.serviceID), zap.String("agent", p.cfg.Address), zap.Duration("deregister_after", p.cfg.DeregisterAfter), zap.Error(err))
	return fmt.Errorf("%w: consul: deregistering %q at %s: %v (the agent removes it %v after its check turns critical)",
		provider.ErrUnavailable, a.serviceID, p.cfg.Address, err, p.cfg.DeregisterAfter)
}

// permanent returns the error Start reports for a failure that retrying
// cannot fix, or nil.
func permanent(err error, addr string) error {
	switch statusCode(err) {
	case http.StatusBadRequest:
		return invalid("the agent at %s rejected the registration: %v", addr, err)
	case http.StatusUnauthorized, http.StatusForbidden:
		return invalid("Config.Token: the agent at %s denied the registration: %v", addr, err)
	}
	return nil
}

// lostRegistration reports whether err says the agent does not know the
// check: 404, or the 500 "CheckID … does not have associated TTL" that
// Consul agents answer for an unknown TTL check.
func lostRegistration(err error) bool {
	var se api.StatusError
	if !errors.As(err, &se) {
		return false
	}
	body := strings.ToLower(se.Body)
	return se.Code == http.StatusNotFound ||
		strings.Contains(body, "does not have associated ttl") || strings.Contains(body, "unknown check")
}

// statusCode is the HTTP status of an agent's error answer, or 0.
func statusCode(err error) int {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// sleep waits d or until ctx ends, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func cloneMembers(ms []provider.Member) []provider.Member {
	out := slices.Clone(ms)
	for i := range out {
		out[i].Kinds = slices.Clone(out[i].Kinds)
	}
	return out
}
