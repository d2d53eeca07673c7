package cluster

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/foundation-go/foundation/internal/errs"
)

// Severity ranks a readiness finding.
type Severity int

// The severities, least severe first.
const (
	// SeverityInfo: a figure or a note; nothing to fix.
	SeverityInfo Severity = iota
	// SeverityWarning: works, at a risk the finding names.
	SeverityWarning
	// SeverityError: must be fixed before the configuration ships.
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText writes the severity's name (for JSON reports).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	for _, v := range []Severity{SeverityInfo, SeverityWarning, SeverityError} {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("severity %q: want info, warning or error", b)
}

// The areas of readiness findings.
const (
	AreaConfig   = "config"
	AreaSecurity = "security"
	AreaTiming   = "timing"
	AreaCapacity = "capacity"
)

// Finding is one result of CheckReadiness: what is wrong or worth knowing,
// about which key, and how to fix it.
type Finding struct {
	Severity Severity `json:"severity"`
	// Area is config, security, timing or capacity.
	Area string `json:"area"`
	// Key is the configuration key concerned (YAML), or empty.
	Key string `json:"key,omitempty"`
	// Problem says what is wrong and why it matters.
	Problem string `json:"problem"`
	// Fix says what to change.
	Fix string `json:"fix,omitempty"`
}

// ReadinessOptions describe the deployment a Config is checked for.
type ReadinessOptions struct {
	// Members is the planned cluster size; 0 means
	// telemetry.expected_members, and when that is 0 too, the size-dependent
	// checks assume 3.
	Members int
	// Throughput is the load the cluster must carry, in messages per
	// second; 0 skips the capacity check.
	Throughput float64
	// PerMember is what one member carries, in messages per second: a
	// measurement (the CLI's check runs a short self-benchmark). Required
	// when Throughput is set.
	PerMember float64
}

// ReadinessReport is CheckReadiness's result.
type ReadinessReport struct {
	Profile Profile `json:"profile"`
	// Members is the cluster size the checks assumed.
	Members int `json:"members"`
	// Failover estimates how long a crashed member stays in the view:
	// until probed (half a probe interval on average), one probe with its
	// indirect probes, the suspicion timeout, then split_brain.stable_after.
	Failover time.Duration `json:"failover_ns"`
	// MembersNeeded is the capacity estimate (0 without a throughput).
	MembersNeeded int       `json:"members_needed,omitempty"`
	Findings      []Finding `json:"findings"`
}

// Ready reports whether the report has no error: the exit status of a CI
// gate (warnings do not fail it unless the caller is strict).
func (r ReadinessReport) Ready() bool { return r.Count(SeverityError) == 0 }

// Count is the number of findings of severity s.
func (r ReadinessReport) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Capacity planning constants: a member is planned at 70% of what it
// measured (headroom for GC, rebalancing and bursts), and the cluster keeps
// its throughput with one member lost.
const (
	capacityHeadroom = 0.7
	// secretGoodLen is the secret length recommended: 256 bits.
	secretGoodLen = 32
	// minSuspicionOnNetwork: below this a GC pause or a retransmission
	// gets a live member declared failed.
	minSuspicionOnNetwork = time.Second
	// minProbeTimeoutOnNetwork: an ack on a real network (a round trip, a
	// scheduling delay) needs this at least.
	minProbeTimeoutOnNetwork = 100 * time.Millisecond
	// slowFailover: a crashed member's grains and singletons wait this long.
	slowFailover = 10 * time.Second
)

// CheckReadiness checks c, with its profile's defaults filled in, for
// shipping: the problems Validate reports (errors), security (no or a short
// secret, a network-facing member without mutual TLS, the HTTP listener
// with its debug endpoints on every interface), timings that risk false
// suspicions or slow failover, split-brain settings unfit for the planned
// size, and capacity (members needed for o.Throughput). Every finding has a
// reason and a fix; Ready is false when any is an error. CheckReadiness
// reads the file system only to check that TLS files exist.
func CheckReadiness(c Config, o ReadinessOptions) ReadinessReport {
	c = c.WithDefaults()
	r := ReadinessReport{Profile: c.Profile, Members: o.Members}
	if r.Members <= 0 {
		r.Members = c.Telemetry.ExpectedMembers
	}
	planned := r.Members > 0
	if !planned {
		r.Members = 3
	}
	add := func(s Severity, area, key, problem, fix string) {
		r.Findings = append(r.Findings, Finding{Severity: s, Area: area, Key: key, Problem: problem, Fix: fix})
	}

	if err := c.Validate(); err != nil {
		for _, e := range errs.Flatten(err) {
			var ce *ConfigError
			if errors.As(e, &ce) {
				add(SeverityError, AreaConfig, ce.Key, ce.Problem, "set "+ce.Key+" as the problem says (docs/reference/configuration-options.md lists every key)")
			} else {
				add(SeverityError, AreaConfig, "", e.Error(), "")
			}
		}
	}

	networked := !isLoopbackHost(c.Host)
	production := c.Profile == ProfileProduction || c.Profile == ProfileEnterprise

	// Security.
	switch {
	case c.Secret == "" && networked && !production: // production's Validate requires it
		add(SeverityError, AreaSecurity, "secret", fmt.Sprintf("no secret while listening on %s: any process that knows the cluster name %q can join and call every grain", c.Host, c.Name),
			fmt.Sprintf("set secret (FOUNDATION_SECRET) to at least %d random bytes shared by every member, e.g. from a Kubernetes Secret", secretGoodLen))
	case c.Secret != "" && len(c.Secret) < secretGoodLen:
		add(SeverityWarning, AreaSecurity, "secret", fmt.Sprintf("%d bytes: shorter than the recommended %d", len(c.Secret), secretGoodLen),
			fmt.Sprintf("use %d or more random bytes (e.g. openssl rand -base64 32)", secretGoodLen))
	}
	if c.Secret != "" && distinctBytes(c.Secret) < 8 {
		add(SeverityWarning, AreaSecurity, "secret", fmt.Sprintf("only %d distinct characters: guessable", distinctBytes(c.Secret)),
			"generate the secret randomly (openssl rand -base64 32)")
	}
	tlsOn := c.TLS.CertFile != "" && c.TLS.KeyFile != "" && c.TLS.CAFile != ""
	if networked && !tlsOn && c.Profile != ProfileEnterprise {
		add(SeverityWarning, AreaSecurity, "tls", "members authenticate each other with the secret but their traffic is not encrypted",
			"set tls.cert_file, tls.key_file and tls.ca_file (mutual TLS), or keep the cluster on a private network")
	}
	if host, open := telemetryExposed(c); open {
		add(SeverityWarning, AreaSecurity, "telemetry.address", fmt.Sprintf("the HTTP listener (%s) serves /debug/..., /dashboard and /metrics without authentication on every interface of %s", c.Telemetry.Address, host),
			"bind telemetry.address to 127.0.0.1 or a private interface (probes use the pod IP), or restrict the port with a firewall or NetworkPolicy")
	}
	if c.Profile == ProfileDevelopment && networked {
		add(SeverityWarning, AreaTiming, "profile", fmt.Sprintf("the development profile on %s: its timings (probe_timeout %v) are for loopback", c.Host, c.ProbeTimeout),
			"use profile production on a real network")
	}
	if production && c.LogLevel == "debug" {
		add(SeverityInfo, AreaConfig, "log_level", "debug logging in production costs CPU and floods the log pipeline", "use info; raise the level per member when investigating")
	}

	// Timings.
	suspicion := suspicionTimeout(c, r.Members)
	r.Failover = c.ProbeInterval/2 + c.ProbeInterval + suspicion + c.SplitBrain.StableAfter
	if networked && c.ProbeInterval > 0 {
		if suspicion < minSuspicionOnNetwork {
			add(SeverityWarning, AreaTiming, "suspicion_multiplier", fmt.Sprintf("a suspected member has %v to refute (suspicion_multiplier %d × probe_interval %v at %d members): a GC pause or a lost packet can get a live member declared failed", suspicion, c.SuspicionMultiplier, c.ProbeInterval, r.Members),
				fmt.Sprintf("raise suspicion_multiplier or probe_interval so that the product is at least %v", minSuspicionOnNetwork))
		}
		if c.ProbeTimeout > 0 && c.ProbeTimeout < minProbeTimeoutOnNetwork {
			add(SeverityWarning, AreaTiming, "probe_timeout", fmt.Sprintf("%v leaves no room for a network round trip and a scheduling delay: probes fail on a healthy network", c.ProbeTimeout),
				fmt.Sprintf("set probe_timeout to at least %v (production uses 300ms)", minProbeTimeoutOnNetwork))
		}
	}
	if r.Failover > slowFailover {
		add(SeverityWarning, AreaTiming, "split_brain.stable_after", fmt.Sprintf("a crashed member's grains and singletons wait about %v before they move", r.Failover.Round(time.Millisecond)),
			"lower probe_interval, suspicion_multiplier or split_brain.stable_after (production fails over in about 2.5s)")
	}
	if g := c.GossipInterval; g > 0 && c.SplitBrain.StableAfter > 0 && c.SplitBrain.StableAfter < 2*g {
		add(SeverityWarning, AreaTiming, "split_brain.stable_after", fmt.Sprintf("%v is under two gossip rounds (%v): the resolver may decide before every member has heard of every unreachable one, and sides may decide on different sets", c.SplitBrain.StableAfter, 2*g),
			fmt.Sprintf("set split_brain.stable_after to at least %v", 2*g))
	}

	// Split brain and size.
	sb := c.SplitBrain
	switch sb.Strategy {
	case SplitBrainStaticQuorum:
		if planned && sb.QuorumSize > 0 && sb.QuorumSize*2 <= r.Members {
			add(SeverityError, AreaConfig, "split_brain.quorum_size", fmt.Sprintf("%d is not more than half of %d members: both sides of an even partition keep running (two singletons, two owners of each grain)", sb.QuorumSize, r.Members),
				fmt.Sprintf("set split_brain.quorum_size to %d", r.Members/2+1))
		}
		if planned && sb.QuorumSize > r.Members {
			add(SeverityError, AreaConfig, "split_brain.quorum_size", fmt.Sprintf("%d is more than the %d members planned: no side can ever keep running", sb.QuorumSize, r.Members),
				fmt.Sprintf("set split_brain.quorum_size to %d", r.Members/2+1))
		}
	case "", SplitBrainKeepMajority:
		if planned && r.Members > 2 && r.Members%2 == 0 {
			add(SeverityWarning, AreaConfig, "split_brain.strategy", fmt.Sprintf("%d members under keep-majority: an even split keeps the side with the lowest address, whichever is healthier", r.Members),
				fmt.Sprintf("run an odd number of members (%d or %d)", r.Members-1, r.Members+1))
		}
	case SplitBrainLeaseMajority:
		// A cut-off member misses every probe at once; the majority sees
		// the split at its next probe round. The minority's delay must
		// cover that gap, with room for load.
		if gap := 2 * (c.ProbeInterval + c.ProbeTimeout); c.ProbeInterval > 0 && sb.Lease.AcquireDelay > 0 && sb.Lease.AcquireDelay < gap {
			add(SeverityWarning, AreaTiming, "split_brain.lease.acquire_delay", fmt.Sprintf("%v is under two probe rounds (%v): a cut-off member, which sees the split first, can take the lease before the majority asks, and the majority then downs itself", sb.Lease.AcquireDelay, gap),
				fmt.Sprintf("set split_brain.lease.acquire_delay to at least %v (the default is 2s)", gap))
		}
	case SplitBrainKeepOldest:
		if sb.OldestSurvivesAlone {
			add(SeverityWarning, AreaConfig, "split_brain.oldest_survives_alone", "the oldest member cut off alone keeps running and the rest of the cluster downs itself",
				"leave oldest_survives_alone false unless the oldest member is special")
		}
	}
	if production && planned && r.Members < 3 {
		add(SeverityWarning, AreaCapacity, "", fmt.Sprintf("%d member(s): a cluster needs 3 to tell a crashed member from a partition and keep serving through either", r.Members),
			"run at least 3 members")
	}

	// Capacity.
	switch {
	case o.Throughput < 0 || math.IsNaN(o.Throughput) || o.PerMember < 0 || math.IsNaN(o.PerMember):
		add(SeverityError, AreaCapacity, "", fmt.Sprintf("throughput %v and per-member %v must be >= 0", o.Throughput, o.PerMember), "pass a throughput and a per-member rate in messages per second, or 0 to skip")
	case o.Throughput > 0 && o.PerMember <= 0:
		add(SeverityError, AreaCapacity, "", "a throughput without a per-member measurement: nothing to plan with", "measure one member (the CLI's check does) and pass it")
	case o.Throughput > 0:
		usable := o.PerMember * capacityHeadroom
		need := int(math.Ceil(o.Throughput/usable)) + 1 // survive one member lost
		if production && need < 3 {
			need = 3
		}
		r.MembersNeeded = need
		msg := fmt.Sprintf("%.0f msg/s at %.0f msg/s per member (planned at %.0f%%, one member spare): %d members", o.Throughput, o.PerMember, capacityHeadroom*100, need)
		switch {
		case planned && r.Members < need:
			add(SeverityError, AreaCapacity, "", msg+fmt.Sprintf(", %d planned", r.Members), fmt.Sprintf("run at least %d members", need))
		default:
			add(SeverityInfo, AreaCapacity, "", msg, "")
		}
	}
	add(SeverityInfo, AreaTiming, "", fmt.Sprintf("a crashed member leaves the view in about %v (at %d members)", r.Failover.Round(time.Millisecond), r.Members), "")
	return r
}

// suspicionTimeout is SWIM's suspicion timeout at n members.
func suspicionTimeout(c Config, n int) time.Duration {
	scale := math.Max(1, math.Log10(float64(max(n, 1))))
	return time.Duration(float64(c.SuspicionMultiplier) * scale * float64(c.ProbeInterval))
}

// telemetryExposed reports whether the HTTP listener binds every interface.
func telemetryExposed(c Config) (string, bool) {
	a := c.Telemetry.Address
	if a == "" || a == TelemetryOff {
		return "", false
	}
	host, _, err := net.SplitHostPort(a)
	if err != nil {
		return "", false
	}
	if host == "" {
		host = c.Host
	}
	ip := net.ParseIP(host)
	return host, ip != nil && ip.IsUnspecified()
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func distinctBytes(s string) int {
	var seen [256]bool
	n := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			n++
		}
	}
	return n
}
