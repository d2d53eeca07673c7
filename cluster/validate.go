package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foundation-go/foundation/provider"
)

// minSecretLen is the shortest secret accepted: 128 bits.
const minSecretLen = 16

// Bounds of suspicion_multiplier: one probe interval (per log10 of the
// size) at least; beyond twenty, failures take so long to confirm that
// members would rather be probed less often.
const (
	minSuspicionMultiplier = 1
	maxSuspicionMultiplier = 20
)

// configProblems collects Validate's findings.
type configProblems []error

func (p *configProblems) addf(key, format string, args ...any) {
	*p = append(*p, &ConfigError{Key: key, Problem: fmt.Sprintf(format, args...)})
}

// ConfigError is one problem Validate found: the YAML key and what is wrong
// with its value and what is allowed. It matches ErrInvalidConfig.
type ConfigError struct {
	Key     string
	Problem string
}

func (e *ConfigError) Error() string {
	return ErrInvalidConfig.Error() + ": " + e.Key + ": " + e.Problem
}

// Unwrap makes errors.Is(e, ErrInvalidConfig) hold.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func (p *configProblems) positive(key string, d time.Duration) {
	if d <= 0 {
		p.addf(key, "%v must be > 0", d)
	}
}

func (p *configProblems) port(key string, port int, zero string) {
	if port < 0 || port > 65535 {
		p.addf(key, "%d must be 0..65535 (0: %s)", port, zero)
	}
}

func (p *configProblems) hostPort(key, s string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		p.addf(key, "%q is not host:port (e.g. 10.0.0.5:7350 or [::1]:7350)", s)
		return
	}
	if host == "" {
		p.addf(key, "%q has no host; want host:port", s)
	} else if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		p.addf(key, "%q: %s cannot be dialled; want the address of a member", s, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.addf(key, "%q: port must be 1..65535", s)
	}
}

func (p *configProblems) file(key, path string) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.addf(key, "%q does not exist", path)
	case err != nil:
		p.addf(key, "%q cannot be read: %v", path, err)
	case info.IsDir():
		p.addf(key, "%q is a directory; want a PEM file", path)
	}
}

// Validate reports every problem with c as it is, joined with errors.Join;
// each wraps ErrInvalidConfig and names the YAML key and what is allowed:
//
//	cluster: invalid config: probe_timeout: 500ms must be < probe_interval (500ms), ...
//
// Empty Profile, Provider, LogLevel and split_brain.strategy stand for their
// defaults (development, auto, info, keep-majority) and pass, and so do zero
// fields of the provider sections, which mean the back-end's default; other
// zero values that cannot work (an empty Name, a zero duration) fail, so
// validate c.WithDefaults() unless every field is set — LoadConfig does.
// The provider sections are checked by the back-ends' own Validate (see
// validateProviders). Validate reads the file system to check that TLS
// files exist; it does not modify c.
func (c Config) Validate() error {
	var p configProblems
	profile := c.Profile
	if profile == "" {
		profile = ProfileDevelopment
	}

	switch {
	case c.Name == "":
		p.addf("name", "empty; want a cluster name of lower-case letters, digits, '-', '_' or '.'")
	case !isConfigName(c.Name):
		p.addf("name", "%q may contain only lower-case letters, digits, '-', '_' and '.'", c.Name)
	}
	switch profile {
	case ProfileDevelopment, ProfileProduction, ProfileEnterprise:
	default:
		p.addf("profile", "%q must be development, production or enterprise", c.Profile)
	}
	switch c.Provider {
	case "", ProviderAuto, ProviderStatic, ProviderMDNS, ProviderConsul, ProviderKubernetes, providerKubernetesLong, ProviderDNS, ProviderEtcd:
	default:
		p.addf("provider", "%q must be auto, static, mdns, consul, k8s (or kubernetes), dns or etcd", c.Provider)
	}
	// The secret's value never appears in a message.
	switch {
	case c.Secret == "" && (profile == ProfileProduction || profile == ProfileEnterprise):
		p.addf("secret", "required in the %s profile: set at least %d bytes shared by every member", profile, minSecretLen)
	case c.Secret != "" && len(c.Secret) < minSecretLen:
		p.addf("secret", "%d bytes is too short; must be at least %d bytes", len(c.Secret), minSecretLen)
	}

	switch {
	case c.Host == "":
		p.addf("host", "empty; want an IP address or host name to listen on, e.g. 127.0.0.1 or 0.0.0.0")
	case net.ParseIP(c.Host) == nil && !isHostName(c.Host):
		p.addf("host", "%q must be an IP address or a host name, without a port", c.Host)
	}
	p.port("port", c.Port, "pick a free port")
	if c.AdvertiseAddress != "" {
		p.hostPort("advertise_address", c.AdvertiseAddress)
	}
	p.port("cluster_port", c.ClusterPort, "pick a free port")
	if c.ClusterPort != 0 && c.ClusterPort == c.Port {
		p.addf("cluster_port", "%d is also port; membership gossip and actor remoting need different ports", c.ClusterPort)
	}
	if c.AdvertiseClusterAddress != "" {
		p.hostPort("advertise_cluster_address", c.AdvertiseClusterAddress)
	}

	p.positive("probe_interval", c.ProbeInterval)
	p.positive("probe_timeout", c.ProbeTimeout)
	if c.ProbeTimeout > 0 && c.ProbeInterval > 0 && c.ProbeTimeout >= c.ProbeInterval {
		p.addf("probe_timeout", "%v must be < probe_interval (%v), which leaves time for indirect probes", c.ProbeTimeout, c.ProbeInterval)
	}
	p.positive("gossip_interval", c.GossipInterval)
	if m := c.SuspicionMultiplier; m < minSuspicionMultiplier || m > maxSuspicionMultiplier {
		p.addf("suspicion_multiplier", "%d must be %d..%d", m, minSuspicionMultiplier, maxSuspicionMultiplier)
	}
	p.positive("join_timeout", c.JoinTimeout)
	p.positive("leave_timeout", c.LeaveTimeout)
	c.validateSplitBrain(&p)

	for i, s := range c.Seeds {
		p.hostPort(fmt.Sprintf("seeds[%d]", i), s)
	}
	if c.Provider == ProviderStatic && len(c.Seeds) == 0 {
		p.addf("seeds", "empty; provider static needs at least one host:port")
	}

	c.validateProviders(&p)

	tls := map[string]string{"cert_file": c.TLS.CertFile, "key_file": c.TLS.KeyFile, "ca_file": c.TLS.CAFile}
	var set, unset []string
	for _, k := range []string{"cert_file", "key_file", "ca_file"} {
		if tls[k] != "" {
			set = append(set, k)
			p.file("tls."+k, tls[k])
		} else {
			unset = append(unset, k)
		}
	}
	switch {
	case len(set) == 0 && profile == ProfileEnterprise:
		p.addf("tls", "required in the enterprise profile: set cert_file, key_file and ca_file (mutual TLS)")
	case len(set) > 0 && len(unset) > 0:
		p.addf("tls", "%s set but %s not; set cert_file, key_file and ca_file together, or none", strings.Join(set, ", "), strings.Join(unset, ", "))
	}

	for i, k := range c.Kinds {
		switch {
		case k == "":
			p.addf(fmt.Sprintf("kinds[%d]", i), "empty; a grain kind needs a name")
		case slices.Index(c.Kinds, k) < i:
			p.addf(fmt.Sprintf("kinds[%d]", i), "%q is listed twice", k)
		}
	}
	if _, ok := c.Labels[""]; ok {
		p.addf("labels", "a label has an empty key; every label needs a name")
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		p.addf("log_level", "%q must be debug, info, warn or error", c.LogLevel)
	}
	c.validateTelemetry(&p)
	return errors.Join(p...)
}

// Bounds of telemetry.recorder_size.
const (
	minRecorderSize = 16
	maxRecorderSize = 1 << 20
)

// validateTelemetry checks the telemetry section.
func (c Config) validateTelemetry(p *configProblems) {
	tc := c.Telemetry
	switch addr := tc.Address; {
	case addr == "":
		p.addf("telemetry.address", "empty; want host:port (empty host: the member's host; port 0: a free port) or off")
	case addr == TelemetryOff:
	default:
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			p.addf("telemetry.address", "%q is not host:port (e.g. :7352, 127.0.0.1:0) or off", addr)
		case perr != nil || n < 0 || n > 65535:
			p.addf("telemetry.address", "%q: port must be 0..65535 (0: pick a free port)", addr)
		case host != "" && net.ParseIP(host) == nil && !isHostName(host):
			p.addf("telemetry.address", "%q: host must be an IP address or a host name (empty: the member's host)", addr)
		case n != 0 && (n == c.Port || n == c.ClusterPort):
			p.addf("telemetry.address", "%q: port %d is also port or cluster_port; the HTTP listener needs a port of its own", addr, n)
		}
	}
	switch tc.Metrics {
	case "", TelemetryOn, TelemetryOff:
	default:
		p.addf("telemetry.metrics", "%q must be on or off", tc.Metrics)
	}
	switch tc.Tracing {
	case "", TelemetryOn, TelemetryFollow, TelemetryOff:
	default:
		p.addf("telemetry.tracing", "%q must be off, follow or on", tc.Tracing)
	}
	if r := tc.SampleRatio; !(r > 0 && r <= 1) {
		p.addf("telemetry.sample_ratio", "%v must be > 0 and <= 1 (to start no trace, set telemetry.tracing to follow)", r)
	}
	if n := tc.RecorderSize; n < minRecorderSize || n > maxRecorderSize {
		p.addf("telemetry.recorder_size", "%d must be %d..%d", n, minRecorderSize, maxRecorderSize)
	}
	if tc.ExpectedMembers < 0 {
		p.addf("telemetry.expected_members", "%d must be >= 0 (0: not compared)", tc.ExpectedMembers)
	}
	switch tc.Advisor {
	case "", TelemetryOff, TelemetryRecommend, TelemetryApply:
	default:
		p.addf("telemetry.advisor", "%q must be off, recommend or apply", tc.Advisor)
	}
}

// validateSplitBrain checks the split_brain section.
func (c Config) validateSplitBrain(p *configProblems) {
	sb := c.SplitBrain
	strategy := sb.Strategy
	switch strategy {
	case "":
		strategy = SplitBrainKeepMajority
	case SplitBrainKeepMajority, SplitBrainStaticQuorum, SplitBrainKeepOldest, SplitBrainDownAll, SplitBrainLeaseMajority:
	default:
		p.addf("split_brain.strategy", "%q must be %s, %s, %s, %s or %s", sb.Strategy,
			SplitBrainKeepMajority, SplitBrainStaticQuorum, SplitBrainKeepOldest, SplitBrainDownAll, SplitBrainLeaseMajority)
	}
	p.positive("split_brain.stable_after", sb.StableAfter)
	switch {
	case strategy == SplitBrainStaticQuorum && sb.QuorumSize < 1:
		p.addf("split_brain.quorum_size", "%d; strategy static-quorum needs a quorum size >= 1, more than half the planned cluster size", sb.QuorumSize)
	case strategy != SplitBrainStaticQuorum && sb.QuorumSize != 0:
		p.addf("split_brain.quorum_size", "%d must be 0 unless split_brain.strategy is static-quorum", sb.QuorumSize)
	}
	if sb.OldestSurvivesAlone && strategy != SplitBrainKeepOldest {
		p.addf("split_brain.oldest_survives_alone", "true applies only to split_brain.strategy keep-oldest")
	}

	l := sb.Lease
	switch l.Backend {
	case "", LeaseBackendEtcd, LeaseBackendKubernetes:
	default:
		p.addf("split_brain.lease.backend", "%q must be etcd or kubernetes (empty: the provider's, when that is etcd or k8s)", l.Backend)
	}
	if strategy == SplitBrainLeaseMajority {
		switch backend := c.leaseBackend(c.Provider); {
		case backend == "" && l.Backend == "":
			p.addf("split_brain.lease.backend", "empty and provider %q holds no lease; strategy lease-majority needs etcd or kubernetes: set it, or provider etcd or k8s", c.Provider)
		case backend == LeaseBackendEtcd && len(c.Etcd.Endpoints) == 0 && c.Provider != ProviderEtcd: // provider etcd reports the endpoints itself
			p.addf("split_brain.lease.backend", "etcd needs etcd.endpoints: set at least one etcd client URL")
		}
	}
	switch {
	case l.Name != "" && !isDNSLabel(l.Name):
		p.addf("split_brain.lease.name", "%q must be a DNS label: at most 63 lower-case letters, digits and '-', beginning and ending with a letter or digit", l.Name)
	case l.Name == "" && strategy == SplitBrainLeaseMajority && isConfigName(c.Name) && !isDNSLabel(c.leaseName()):
		p.addf("split_brain.lease.name", "empty, and its default %q (name + \"-split-brain\") is not a DNS label: set a name of at most 63 lower-case letters, digits and '-'", c.leaseName())
	}
	if l.TTL < time.Second {
		p.addf("split_brain.lease.ttl", "%v must be >= 1s (etcd grants leases in whole seconds)", l.TTL)
	}
	if l.AcquireDelay < 0 {
		p.addf("split_brain.lease.acquire_delay", "%v must be >= 0", l.AcquireDelay)
	}
}

// validateProviders checks the provider sections, each with its back-end's
// own Validate, and names every problem by its key ("consul.ttl"), or by
// section and field for a field set only in code ("consul:
// Config.RetryMin"). Every section is checked whatever the provider (auto
// may pick any of them). Only the section of a provider chosen explicitly
// is checked as that back-end will get it — with the defaults Resolved
// derives from the rest of the Config — and only there is a missing
// required setting (consul.address, dns.name, etcd.endpoints) a problem; a
// field Start supplies (the k8s client) never is.
func (c Config) validateProviders(p *configProblems) {
	chosen := c.Provider
	if chosen == providerKubernetesLong {
		chosen = ProviderKubernetes
	}
	pick := func(raw, resolved validator, name string) validator {
		if name == chosen {
			return resolved
		}
		return raw
	}
	r := c.resolved(chosen)
	for _, s := range []struct {
		key, name string
		cfg       validator
	}{
		{"mdns", ProviderMDNS, pick(c.MDNS, r.MDNS, ProviderMDNS)},
		{"consul", ProviderConsul, pick(c.Consul, r.Consul, ProviderConsul)},
		{"kubernetes", ProviderKubernetes, pick(c.Kubernetes, r.Kubernetes, ProviderKubernetes)},
		{"dns", ProviderDNS, pick(c.DNS, r.DNS, ProviderDNS)},
		{"etcd", ProviderEtcd, pick(c.Etcd, r.Etcd, ProviderEtcd)},
	} {
		err := s.cfg.Validate()
		fields := provider.FieldErrors(err)
		if err != nil && len(fields) == 0 {
			p.addf(s.key, "%v", err) // not reached: every back-end reports FieldErrors
		}
		for _, fe := range fields {
			switch {
			case fe.Missing && (fe.Key == "" || s.name != chosen):
				// Supplied by Start, or a back-end that may never start.
			case fe.Key == "":
				p.addf(s.key, "Config.%s %s", fe.Field, fe.Problem)
			default:
				p.addf(s.key+"."+fe.Key, "%s", fe.Problem)
			}
		}
	}
}

// validator is a provider section.
type validator interface{ Validate() error }

// isConfigName reports whether s is a valid cluster name.
func isConfigName(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' && r != '.' {
			return false
		}
	}
	return s != ""
}

// isHostName reports whether s is plausible as a DNS host name.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

// isDNSLabel reports whether s is an RFC 1123 DNS label, as Kubernetes
// requires of many object names: 1..63 lower-case letters, digits and '-',
// beginning and ending with a letter or digit.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
