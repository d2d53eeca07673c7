package cluster_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster"
)

// readyConfig is a production configuration with nothing to report beyond
// figures: a long random secret, mutual TLS, the HTTP listener on a private
// address, 3 members planned.
func readyConfig(t *testing.T) cluster.Config {
	c := cluster.Production()
	c.Secret = "q7Vd2kXo9Lw1ZbN4rT8yHc6JmP3sFa0E"
	c.Provider = cluster.ProviderStatic
	c.Seeds = []string{"10.0.0.1:7350", "10.0.0.2:7350"}
	c.TLS = cfgTLSFiles(t)
	c.Telemetry.Address = "10.0.0.5:7352"
	c.Telemetry.ExpectedMembers = 3
	return c
}

func TestReadinessOfAGoodConfigHasOnlyFigures(t *testing.T) {
	r := cluster.CheckReadiness(readyConfig(t), cluster.ReadinessOptions{Throughput: 20000, PerMember: 50000})
	for _, f := range r.Findings {
		if f.Severity != cluster.SeverityInfo {
			t.Errorf("unexpected finding: %+v", f)
		}
	}
	if !r.Ready() || r.Members != 3 || r.MembersNeeded != 3 {
		t.Fatalf("report: %+v", r)
	}
	// Production: 0.25s until probed, 0.5s probing, 1s suspicion, 0.5s
	// stable-after.
	if want := 2250 * time.Millisecond; r.Failover != want {
		t.Fatalf("failover %v, want %v", r.Failover, want)
	}
}

// lease-majority with the production defaults (2s against 500ms probes)
// leaves the majority time to ask first: no acquire-delay finding.
func TestReadinessLeaseDefaultsLeaveTheMajorityFirst(t *testing.T) {
	c := readyConfig(t)
	c.SplitBrain.Strategy, c.SplitBrain.Lease.Backend, c.Etcd.Endpoints = cluster.SplitBrainLeaseMajority, cluster.LeaseBackendEtcd, []string{"https://10.0.0.9:2379"}
	r := cluster.CheckReadiness(c, cluster.ReadinessOptions{})
	for _, f := range r.Findings {
		if f.Key == "split_brain.lease.acquire_delay" {
			t.Fatalf("production defaults flagged: %+v", f)
		}
	}
}

func TestReadinessFlagsEachBadConfiguration(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*cluster.Config, *cluster.ReadinessOptions)
		sev    cluster.Severity
		area   string
		key    string
		says   string
	}{
		{"invalid value", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.ProbeTimeout = c.ProbeInterval }, cluster.SeverityError, cluster.AreaConfig, "probe_timeout", "must be < probe_interval"},
		{"no secret in production", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.Secret = "" }, cluster.SeverityError, cluster.AreaConfig, "secret", "required in the production profile"},
		{"no secret on a network in development", func(c *cluster.Config, _ *cluster.ReadinessOptions) {
			c.Profile, c.Secret, c.Host = cluster.ProfileDevelopment, "", "0.0.0.0"
		}, cluster.SeverityError, cluster.AreaSecurity, "secret", "can join"},
		{"short secret", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.Secret = "a1b2c3d4e5f6g7h8i9" }, cluster.SeverityWarning, cluster.AreaSecurity, "secret", "shorter than the recommended 32"},
		{"guessable secret", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.Secret = strings.Repeat("ab", 20) }, cluster.SeverityWarning, cluster.AreaSecurity, "secret", "distinct characters"},
		{"no tls on a network", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.TLS = cluster.TLSConfig{} }, cluster.SeverityWarning, cluster.AreaSecurity, "tls", "not encrypted"},
		{"no tls in enterprise", func(c *cluster.Config, _ *cluster.ReadinessOptions) {
			c.Profile, c.TLS = cluster.ProfileEnterprise, cluster.TLSConfig{}
		}, cluster.SeverityError, cluster.AreaConfig, "tls", "required in the enterprise profile"},
		{"debug endpoints on every interface", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.Telemetry.Address = ":7352" }, cluster.SeverityWarning, cluster.AreaSecurity, "telemetry.address", "without authentication on every interface"},
		{"development timings on a network", func(c *cluster.Config, _ *cluster.ReadinessOptions) {
			d := cluster.Development()
			c.Profile, c.ProbeInterval, c.ProbeTimeout, c.GossipInterval, c.SuspicionMultiplier = d.Profile, d.ProbeInterval, d.ProbeTimeout, d.GossipInterval, d.SuspicionMultiplier
		}, cluster.SeverityWarning, cluster.AreaTiming, "profile", "for loopback"},
		{"false suspicions", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.SuspicionMultiplier = 1 }, cluster.SeverityWarning, cluster.AreaTiming, "suspicion_multiplier", "live member declared failed"},
		{"tight probe timeout", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.ProbeTimeout = 20 * time.Millisecond }, cluster.SeverityWarning, cluster.AreaTiming, "probe_timeout", "no room"},
		{"slow failover", func(c *cluster.Config, _ *cluster.ReadinessOptions) { c.SplitBrain.StableAfter = 20 * time.Second }, cluster.SeverityWarning, cluster.AreaTiming, "split_brain.stable_after", "wait about"},
		{"resolver ahead of gossip", func(c *cluster.Config, _ *cluster.ReadinessOptions) {
			c.SplitBrain.StableAfter = 300 * time.Millisecond
		}, cluster.SeverityWarning, cluster.AreaTiming, "split_brain.stable_after", "two gossip rounds"},
		{"lease delay under the detection gap", func(c *cluster.Config, _ *cluster.ReadinessOptions) {
			c.SplitBrain.Strategy, c.SplitBrain.Lease.Backend, c.Etcd.Endpoints = cluster.SplitBrainLeaseMajority, cluster.LeaseBackendEtcd, []string{"https://10.0.0.9:2379"}
			c.SplitBrain.Lease.AcquireDelay = 300 * time.Millisecond
		}, cluster.SeverityWarning, cluster.AreaTiming, "split_brain.lease.acquire_delay", "two probe rounds"},
		{"quorum of half", func(c *cluster.Config, o *cluster.ReadinessOptions) {
			c.SplitBrain.Strategy, c.SplitBrain.QuorumSize, o.Members = cluster.SplitBrainStaticQuorum, 2, 4
		}, cluster.SeverityError, cluster.AreaConfig, "split_brain.quorum_size", "both sides"},
		{"quorum beyond the size", func(c *cluster.Config, o *cluster.ReadinessOptions) {
			c.SplitBrain.Strategy, c.SplitBrain.QuorumSize, o.Members = cluster.SplitBrainStaticQuorum, 6, 5
		}, cluster.SeverityError, cluster.AreaConfig, "split_brain.quorum_size", "no side can ever"},
		{"even size under keep-majority", func(_ *cluster.Config, o *cluster.ReadinessOptions) { o.Members = 4 }, cluster.SeverityWarning, cluster.AreaConfig, "split_brain.strategy", "even split"},
		{"lonely oldest survives", func(c *cluster.Config, _ *cluster.ReadinessOptions) {
			c.SplitBrain.Strategy, c.SplitBrain.OldestSurvivesAlone = cluster.SplitBrainKeepOldest, true
		}, cluster.SeverityWarning, cluster.AreaConfig, "split_brain.oldest_survives_alone", "cut off alone"},
		{"too few members", func(_ *cluster.Config, o *cluster.ReadinessOptions) { o.Members = 2 }, cluster.SeverityWarning, cluster.AreaCapacity, "", "needs 3"},
		{"not enough capacity", func(_ *cluster.Config, o *cluster.ReadinessOptions) { o.Throughput, o.PerMember = 200000, 50000 }, cluster.SeverityError, cluster.AreaCapacity, "", "3 planned"},
		{"throughput without a measurement", func(_ *cluster.Config, o *cluster.ReadinessOptions) { o.Throughput = 1000 }, cluster.SeverityError, cluster.AreaCapacity, "", "nothing to plan with"},
		{"negative throughput", func(_ *cluster.Config, o *cluster.ReadinessOptions) { o.Throughput = -1 }, cluster.SeverityError, cluster.AreaCapacity, "", "must be >= 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := readyConfig(t)
			var o cluster.ReadinessOptions
			tc.modify(&c, &o)
			r := cluster.CheckReadiness(c, o)
			var hit *cluster.Finding
			for i, f := range r.Findings {
				if f.Severity == tc.sev && f.Area == tc.area && f.Key == tc.key && strings.Contains(f.Problem, tc.says) {
					hit = &r.Findings[i]
				}
			}
			if hit == nil {
				t.Fatalf("no %v %s finding on %q saying %q; findings:\n%s", tc.sev, tc.area, tc.key, tc.says, dump(r))
			}
			if hit.Severity != cluster.SeverityInfo && hit.Fix == "" {
				t.Errorf("finding without a fix: %+v", hit)
			}
			if want := tc.sev != cluster.SeverityError; r.Ready() != want {
				t.Errorf("Ready() = %v with a %v finding", r.Ready(), tc.sev)
			}
			if strings.Contains(dump(r), c.Secret) && c.Secret != "" {
				t.Errorf("the report reveals the secret")
			}
		})
	}
}

func TestReadinessReportIsJSON(t *testing.T) {
	c := readyConfig(t)
	c.Secret = ""
	b, err := json.Marshal(cluster.CheckReadiness(c, cluster.ReadinessOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Findings []struct{ Severity, Key string }
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range back.Findings {
		found = found || (f.Severity == "error" && f.Key == "secret")
	}
	if !found {
		t.Fatalf("JSON report lacks the secret error: %s", b)
	}
}

func TestConfigErrorNamesTheKey(t *testing.T) {
	c := cluster.Production()
	c.Secret = "short"
	var ce *cluster.ConfigError
	err := c.Validate()
	if !errors.As(err, &ce) || ce.Key != "secret" || !errors.Is(ce, cluster.ErrInvalidConfig) {
		t.Fatalf("Validate: %v (ConfigError %+v)", err, ce)
	}
}

func dump(r cluster.ReadinessReport) string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s %s %q: %s (fix: %s)\n", f.Severity, f.Area, f.Key, f.Problem, f.Fix)
	}
	return b.String()
}
