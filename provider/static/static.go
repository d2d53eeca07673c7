package static

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider"
)

// Errors returned by this package besides the provider package's
// ErrInvalidConfig and ErrStopped. Compare them with errors.Is.
var (
	// ErrStarted: Start on a Provider that was already started.
	ErrStarted = errors.New("static: already started")
)

// Option configures a Provider. Build options with the With… functions of
// this package.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	log *zap.Logger
}

// WithLogger sets the logger that records the seed list when it is reported.
// Default (nil): no logging.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) { o.log = l })
}

// Provider reports a list of seed addresses as members. It implements
// provider.Provider; build one with New.
//
// Start, SetSeeds and Stop are safe for concurrent use. update is called on
// the goroutine of the Start or SetSeeds that changed the list, never
// concurrently; it must not call SetSeeds or Stop, which wait for it.
type Provider struct {
	log *zap.Logger

	// turn is a mutex that a ctx can abandon: holding it (a value in the
	// channel) guards the fields below and the call to update, so that
	// updates are delivered one at a time and in the order of the changes.
	turn    chan struct{}
	seeds   []string // normalized, sorted, no duplicates
	update  func([]provider.Member)
	started bool
	stopped bool
}

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider for seeds, each "host:port" with a port in
// 1..65535 (host a name, an IPv4 address or a bracketed IPv6 address).
// Duplicates are reported once. An empty list or a malformed seed is an
// error wrapping provider.ErrInvalidConfig.
func New(seeds []string, opts ...Option) (*Provider, error) {
	norm, err := normalize(seeds)
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if o.log == nil {
		o.log = zap.NewNop()
	}
	return &Provider{log: o.log, turn: make(chan struct{}, 1), seeds: norm}, nil
}

// Start calls update once, before it returns, with one provider.Member per
// seed (only Address set). self is not added: if self's address is a seed it
// is reported like any other, and the cluster layer ignores it. Start after
// Stop returns provider.ErrStopped; a second Start returns ErrStarted.
func (p *Provider) Start(ctx context.Context, _ provider.Member, update func([]provider.Member)) error {
	if update == nil {
		return fmt.Errorf("%w: static: Start: update must not be nil", provider.ErrInvalidConfig)
	}
	if err := p.lock(ctx); err != nil {
		return err
	}
	defer p.unlock()
	switch {
	case p.stopped:
		return provider.ErrStopped
	case p.started:
		return ErrStarted
	}
	p.started = true
	p.update = update
	p.report()
	return nil
}

// SetSeeds replaces the seed list, validated as in New. When the started
// Provider's set of seeds changes, SetSeeds calls update with the new set
// before it returns; an unchanged set (in any order, with any duplicates)
// reports nothing. Before Start it only replaces the list that Start will
// report. After Stop it returns provider.ErrStopped. It waits for an update
// in progress, or until ctx is done.
func (p *Provider) SetSeeds(ctx context.Context, seeds []string) error {
	norm, err := normalize(seeds)
	if err != nil {
		return err
	}
	if err := p.lock(ctx); err != nil {
		return err
	}
	defer p.unlock()
	if p.stopped {
		return provider.ErrStopped
	}
	if slices.Equal(norm, p.seeds) {
		return nil
	}
	p.seeds = norm
	if p.started {
		p.report()
	}
	return nil
}

// Stop ends reporting: no update call starts after Stop returns. It waits
// for an update in progress, or until ctx is done. Stop is idempotent, and
// stopping a Provider that was never started is allowed.
func (p *Provider) Stop(ctx context.Context) error {
	if err := p.lock(ctx); err != nil {
		return err
	}
	defer p.unlock()
	p.stopped = true
	p.update = nil
	return nil
}

// report calls update with the current seeds; the caller holds the turn.
func (p *Provider) report() {
	members := make([]provider.Member, len(p.seeds))
	for i, s := range p.seeds {
		members[i] = provider.Member{Address: s}
	}
	p.log.Info("static: seeds", zap.Strings("seeds", p.seeds))
	p.update(members)
}

func (p *Provider) lock(ctx context.Context) error {
	select {
	case p.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Provider) unlock() { <-p.turn }

// normalize validates seeds and returns them in canonical form
// (net.JoinHostPort of the host and the decimal port), sorted, without
// duplicates.
func normalize(seeds []string) ([]string, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%w: static: seeds: the list is empty; want at least one host:port", provider.ErrInvalidConfig)
	}
	out := make([]string, 0, len(seeds))
	for i, s := range seeds {
		n, err := parseSeed(s)
		if err != nil {
			return nil, fmt.Errorf("%w: static: seed %d %q: %v; want host:port with port 1..65535", provider.ErrInvalidConfig, i, s, err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// parseSeed returns s in canonical form, or what is wrong with it.
func parseSeed(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", err
	}
	if host == "" {
		return "", errors.New("missing host")
	}
	if port == "" || strings.TrimLeft(port, "0123456789") != "" {
		return "", fmt.Errorf("port %q is not a decimal number", port)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("port %s is out of range", port)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("host %q has a zone; zones are not allowed", host)
		}
		if ip.IsUnspecified() {
			return "", fmt.Errorf("host %s is the unspecified address; peers cannot dial it", host)
		}
		host = ip.Unmap().String()
	} else if err := checkHostname(host); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}

// checkHostname accepts DNS names of letters, digits, hyphens and
// underscores, labels of 1..63 bytes, at most 253 bytes in all.
func checkHostname(h string) error {
	name := strings.TrimSuffix(h, ".")
	if len(name) == 0 || len(name) > 253 {
		return fmt.Errorf("host %q is not a host name or IP address", h)
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return fmt.Errorf("host %q is not a host name or IP address (a label is empty or longer than 63 bytes)", h)
		}
		for _, c := range []byte(label) {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return fmt.Errorf("host %q is not a host name or IP address (byte %q)", h, c)
			}
		}
	}
	return nil
}
