package mdns

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider"
)

// Defaults and limits of Config. A zero field means its default.
const (
	// DefaultService is the DNS-SD service type Foundation members announce.
	DefaultService = "_foundation._tcp"
	// DefaultDomain is the multicast DNS domain (RFC 6762).
	DefaultDomain = "local."
	// DefaultAnnounceInterval: a member is re-announced every second, so
	// that a peer that expired it (or started late) sees it again within
	// one interval.
	DefaultAnnounceInterval = time.Second
	// DefaultExpireFactor: ExpireAfter defaults to this many
	// AnnounceIntervals (3s with the default interval), so that two lost
	// announcements in a row do not drop a live member.
	DefaultExpireFactor = 3

	// MinAnnounceInterval and MaxAnnounceInterval bound AnnounceInterval:
	// faster floods the link, slower makes discovery useless.
	MinAnnounceInterval = 10 * time.Millisecond
	MaxAnnounceInterval = 10 * time.Minute
	// MaxExpireAfter bounds ExpireAfter; its lower bound is twice
	// AnnounceInterval, so that one lost announcement does not drop a
	// member.
	MaxExpireAfter = time.Hour
)

// Config configures a Provider. The zero value is the default configuration:
// service _foundation._tcp in domain local., on every up, multicast-capable
// interface, announced every second, peers expired after three seconds of
// silence, unsigned, not logged. The fields with a YAML key are the "mdns"
// section of cluster.Config; the others (yaml:"-") are set in code. New
// copies it; later changes to the caller's Config (or its slices) do not
// affect the Provider.
type Config struct {
	// Service is the DNS-SD service type announced and browsed: "_name._tcp"
	// or "_name._udp", the name 1..15 letters, digits or hyphens. Members
	// with different services do not see each other. Default
	// DefaultService.
	Service string `yaml:"service,omitempty"`
	// Domain is the domain the service lives in, a DNS name other than the
	// root. Default DefaultDomain ("local.").
	Domain string `yaml:"domain,omitempty"`
	// Interfaces names the network interfaces to announce and listen on.
	// Each must exist, be up and support multicast when Start runs (for
	// "lo": ip link set lo multicast on). Packets arriving on other
	// interfaces are ignored. Default (empty): every interface that is up
	// and supports multicast.
	Interfaces []string `yaml:"interfaces,omitempty"`
	// AnnounceInterval is how often this member multicasts its
	// announcement, in MinAnnounceInterval..MaxAnnounceInterval. The
	// provider also answers a peer's query (sent when the peer starts) at
	// once, unless it announced within the last quarter interval. Default
	// DefaultAnnounceInterval (1s).
	AnnounceInterval time.Duration `yaml:"announce_interval,omitempty"`
	// ExpireAfter is how long a peer stays in the member set after it was
	// last heard: from 2×AnnounceInterval to MaxExpireAfter. A peer is
	// dropped between ExpireAfter and ExpireAfter+AnnounceInterval after its
	// last announcement, or at once when its goodbye arrives. It is also
	// the TTL, rounded up to whole seconds, of the records announced.
	// Default DefaultExpireFactor×AnnounceInterval (3s with the default
	// interval).
	ExpireAfter time.Duration `yaml:"expire_after,omitempty"`
	// Secret, when not empty, signs this member's announcements
	// (provider.Sign, TXT auth=) and admits only announcements and goodbyes
	// that provider.Verify accepts under it; the first announcement dropped
	// from each member is logged at warn level. Default (empty):
	// announcements are neither signed nor checked.
	Secret []byte `yaml:"-"`
	// Logger receives the provider's logs. Default (nil): no logging.
	Logger *zap.Logger `yaml:"-"`
}

// withDefaults returns a copy of c with every zero field set to its default
// and the slices copied.
func (c Config) withDefaults() Config {
	if c.Service == "" {
		c.Service = DefaultService
	}
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	if c.AnnounceInterval == 0 {
		c.AnnounceInterval = DefaultAnnounceInterval
	}
	if c.ExpireAfter == 0 && c.AnnounceInterval > 0 && c.AnnounceInterval <= MaxAnnounceInterval {
		c.ExpireAfter = DefaultExpireFactor * c.AnnounceInterval
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	c.Interfaces = slices.Clone(c.Interfaces)
	c.Secret = slices.Clone(c.Secret)
	return c
}

// Validate reports every field of c, with its defaults applied, that is out
// of range, each as a *provider.FieldError naming the field and what is
// allowed, joined with errors.Join; they wrap provider.ErrInvalidConfig.
// Validate does not change c. Whether the interfaces exist is checked by
// Start, when they are used.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, key, format string, args ...any) {
		errs = append(errs, &provider.FieldError{Provider: "mdns", Field: field, Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	serviceOK := validService(c.Service)
	if !serviceOK {
		bad("Service", "service", `%q: want "_name._tcp" or "_name._udp", the name 1..15 letters, digits or hyphens`, c.Service)
	}
	domainOK := true
	if _, ok := dns.IsDomainName(c.Domain); !ok || strings.Trim(c.Domain, ".") == "" || strings.ContainsAny(c.Domain, `\ `) {
		domainOK = false
		bad("Domain", "domain", `%q: want a DNS name such as "local."`, c.Domain)
	}
	if _, ok := dns.IsDomainName(strings.TrimSuffix(c.Service, ".") + "." + c.Domain); serviceOK && domainOK && !ok {
		bad("Service", "service", "%q with Config.Domain %q: the service name is longer than DNS allows", c.Service, c.Domain)
	}
	seen := make(map[string]bool, len(c.Interfaces))
	for i, name := range c.Interfaces {
		field, key := fmt.Sprintf("Interfaces[%d]", i), fmt.Sprintf("interfaces[%d]", i)
		switch {
		case name == "":
			bad(field, key, "is empty: want an interface name such as \"eth0\"")
		case seen[name]:
			bad(field, key, "%q is listed twice", name)
		}
		seen[name] = true
	}
	if c.AnnounceInterval < MinAnnounceInterval || c.AnnounceInterval > MaxAnnounceInterval {
		bad("AnnounceInterval", "announce_interval", "%v: want %v..%v (zero: %v)", c.AnnounceInterval, MinAnnounceInterval, MaxAnnounceInterval, DefaultAnnounceInterval)
	} else if c.ExpireAfter < 2*c.AnnounceInterval || c.ExpireAfter > MaxExpireAfter {
		bad("ExpireAfter", "expire_after", "%v: want 2×AnnounceInterval (%v)..%v (zero: %d×AnnounceInterval)", c.ExpireAfter, 2*c.AnnounceInterval, MaxExpireAfter, DefaultExpireFactor)
	}
	return errors.Join(errs...)
}

// validService reports whether s (one trailing dot allowed) is
// "_name._tcp" or "_name._udp" with a name of 1..15 letters, digits or
// hyphens (RFC 6763 section 7).
func validService(s string) bool {
	name, proto, ok := strings.Cut(strings.TrimSuffix(s, "."), ".")
	if !ok || (proto != "_tcp" && proto != "_udp") {
		return false
	}
	name, ok = strings.CutPrefix(name, "_")
	if !ok || len(name) == 0 || len(name) > 15 {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// DefaultMaxMembers is the default of WithMaxMembers.
const DefaultMaxMembers = 1024

// Option configures a Provider beyond its Config. Build options with the
// With… functions of this package.
type Option interface{ apply(*options) error }

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

type options struct {
	maxMembers int
}

// WithMaxMembers bounds how many peers a Provider tracks, so that a flood
// of announcements under made-up ids cannot grow its memory without limit;
// announcements from further new ids are dropped (and the first such drop
// is logged) until others expire. n must be at least 1. Default
// DefaultMaxMembers.
func WithMaxMembers(n int) Option {
	return optionFunc(func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: mdns: WithMaxMembers(%d): want at least 1", provider.ErrInvalidConfig, n)
		}
		o.maxMembers = n
		return nil
	})
}
