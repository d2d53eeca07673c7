package etcd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider"
)

// Defaults and limits of Config. A zero field means its default.
const (
	// DefaultPrefix is the key prefix members register under; the cluster
	// name and "/members/" follow it.
	DefaultPrefix = "/foundation/"
	// DefaultLeaseTTL: a member that stops renewing its lease (crashed,
	// partitioned) disappears from its peers' sets after at most 10s,
	// while a renewal (every third of the TTL) may be late by several
	// seconds without dropping a live member.
	DefaultLeaseTTL = 10 * time.Second
	// DefaultDialTimeout bounds each call to etcd (connect, grant, put,
	// get, revoke); a reachable etcd answers in milliseconds.
	DefaultDialTimeout = 2 * time.Second
	// DefaultStartRetries: Start makes up to four attempts (about nine
	// seconds with the other defaults) before it reports
	// provider.ErrUnavailable.
	DefaultStartRetries = 3
	// DefaultRetryMin is the first pause after a failed call; each further
	// failure doubles it.
	DefaultRetryMin = 100 * time.Millisecond
	// DefaultRetryMax caps the pause between retries, so that a member
	// registers again within about 5s of etcd coming back.
	DefaultRetryMax = 5 * time.Second

	// MinLeaseTTL and MaxLeaseTTL bound LeaseTTL: etcd grants leases in
	// whole seconds, and a longer TTL keeps a dead member listed for longer.
	MinLeaseTTL = time.Second
	MaxLeaseTTL = time.Hour
	// MinDialTimeout and MaxDialTimeout bound DialTimeout.
	MinDialTimeout = 10 * time.Millisecond
	MaxDialTimeout = time.Minute
	// MaxStartRetries bounds StartRetries.
	MaxStartRetries = 100
	// MinRetryMin bounds RetryMin from below; MaxRetryMax bounds RetryMax
	// from above.
	MinRetryMin = time.Millisecond
	MaxRetryMax = 5 * time.Minute
)

// Config configures a Provider. Only Endpoints is required; every other
// zero field means its default: prefix /foundation/, 10s leases, 2s per
// call, three retries at Start, retries backing off from 100ms to 5s,
// unsigned records, no logging. The fields with a YAML key are the "etcd"
// section of cluster.Config; the others (yaml:"-") are set in code. New
// copies it; later changes to the caller's Config (or its slices) do not
// affect the Provider.
type Config struct {
	// Endpoints are the etcd client URLs ("http://10.0.0.1:2379",
	// "https://etcd.example:2379") or host:port pairs. Required: at least
	// one, none empty.
	Endpoints []string `yaml:"endpoints,omitempty"`
	// Prefix is the key prefix members register under: a member of cluster
	// "shop" with id "m1" is the key Prefix + "shop/members/m1". A "/" is
	// appended when missing. Default DefaultPrefix ("/foundation/").
	Prefix string `yaml:"prefix,omitempty"`
	// LeaseTTL is the TTL of the lease holding this member's key: whole
	// seconds from MinLeaseTTL (1s) to MaxLeaseTTL (1h). Peers drop a member
	// at most LeaseTTL after it stops renewing (or at once when it stops
	// cleanly). Default DefaultLeaseTTL (10s).
	LeaseTTL time.Duration `yaml:"lease_ttl,omitempty"`
	// DialTimeout bounds each call to etcd, from MinDialTimeout to
	// MaxDialTimeout; a call that takes longer counts as a failure and is
	// retried. Default DefaultDialTimeout (2s).
	DialTimeout time.Duration `yaml:"-"`
	// StartRetries is how many times Start retries registering after a
	// failed attempt, pausing as described at RetryMin, before it returns
	// an error wrapping provider.ErrUnavailable. Zero means
	// DefaultStartRetries (3); a negative value means no retry (one
	// attempt); at most MaxStartRetries.
	StartRetries int `yaml:"-"`
	// RetryMin is the pause after the first failed call; each further
	// consecutive failure doubles it, up to RetryMax (each pause is
	// shortened at random by up to half, so that members do not retry in
	// step). The same pauses drive gRPC's reconnection. At least
	// MinRetryMin. Default DefaultRetryMin (100ms).
	RetryMin time.Duration `yaml:"-"`
	// RetryMax caps the pause between retries: from RetryMin to
	// MaxRetryMax. Default DefaultRetryMax (5s), or RetryMin when that is
	// larger.
	RetryMax time.Duration `yaml:"-"`
	// Secret, when not empty, signs this member's record (provider.Sign, in
	// its "auth" field) and admits only records that provider.Verify
	// accepts under it; the first record dropped under each key is logged
	// at warn level. Default (empty): records are neither signed nor
	// checked.
	Secret []byte `yaml:"-"`
	// Logger receives the provider's logs; the etcd client's own logs go
	// to it too, named "etcd-client", at error level and above only (its
	// warnings repeat on every internal retry). Default (nil): no logging.
	Logger *zap.Logger `yaml:"-"`
}

// withDefaults returns a copy of c with every zero field set to its default
// and the slices copied.
func (c Config) withDefaults() Config {
	c.Endpoints = slices.Clone(c.Endpoints)
	c.Secret = slices.Clone(c.Secret)
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.StartRetries == 0 {
		c.StartRetries = DefaultStartRetries
	}
	if c.StartRetries < 0 {
		c.StartRetries = 0
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate reports every field of c, with its defaults applied, that is
// missing or out of range, each as a *provider.FieldError naming the field
// and what is allowed, joined with errors.Join; they wrap
// provider.ErrInvalidConfig. Validate does not change c. Whether the
// endpoints answer is checked by Start.
func (c Config) Validate() error {
	neg := c.StartRetries
	c = c.withDefaults()
	var errs []error
	bad := func(field, key string, missing bool, format string, args ...any) {
		errs = append(errs, &provider.FieldError{Provider: "etcd", Field: field, Key: key, Missing: missing, Problem: fmt.Sprintf(format, args...)})
	}
	if len(c.Endpoints) == 0 {
		bad("Endpoints", "endpoints", true, `is empty: want at least one etcd client URL such as "http://127.0.0.1:2379"`)
	}
	for i, ep := range c.Endpoints {
		if err := checkEndpoint(ep); err != nil {
			bad(fmt.Sprintf("Endpoints[%d]", i), fmt.Sprintf("endpoints[%d]", i), false, `%q: %v; want a URL such as "http://127.0.0.1:2379" or host:port`, ep, err)
		}
	}
	if strings.ContainsRune(c.Prefix, 0) {
		bad("Prefix", "prefix", false, "%q: NUL bytes are not allowed", c.Prefix)
	}
	if c.LeaseTTL < MinLeaseTTL || c.LeaseTTL > MaxLeaseTTL || c.LeaseTTL%time.Second != 0 {
		bad("LeaseTTL", "lease_ttl", false, "%v: want whole seconds from %v to %v (zero: %v)", c.LeaseTTL, MinLeaseTTL, MaxLeaseTTL, DefaultLeaseTTL)
	}
	if c.DialTimeout < MinDialTimeout || c.DialTimeout > MaxDialTimeout {
		bad("DialTimeout", "", false, "%v: want %v..%v (zero: %v)", c.DialTimeout, MinDialTimeout, MaxDialTimeout, DefaultDialTimeout)
	}
	if neg > MaxStartRetries {
		bad("StartRetries", "", false, "%d: want at most %d (zero: %d; negative: no retry)", neg, MaxStartRetries, DefaultStartRetries)
	}
	if c.RetryMin < MinRetryMin || c.RetryMin > MaxRetryMax {
		bad("RetryMin", "", false, "%v: want %v..%v (zero: %v)", c.RetryMin, MinRetryMin, MaxRetryMax, DefaultRetryMin)
	} else if c.RetryMax < c.RetryMin || c.RetryMax > MaxRetryMax {
		bad("RetryMax", "", false, "%v: want RetryMin (%v)..%v (zero: %v)", c.RetryMax, c.RetryMin, MaxRetryMax, DefaultRetryMax)
	}
	return errors.Join(errs...)
}

// checkEndpoint accepts what the etcd client dials: a URL with scheme http,
// https, unix or unixs, or host:port.
func checkEndpoint(ep string) error {
	if ep == "" {
		return fmt.Errorf("empty")
	}
	if strings.ContainsAny(ep, " \t\r\n") {
		return fmt.Errorf("contains white space")
	}
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok {
		if host, port, err := net.SplitHostPort(ep); err != nil || host == "" || port == "" {
			return fmt.Errorf("not host:port")
		}
		return nil
	}
	switch scheme {
	case "http", "https":
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("no host")
		}
		if u.Path != "" && u.Path != "/" {
			return fmt.Errorf("a path is not allowed")
		}
	case "unix", "unixs":
		if rest == "" {
			return fmt.Errorf("no socket path")
		}
	default:
		return fmt.Errorf("scheme %q is not http, https, unix or unixs", scheme)
	}
	return nil
}
