package consul

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider"
)

// Defaults and limits of Config. A zero field means its default.
const (
	// DefaultTTL is the time-to-live of a member's health check. The
	// provider renews it every TTL/3, so two renewals in a row may be lost
	// before the agent marks the member critical. Consul drives discovery
	// only (failures are the cluster's heartbeats' job), so a long TTL
	// keeps the agent's load low.
	DefaultTTL = 10 * time.Second
	// MinTTL bounds TTL from below: renewals every TTL/3 must leave the
	// agent time to answer.
	MinTTL = 10 * time.Millisecond

	// DefaultDeregisterAfter is how long a member's check may stay critical
	// before Consul removes the registration (a member that crashed without
	// deregistering). It is also MinDeregisterAfter.
	DefaultDeregisterAfter = time.Minute
	// MinDeregisterAfter is Consul's own minimum for
	// DeregisterCriticalServiceAfter: an agent silently raises a lower value
	// to it, so the provider rejects one rather than pretend to honour it.
	MinDeregisterAfter = time.Minute

	// DefaultWaitTime is how long one blocking query waits for a change
	// before the agent answers anyway.
	DefaultWaitTime = 30 * time.Second
	// MaxWaitTime is Consul's cap on a blocking query's wait.
	MaxWaitTime = 10 * time.Minute

	// DefaultRetryMin and DefaultRetryMax bound the exponential backoff
	// between attempts after an error: the first retry waits about
	// RetryMin, each later one twice as long, up to RetryMax.
	DefaultRetryMin = 100 * time.Millisecond
	DefaultRetryMax = 5 * time.Second

	// DefaultStartRetries is how many attempts Start makes to register
	// before it gives up with provider.ErrUnavailable.
	DefaultStartRetries = 3

	// DefaultRequestTimeout bounds each request to the agent, beyond a
	// blocking query's wait: an agent behind a dead connection is noticed
	// within it rather than after TCP gives up.
	DefaultRequestTimeout = 5 * time.Second
)

// Config configures a Provider. Address and Service are required; every
// other zero field means its default. The fields with a YAML key are the
// "consul" section of cluster.Config; the others (yaml:"-") are set in code.
// New copies it; later changes to the caller's Config (or its Secret) do not
// affect the Provider.
type Config struct {
	// Address is the Consul agent's HTTP API: "host:port"
	// ("127.0.0.1:8500"), or a URL "http://host:port[/prefix]",
	// "https://host:port[/prefix]" (verified against the system's root CAs)
	// or "unix:///path/to/socket". Required: this package has no default
	// (the cluster configuration supplies "127.0.0.1:8500").
	Address string `yaml:"address,omitempty"`
	// Service is the Consul service name members register under and watch.
	// Members of one cluster must use the same name. 1..255 letters, digits,
	// '-', '_' or '.'. Required.
	Service string `yaml:"service,omitempty"`
	// TTL is the time-to-live of each member's TTL check: the provider
	// passes it at registration and every TTL/3 after; a member not renewed
	// within TTL turns critical and drops out of the other members' sets.
	// At least MinTTL. Default DefaultTTL (10s).
	TTL time.Duration `yaml:"ttl,omitempty"`
	// DeregisterAfter is the registration's DeregisterCriticalServiceAfter:
	// the agent removes a member whose check has stayed critical this long
	// (a member that crashed). At least MinDeregisterAfter (1m, Consul's
	// minimum). Default DefaultDeregisterAfter (1m).
	DeregisterAfter time.Duration `yaml:"deregister_after,omitempty"`
	// WaitTime is how long one blocking query on the service's healthy
	// instances waits for a change before the agent answers unchanged, in
	// (0, MaxWaitTime]. Shorter means more idle queries, not faster
	// discovery: a change wakes the query at once. Default DefaultWaitTime
	// (30s).
	WaitTime time.Duration `yaml:"-"`
	// RetryMin and RetryMax bound the exponential backoff after an error
	// (each delay is drawn between half and all of the current step, which
	// doubles from RetryMin up to RetryMax). RetryMin is also the least
	// time between the starts of two blocking queries, so that an agent
	// answering at once cannot make the provider spin. RetryMin > 0 and
	// RetryMax >= RetryMin. Defaults DefaultRetryMin (100ms) and
	// DefaultRetryMax (5s).
	RetryMin time.Duration `yaml:"-"`
	RetryMax time.Duration `yaml:"-"`
	// StartRetries is how many attempts Start makes to register this member
	// before it returns an error wrapping provider.ErrUnavailable that names
	// the address; at least 1. Default DefaultStartRetries (3).
	StartRetries int `yaml:"-"`
	// RequestTimeout bounds each request to the agent (a blocking query
	// gets WaitTime plus WaitTime/16, the agent's jitter, on top). Default
	// DefaultRequestTimeout (5s).
	RequestTimeout time.Duration `yaml:"-"`
	// Secret, when not empty, signs this member's announcement
	// (provider.Sign, in the service meta "auth") and admits only instances
	// whose signature provider.Verify accepts under it; the first instance
	// dropped under each id is logged at warn level. Default (empty):
	// announcements are neither signed nor checked (self.Auth, if set, is
	// announced as given).
	Secret []byte `yaml:"-"`
	// Token is the ACL token sent with every request (X-Consul-Token). It
	// needs service:write on Service and read access to its health. Default
	// (empty): the agent's default token, or CONSUL_HTTP_TOKEN as the Consul
	// API client library reads it.
	Token string `yaml:"-"`
	// Logger receives the provider's logs. Default (nil): no logging.
	Logger *zap.Logger `yaml:"-"`
}

// withDefaults returns a copy of c with every zero field set to its default
// and Secret copied.
func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.DeregisterAfter == 0 {
		c.DeregisterAfter = DefaultDeregisterAfter
	}
	if c.WaitTime == 0 {
		c.WaitTime = DefaultWaitTime
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	if c.StartRetries == 0 {
		c.StartRetries = DefaultStartRetries
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	c.Secret = slices.Clone(c.Secret)
	return c
}

// Validate reports every field of c, with its defaults applied, that is
// missing or out of range, each as a *provider.FieldError naming the field
// and what is allowed, joined with errors.Join; they wrap
// provider.ErrInvalidConfig. Validate does not change c and does not
// contact the agent.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, key, format string, args ...any) {
		errs = append(errs, fieldError(field, key, format, args...))
	}
	if _, err := parseAddress(c.Address); err != nil {
		errs = append(errs, err)
	}
	if !validService(c.Service) {
		errs = append(errs, &provider.FieldError{Provider: "consul", Field: "Service", Key: "service", Missing: c.Service == "",
			Problem: fmt.Sprintf("%q: want 1..255 letters, digits, '-', '_' or '.' (members of one cluster share it)", c.Service)})
	}
	if c.TTL < MinTTL {
		bad("TTL", "ttl", "%v: want at least %v (zero: %v)", c.TTL, MinTTL, DefaultTTL)
	}
	if c.DeregisterAfter < MinDeregisterAfter {
		bad("DeregisterAfter", "deregister_after", "%v: want at least %v, Consul's minimum for DeregisterCriticalServiceAfter (zero: %v)", c.DeregisterAfter, MinDeregisterAfter, DefaultDeregisterAfter)
	}
	if c.WaitTime < 0 || c.WaitTime > MaxWaitTime {
		bad("WaitTime", "", "%v: want (0, %v] (zero: %v)", c.WaitTime, MaxWaitTime, DefaultWaitTime)
	}
	if c.RetryMin < 0 {
		bad("RetryMin", "", "%v: want > 0 (zero: %v)", c.RetryMin, DefaultRetryMin)
	} else if c.RetryMax < c.RetryMin {
		bad("RetryMax", "", "%v: want at least Config.RetryMin (%v) (zero: %v)", c.RetryMax, c.RetryMin, DefaultRetryMax)
	}
	if c.StartRetries < 0 {
		bad("StartRetries", "", "%d: want at least 1 (zero: %d)", c.StartRetries, DefaultStartRetries)
	}
	if c.RequestTimeout < 0 {
		bad("RequestTimeout", "", "%v: want > 0 (zero: %v)", c.RequestTimeout, DefaultRequestTimeout)
	}
	if strings.ContainsFunc(c.Token, isControl) {
		bad("Token", "", "contains a control character; want the token's printable text")
	}
	return errors.Join(errs...)
}

// fieldError returns the *provider.FieldError of field (YAML key key).
func fieldError(field, key, format string, args ...any) *provider.FieldError {
	return &provider.FieldError{Provider: "consul", Field: field, Key: key, Problem: fmt.Sprintf(format, args...)}
}

// invalid returns an error wrapping provider.ErrInvalidConfig.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: consul: "+format, append([]any{provider.ErrInvalidConfig}, args...)...)
}

// agentAddress is a parsed Config.Address.
type agentAddress struct {
	// api is the address given to the Consul API client: "host:port",
	// "http://…" or "https://…"; for a socket, a placeholder host.
	api string
	// socket is the path of a unix socket, or empty.
	socket string
}

// parseAddress checks Config.Address and splits off a unix socket path.
func parseAddress(addr string) (agentAddress, error) {
	bad := func(why string) (agentAddress, error) {
		e := fieldError("Address", "address", "%q: %s; want host:port (such as 127.0.0.1:8500) or an http://, https:// or unix:// URL", addr, why)
		e.Missing = addr == ""
		return agentAddress{}, e
	}
	if addr == "" {
		return bad("empty")
	}
	if strings.ContainsFunc(addr, isControl) || strings.ContainsAny(addr, " \t") {
		return bad("contains white space or a control character")
	}
	scheme, rest, hasScheme := strings.Cut(addr, "://")
	if !hasScheme {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return bad(err.Error())
		}
		if host == "" {
			return bad("missing host")
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return bad(fmt.Sprintf("port %q is not in 1..65535", port))
		}
		return agentAddress{api: addr}, nil
	}
	switch scheme {
	case "http", "https":
		u, err := url.Parse(addr)
		if err != nil {
			return bad(err.Error())
		}
		if u.Host == "" || u.Hostname() == "" {
			return bad("missing host")
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
				return bad(fmt.Sprintf("port %q is not in 1..65535", p))
			}
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return bad("a query, fragment or user name is not allowed")
		}
		return agentAddress{api: addr}, nil
	case "unix":
		if !strings.HasPrefix(rest, "/") {
			return bad("want an absolute socket path, unix:///path")
		}
		return agentAddress{api: "localhost", socket: rest}, nil
	default:
		return bad(fmt.Sprintf("unknown scheme %q", scheme))
	}
}

// validService reports whether s is 1..255 letters, digits, '-', '_' or '.'.
func validService(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
