package dns

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	miekg "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider"
)

// Defaults and limits of Config. A zero field means its default.
const (
	// DefaultInterval: Name is resolved again every five seconds, so a new
	// member is seen within about five seconds of its DNS record appearing
	// (plus the DNS server's own delay, such as a Kubernetes endpoint's
	// readiness).
	DefaultInterval = 5 * time.Second
	// DefaultTimeout is how long one query waits for an answer from one
	// server: the timeout of the Go and glibc resolvers is five seconds for
	// a whole lookup; two seconds per query leaves room to try another
	// server.
	DefaultTimeout = 2 * time.Second
	// DefaultStartRetries: Start tries the first lookup four times in all,
	// about RetryMin, 2×RetryMin and 4×RetryMin apart (each wait shortened
	// by up to half at random; at most 3.5s in all with the defaults),
	// so that a member starting alongside its DNS server (a pod alongside
	// CoreDNS) does not fail at once.
	DefaultStartRetries = 3
	// DefaultRetryMin is the first wait after a failed lookup; each
	// further failure doubles it, up to RetryMax. Every wait is shortened
	// by up to half at random, so members do not retry in step.
	DefaultRetryMin = 500 * time.Millisecond
	// DefaultRetryMax caps the wait between failing lookups: a DNS outage
	// costs one query (per server) every 30s, and its end is seen within
	// 30s.
	DefaultRetryMax = 30 * time.Second
	// DefaultServer is queried when Servers is empty and /etc/resolv.conf
	// cannot be read or names no server.
	DefaultServer = "127.0.0.1:53"

	// MinInterval bounds Interval from below: faster polling loads the DNS
	// server for no benefit.
	MinInterval = 10 * time.Millisecond
	// MinTimeout bounds Timeout and RetryMin from below.
	MinTimeout = time.Millisecond
)

// resolvConf is where Servers come from when the Config names none.
const resolvConf = "/etc/resolv.conf"

// Config configures a Provider. Name is required; every other field's zero
// value is its default: the port of self's address for A/AAAA records,
// polled every five seconds, the servers of /etc/resolv.conf, two seconds
// per query, three retries at Start, backoff from 500ms to 30s between
// failing lookups, not logged. The fields with a YAML key are the "dns"
// section of cluster.Config; the others (yaml:"-") are set in code. New
// copies it; later changes to the caller's Config (or its slices) do not
// affect the Provider.
type Config struct {
	// Name is the DNS name resolved, e.g. a Kubernetes headless service
	// "foundation.default.svc.cluster.local." (or, for one named port of
	// it, "_remoting._tcp.foundation.default.svc.cluster.local."). It is
	// taken as fully qualified, with or without the final dot: no search
	// domains of resolv.conf are applied. Required.
	Name string `yaml:"name,omitempty"`
	// Port is the port of the members found through A and AAAA records,
	// 1..65535; SRV records carry their own. Default (0): the port of
	// self.Address given to Start — members listen on the same port.
	Port int `yaml:"port,omitempty"`
	// Interval is how often Name is resolved again after a successful
	// lookup, at least MinInterval. Default DefaultInterval (5s).
	Interval time.Duration `yaml:"interval,omitempty"`
	// Servers are the DNS servers queried, each "host:port" (an IPv6 host
	// in brackets), in order: the next is asked when one does not answer,
	// or answers with an error other than NXDOMAIN. Default (empty): the
	// nameservers of /etc/resolv.conf (read by Start), or DefaultServer
	// (127.0.0.1:53) when that file cannot be read or names none.
	Servers []string `yaml:"servers,omitempty"`
	// Timeout is how long one query waits for one server's answer, at
	// least MinTimeout. Default DefaultTimeout (2s).
	Timeout time.Duration `yaml:"-"`
	// StartRetries is how many times Start tries the first lookup again
	// after it fails, waiting as RetryMin and RetryMax say, before it gives
	// up with provider.ErrUnavailable. Default (0): DefaultStartRetries
	// (3); a negative value: Start tries once.
	StartRetries int `yaml:"-"`
	// RetryMin is the wait after a lookup fails, doubled after each
	// further failure up to RetryMax, at least MinTimeout. Default
	// DefaultRetryMin (500ms).
	RetryMin time.Duration `yaml:"-"`
	// RetryMax caps the wait between failing lookups; at least RetryMin.
	// Default: DefaultRetryMax (30s), or RetryMin when that is longer.
	RetryMax time.Duration `yaml:"-"`
	// Logger receives the provider's logs. Default (nil): no logging.
	Logger *zap.Logger `yaml:"-"`
}

// withDefaults returns a copy of c with every zero field set to its default
// (Servers excepted: Start reads resolv.conf) and the slices copied.
func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.StartRetries == 0:
		c.StartRetries = DefaultStartRetries
	case c.StartRetries < 0:
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
	c.Servers = slices.Clone(c.Servers)
	return c
}

// Validate reports every field of c, with its defaults applied, that is
// missing or out of range, each as a *provider.FieldError naming the field
// and what is allowed, joined with errors.Join; they wrap
// provider.ErrInvalidConfig. Validate does not change c.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, key string, missing bool, format string, args ...any) {
		errs = append(errs, &provider.FieldError{Provider: "dns", Field: field, Key: key, Missing: missing, Problem: fmt.Sprintf(format, args...)})
	}
	switch _, ok := miekg.IsDomainName(c.Name); {
	case c.Name == "":
		bad("Name", "name", true, `is empty: want the DNS name to resolve, such as "foundation.default.svc.cluster.local"`)
	case !ok || strings.Trim(c.Name, ".") == "" || strings.ContainsAny(c.Name, `\ `):
		bad("Name", "name", false, `%q: want a DNS name such as "foundation.default.svc.cluster.local"`, c.Name)
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("Port", "port", false, "%d: want 1..65535 (zero: the port of self's address)", c.Port)
	}
	if c.Interval < MinInterval {
		bad("Interval", "interval", false, "%v: want at least %v (zero: %v)", c.Interval, MinInterval, DefaultInterval)
	}
	for i, s := range c.Servers {
		if err := checkServer(s); err != nil {
			bad(fmt.Sprintf("Servers[%d]", i), fmt.Sprintf("servers[%d]", i), false, "%q: %v; want host:port such as \"10.96.0.10:53\"", s, err)
		}
	}
	if c.Timeout < MinTimeout {
		bad("Timeout", "", false, "%v: want at least %v (zero: %v)", c.Timeout, MinTimeout, DefaultTimeout)
	}
	if c.RetryMin < MinTimeout {
		bad("RetryMin", "", false, "%v: want at least %v (zero: %v)", c.RetryMin, MinTimeout, DefaultRetryMin)
	} else if c.RetryMax < c.RetryMin {
		bad("RetryMax", "", false, "%v: want at least Config.RetryMin (%v) (zero: %v)", c.RetryMax, c.RetryMin, DefaultRetryMax)
	}
	return errors.Join(errs...)
}

// checkServer reports what is wrong with a DNS server's address.
func checkServer(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("missing host")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || strings.TrimLeft(port, "0123456789") != "" {
		return fmt.Errorf("port %q is not in 1..65535", port)
	}
	return nil
}

// systemServers returns the nameservers of the resolv.conf file at path, as
// host:port, or DefaultServer when it cannot be read or names none.
func systemServers(path string) []string {
	cc, err := miekg.ClientConfigFromFile(path)
	if err != nil || len(cc.Servers) == 0 {
		return []string{DefaultServer}
	}
	out := make([]string, len(cc.Servers))
	for i, s := range cc.Servers {
		out[i] = net.JoinHostPort(s, cc.Port)
	}
	return out
}
