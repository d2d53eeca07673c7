package cluster_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/provider/mdns"
)

// cfgEnv is a fake environment for LoadConfig and Detect.
func cfgEnv(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// writeCfgFile writes body to a config file in a fresh temporary directory.
func writeCfgFile(t testing.TB, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cfgTLSFiles creates three (empty) files standing for a certificate, its
// key and a CA bundle.
func cfgTLSFiles(t testing.TB) cluster.TLSConfig {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"cert.pem", "key.pem", "ca.pem"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return cluster.TLSConfig{CertFile: files[0], KeyFile: files[1], CAFile: files[2]}
}

const cfgSecret = "0123456789abcdef-test-secret"

// cfgProblems returns the individual problems of a Validate or LoadConfig
// error.
func cfgProblems(err error) []error {
	if err == nil {
		return nil
	}
	// An errors.Join: its message is its parts' messages, one per line.
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var msgs []string
		for _, e := range j.Unwrap() {
			msgs = append(msgs, e.Error())
		}
		if strings.Join(msgs, "\n") == err.Error() {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, cfgProblems(e)...)
			}
			return out
		}
	}
	return []error{err}
}

// cfgLeafKeys lists the dotted YAML keys of every field of t that is not a
// struct, in field order, leaving out fields without one (yaml:"-").
func cfgLeafKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue // set only in code
		}
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, cfgLeafKeys(f.Type, prefix+name+".")...)
			continue
		}
		keys = append(keys, prefix+name)
	}
	return keys
}

// cfgField returns the field of c with the dotted YAML key.
func cfgField(c *cluster.Config, key string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for part := range strings.SplitSeq(key, ".") {
		t := v.Type()
		found := false
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			panic("no config key " + key)
		}
	}
	return v
}

func TestPresetValues(t *testing.T) {
	ms := time.Millisecond
	s := time.Second
	rows := []struct {
		key           string
		dev, prod, en any
	}{
		{"name", "foundation", "foundation", "foundation"},
		{"secret", "", "", ""},
		{"profile", cluster.ProfileDevelopment, cluster.ProfileProduction, cluster.ProfileEnterprise},
		{"provider", "auto", "auto", "auto"},
		{"host", "127.0.0.1", "0.0.0.0", "0.0.0.0"},
		{"port", 0, 7350, 7350},
		{"advertise_address", "", "", ""},
		{"cluster_port", 0, 7351, 7351},
		{"advertise_cluster_address", "", "", ""},
		{"probe_interval", 100 * ms, 500 * ms, 250 * ms},
		{"probe_timeout", 60 * ms, 300 * ms, 150 * ms},
		{"gossip_interval", 50 * ms, 200 * ms, 100 * ms},
		{"suspicion_multiplier", 3, 2, 2},
		{"join_timeout", 2 * s, 10 * s, 10 * s},
		{"leave_timeout", 1 * s, 1 * s, 1 * s},
		{"split_brain.strategy", "keep-majority", "keep-majority", "keep-majority"},
		{"split_brain.stable_after", 250 * ms, 500 * ms, 500 * ms},
		{"split_brain.quorum_size", 0, 0, 0},
		{"split_brain.oldest_survives_alone", false, false, false},
		{"split_brain.lease.backend", "", "", ""},
		{"split_brain.lease.name", "", "", ""},
		{"split_brain.lease.ttl", 10 * s, 10 * s, 10 * s},
		{"split_brain.lease.acquire_delay", 2 * s, 2 * s, 2 * s},
		{"seeds", []string(nil), []string(nil), []string(nil)},
		{"mdns.service", "_foundation._tcp", "_foundation._tcp", "_foundation._tcp"},
		{"mdns.domain", "local.", "local.", "local."},
		{"mdns.interfaces", []string(nil), []string(nil), []string(nil)},
		{"mdns.announce_interval", 1 * s, 1 * s, 1 * s},
		{"mdns.expire_after", 3 * s, 3 * s, 3 * s},
		{"consul.address", "127.0.0.1:8500", "127.0.0.1:8500", "127.0.0.1:8500"},
		{"consul.service", "", "", ""},
		{"consul.ttl", 10 * s, 10 * s, 10 * s},
		{"consul.deregister_after", time.Minute, time.Minute, time.Minute},
		{"kubernetes.namespace", "", "", ""},
		{"kubernetes.label_selector", "", "", ""},
		{"kubernetes.port_name", "", "", ""},
		{"dns.name", "", "", ""},
		{"dns.port", 0, 0, 0},
		{"dns.interval", 5 * s, 5 * s, 5 * s},
		{"dns.servers", []string(nil), []string(nil), []string(nil)},
		{"etcd.endpoints", []string(nil), []string(nil), []string(nil)},
		{"etcd.prefix", "/foundation/", "/foundation/", "/foundation/"},
		{"etcd.lease_ttl", 10 * s, 10 * s, 10 * s},
		{"tls.cert_file", "", "", ""},
		{"tls.key_file", "", "", ""},
		{"tls.ca_file", "", "", ""},
		{"kinds", []string(nil), []string(nil), []string(nil)},
		{"labels", map[string]string(nil), map[string]string(nil), map[string]string(nil)},
		{"log_level", "info", "info", "info"},
		{"telemetry.address", ":0", ":7352", ":7352"},
		{"telemetry.metrics", "on", "on", "on"},
		{"telemetry.tracing", "on", "follow", "follow"},
		{"telemetry.sample_ratio", 1.0, 0.01, 0.01},
		{"telemetry.recorder_size", 4096, 4096, 4096},
		{"telemetry.expected_members", 0, 0, 0},
		{"telemetry.advisor", "recommend", "recommend", "recommend"},
	}
	presets := []struct {
		name string
		c    cluster.Config
		want func(dev, prod, en any) any
	}{
		{"development", cluster.Development(), func(d, _, _ any) any { return d }},
		{"production", cluster.Production(), func(_, p, _ any) any { return p }},
		{"enterprise", cluster.Enterprise(), func(_, _, e any) any { return e }},
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.key)
		for _, p := range presets {
			got := cfgField(&p.c, r.key).Interface()
			if want := p.want(r.dev, r.prod, r.en); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s = %#v, want %#v", p.name, r.key, got, want)
			}
		}
	}
	if all := cfgLeafKeys(reflect.TypeFor[cluster.Config](), ""); !slices.Equal(keys, all) {
		t.Errorf("the table covers keys %v;\nConfig has %v", keys, all)
	}
}

func TestPresetProfiles(t *testing.T) {
	for _, tc := range []struct {
		p    cluster.Profile
		want cluster.Config
	}{
		{"", cluster.Development()},
		{cluster.ProfileDevelopment, cluster.Development()},
		{cluster.ProfileProduction, cluster.Production()},
		{cluster.ProfileEnterprise, cluster.Enterprise()},
	} {
		if got := cluster.Preset(tc.p); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Preset(%q) = %+v, want %+v", tc.p, got, tc.want)
		}
	}
	got := cluster.Preset("staging")
	if got.Profile != "staging" || got.ProbeInterval != cluster.Development().ProbeInterval {
		t.Errorf("Preset(staging) = %+v; want development values with profile staging", got)
	}
	if err := got.Validate(); !errors.Is(err, cluster.ErrInvalidConfig) || !strings.Contains(err.Error(), `profile: "staging"`) {
		t.Errorf("Preset(staging).Validate() = %v; want a profile error", err)
	}
}

// Each preset, completed with what it cannot default (a secret, TLS files),
// is valid, and is a fixed point of WithDefaults.
func TestPresetsAreValid(t *testing.T) {
	tls := cfgTLSFiles(t)
	for _, p := range []cluster.Profile{cluster.ProfileDevelopment, cluster.ProfileProduction, cluster.ProfileEnterprise} {
		c := cluster.Preset(p)
		if got := c.WithDefaults(); !reflect.DeepEqual(got, c) {
			t.Errorf("%s: WithDefaults changed the preset: %+v", p, got)
		}
		if p != cluster.ProfileDevelopment {
			c.Secret = cfgSecret
		}
		if p == cluster.ProfileEnterprise {
			c.TLS = tls
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s preset: %v", p, err)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	if got := (cluster.Config{}).WithDefaults(); !reflect.DeepEqual(got, cluster.Development()) {
		t.Errorf("zero Config: WithDefaults() = %+v, want Development()", got)
	}
	if got := (cluster.Config{Profile: cluster.ProfileEnterprise}).WithDefaults(); !reflect.DeepEqual(got, cluster.Enterprise()) {
		t.Errorf("enterprise: WithDefaults() = %+v, want Enterprise()", got)
	}

	in := cluster.Config{
		Profile:       cluster.ProfileProduction,
		Port:          9000,
		ProbeInterval: time.Second,
		Seeds:         []string{"10.0.0.1:7350"},
		MDNS:          mdns.Config{Interfaces: []string{"eth0"}},
		Labels:        map[string]string{"zone": "a"},
	}
	snapshot := cluster.Config{
		Profile:       cluster.ProfileProduction,
		Port:          9000,
		ProbeInterval: time.Second,
		Seeds:         []string{"10.0.0.1:7350"},
		MDNS:          mdns.Config{Interfaces: []string{"eth0"}},
		Labels:        map[string]string{"zone": "a"},
	}
	got := in.WithDefaults()
	if !reflect.DeepEqual(in, snapshot) {
		t.Fatalf("WithDefaults mutated its receiver: %+v", in)
	}
	want := cluster.Production()
	want.Port = 9000
	want.ProbeInterval = time.Second
	want.Seeds = []string{"10.0.0.1:7350"}
	want.MDNS.Interfaces = []string{"eth0"}
	want.Labels = map[string]string{"zone": "a"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("WithDefaults() = %+v\nwant %+v", got, want)
	}
	// The copy shares nothing with the receiver.
	got.Seeds[0] = "changed:1"
	got.MDNS.Interfaces[0] = "changed"
	got.Labels["zone"] = "changed"
	if !reflect.DeepEqual(in, snapshot) {
		t.Errorf("the result of WithDefaults aliases its receiver: %+v", in)
	}
}

// cfgValid is a complete, valid production configuration for Validate's
// table to break one field at a time.
func cfgValid(t testing.TB) cluster.Config {
	c := cluster.Production()
	c.Secret = cfgSecret
	c.Seeds = []string{"10.0.0.1:7350", "node-2.example:7350", "[fd00::3]:7350"}
	c.Kinds = []string{"user", "order"}
	c.Labels = map[string]string{"zone": "a"}
	if err := c.Validate(); err != nil {
		t.Fatalf("cfgValid: %v", err)
	}
	return c
}

func TestValidateNamesTheKey(t *testing.T) {
	tls := cfgTLSFiles(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name   string
		mutate func(*cluster.Config)
		want   string // the problem, after "cluster: invalid config: "
	}{
		{"empty name", func(c *cluster.Config) { c.Name = "" }, "name: empty; want a cluster name"},
		{"upper-case name", func(c *cluster.Config) { c.Name = "Orders" }, `name: "Orders" may contain only lower-case letters, digits, '-', '_' and '.'`},
		{"name with space", func(c *cluster.Config) { c.Name = "my cluster" }, `name: "my cluster" may contain only`},
		{"unknown profile", func(c *cluster.Config) { c.Profile = "staging" }, `profile: "staging" must be development, production or enterprise`},
		{"unknown provider", func(c *cluster.Config) { c.Provider = "zookeeper" }, `provider: "zookeeper" must be auto, static, mdns, consul, k8s (or kubernetes), dns or etcd`},
		{"production without secret", func(c *cluster.Config) { c.Secret = "" }, "secret: required in the production profile: set at least 16 bytes"},
		{"enterprise without secret", func(c *cluster.Config) { c.Profile = cluster.ProfileEnterprise; c.TLS = tls; c.Secret = "" }, "secret: required in the enterprise profile"},
		{"short secret", func(c *cluster.Config) { c.Profile = cluster.ProfileDevelopment; c.Secret = "tiny" }, "secret: 4 bytes is too short; must be at least 16 bytes"},
		{"empty host", func(c *cluster.Config) { c.Host = "" }, "host: empty; want an IP address or host name"},
		{"host with port", func(c *cluster.Config) { c.Host = "10.0.0.1:7350" }, `host: "10.0.0.1:7350" must be an IP address or a host name, without a port`},
		{"negative port", func(c *cluster.Config) { c.Port = -1 }, "port: -1 must be 0..65535 (0: pick a free port)"},
		{"port too large", func(c *cluster.Config) { c.Port = 70000 }, "port: 70000 must be 0..65535"},
		{"advertise without port", func(c *cluster.Config) { c.AdvertiseAddress = "10.0.0.1" }, `advertise_address: "10.0.0.1" is not host:port`},
		{"advertise unspecified", func(c *cluster.Config) { c.AdvertiseAddress = "0.0.0.0:7350" }, `advertise_address: "0.0.0.0:7350": 0.0.0.0 cannot be dialled`},
		{"advertise port 0", func(c *cluster.Config) { c.AdvertiseAddress = "10.0.0.1:0" }, `advertise_address: "10.0.0.1:0": port must be 1..65535`},
		{"negative cluster port", func(c *cluster.Config) { c.ClusterPort = -1 }, "cluster_port: -1 must be 0..65535 (0: pick a free port)"},
		{"cluster port too large", func(c *cluster.Config) { c.ClusterPort = 65536 }, "cluster_port: 65536 must be 0..65535"},
		{"cluster port is port", func(c *cluster.Config) { c.ClusterPort = c.Port }, "cluster_port: 7350 is also port; membership gossip and actor remoting need different ports"},
		{"telemetry address without port", func(c *cluster.Config) { c.Telemetry.Address = "127.0.0.1" }, `telemetry.address: "127.0.0.1" is not host:port (e.g. :7352, 127.0.0.1:0) or off`},
		{"telemetry address empty", func(c *cluster.Config) { c.Telemetry.Address = "" }, "telemetry.address: empty; want host:port"},
		{"telemetry address is port", func(c *cluster.Config) { c.Telemetry.Address = ":7350" }, `telemetry.address: ":7350": port 7350 is also port or cluster_port`},
		{"telemetry port too large", func(c *cluster.Config) { c.Telemetry.Address = ":70000" }, `telemetry.address: ":70000": port must be 0..65535`},
		{"telemetry metrics", func(c *cluster.Config) { c.Telemetry.Metrics = "yes" }, `telemetry.metrics: "yes" must be on or off`},
		{"telemetry tracing", func(c *cluster.Config) { c.Telemetry.Tracing = "always" }, `telemetry.tracing: "always" must be off, follow or on`},
		{"telemetry sample ratio", func(c *cluster.Config) { c.Telemetry.SampleRatio = 1.5 }, "telemetry.sample_ratio: 1.5 must be > 0 and <= 1"},
		{"telemetry recorder size", func(c *cluster.Config) { c.Telemetry.RecorderSize = 2 }, "telemetry.recorder_size: 2 must be 16..1048576"},
		{"telemetry expected members", func(c *cluster.Config) { c.Telemetry.ExpectedMembers = -1 }, "telemetry.expected_members: -1 must be >= 0"},
		{"telemetry advisor", func(c *cluster.Config) { c.Telemetry.Advisor = "auto" }, `telemetry.advisor: "auto" must be off, recommend or apply`},
		{"advertise cluster without port", func(c *cluster.Config) { c.AdvertiseClusterAddress = "10.0.0.1" }, `advertise_cluster_address: "10.0.0.1" is not host:port`},
		{"advertise cluster without host", func(c *cluster.Config) { c.AdvertiseClusterAddress = ":7351" }, `advertise_cluster_address: ":7351" has no host`},
		{"advertise cluster port 0", func(c *cluster.Config) { c.AdvertiseClusterAddress = "10.0.0.1:0" }, `advertise_cluster_address: "10.0.0.1:0": port must be 1..65535`},
		{"zero probe interval", func(c *cluster.Config) { c.ProbeInterval = 0 }, "probe_interval: 0s must be > 0"},
		{"negative probe timeout", func(c *cluster.Config) { c.ProbeTimeout = -time.Second }, "probe_timeout: -1s must be > 0"},
		{"probe timeout equal to the interval", func(c *cluster.Config) { c.ProbeTimeout = c.ProbeInterval }, "probe_timeout: 500ms must be < probe_interval (500ms), which leaves time for indirect probes"},
		{"probe timeout above the interval", func(c *cluster.Config) { c.ProbeTimeout = time.Second }, "probe_timeout: 1s must be < probe_interval (500ms)"},
		{"zero gossip interval", func(c *cluster.Config) { c.GossipInterval = 0 }, "gossip_interval: 0s must be > 0"},
		{"zero suspicion multiplier", func(c *cluster.Config) { c.SuspicionMultiplier = 0 }, "suspicion_multiplier: 0 must be 1..20"},
		{"suspicion multiplier too large", func(c *cluster.Config) { c.SuspicionMultiplier = 21 }, "suspicion_multiplier: 21 must be 1..20"},
		{"split-brain strategy", func(c *cluster.Config) { c.SplitBrain.Strategy = "keep-minority" }, `split_brain.strategy: "keep-minority" must be keep-majority, static-quorum, keep-oldest, down-all or lease-majority`},
		{"zero stable after", func(c *cluster.Config) { c.SplitBrain.StableAfter = 0 }, "split_brain.stable_after: 0s must be > 0"},
		{"static quorum without size", func(c *cluster.Config) { c.SplitBrain.Strategy = "static-quorum" }, "split_brain.quorum_size: 0; strategy static-quorum needs a quorum size >= 1"},
		{"static quorum negative", func(c *cluster.Config) { c.SplitBrain.Strategy = "static-quorum"; c.SplitBrain.QuorumSize = -2 }, "split_brain.quorum_size: -2; strategy static-quorum needs a quorum size >= 1"},
		{"quorum size without static quorum", func(c *cluster.Config) { c.SplitBrain.QuorumSize = 3 }, "split_brain.quorum_size: 3 must be 0 unless split_brain.strategy is static-quorum"},
		{"oldest alone without keep-oldest", func(c *cluster.Config) { c.SplitBrain.OldestSurvivesAlone = true }, "split_brain.oldest_survives_alone: true applies only to split_brain.strategy keep-oldest"},
		{"lease backend", func(c *cluster.Config) { c.SplitBrain.Lease.Backend = "zookeeper" }, `split_brain.lease.backend: "zookeeper" must be etcd or kubernetes (empty: the provider's, when that is etcd or k8s)`},
		{"lease majority without backend", func(c *cluster.Config) { c.SplitBrain.Strategy = "lease-majority" }, `split_brain.lease.backend: empty and provider "auto" holds no lease; strategy lease-majority needs etcd or kubernetes`},
		{"lease majority with static", func(c *cluster.Config) { c.SplitBrain.Strategy = "lease-majority"; c.Provider = "static" }, `split_brain.lease.backend: empty and provider "static" holds no lease`},
		{"lease on etcd without endpoints", func(c *cluster.Config) {
			c.SplitBrain.Strategy = "lease-majority"
			c.SplitBrain.Lease.Backend = "etcd"
		}, "split_brain.lease.backend: etcd needs etcd.endpoints"},
		{"lease name", func(c *cluster.Config) { c.SplitBrain.Lease.Name = "Split_Brain" }, `split_brain.lease.name: "Split_Brain" must be a DNS label`},
		{"lease name too long", func(c *cluster.Config) { c.SplitBrain.Lease.Name = strings.Repeat("a", 64) }, `split_brain.lease.name: "aaaa`},
		{"lease name ends with a dash", func(c *cluster.Config) { c.SplitBrain.Lease.Name = "lease-" }, `split_brain.lease.name: "lease-" must be a DNS label`},
		{"default lease name", func(c *cluster.Config) {
			c.Name = "orders_eu"
			c.SplitBrain.Strategy = "lease-majority"
			c.Provider = "k8s"
		}, `split_brain.lease.name: empty, and its default "orders_eu-split-brain" (name + "-split-brain") is not a DNS label`},
		{"lease ttl", func(c *cluster.Config) { c.SplitBrain.Lease.TTL = 999 * time.Millisecond }, "split_brain.lease.ttl: 999ms must be >= 1s"},
		{"lease acquire delay", func(c *cluster.Config) { c.SplitBrain.Lease.AcquireDelay = -time.Second }, "split_brain.lease.acquire_delay: -1s must be >= 0"},
		{"zero join timeout", func(c *cluster.Config) { c.JoinTimeout = 0 }, "join_timeout: 0s must be > 0"},
		{"zero leave timeout", func(c *cluster.Config) { c.LeaveTimeout = 0 }, "leave_timeout: 0s must be > 0"},
		{"seed without port", func(c *cluster.Config) { c.Seeds[1] = "node-2.example" }, `seeds[1]: "node-2.example" is not host:port`},
		{"seed without host", func(c *cluster.Config) { c.Seeds[0] = ":7350" }, `seeds[0]: ":7350" has no host`},
		{"seed port out of range", func(c *cluster.Config) { c.Seeds[2] = "[fd00::3]:99999" }, `seeds[2]: "[fd00::3]:99999": port must be 1..65535`},
		{"static without seeds", func(c *cluster.Config) { c.Provider = "static"; c.Seeds = nil }, "seeds: empty; provider static needs at least one host:port"},
		// Provider sections: each back-end's Validate, named by key.
		{"mdns service", func(c *cluster.Config) { c.MDNS.Service = "foundation" }, `mdns.service: "foundation": want "_name._tcp" or "_name._udp", the name 1..15 letters, digits or hyphens`},
		{"mdns domain", func(c *cluster.Config) { c.MDNS.Domain = "bad domain" }, `mdns.domain: "bad domain": want a DNS name such as "local."`},
		{"mdns interface", func(c *cluster.Config) { c.MDNS.Interfaces = []string{"eth0", ""} }, `mdns.interfaces[1]: is empty: want an interface name such as "eth0"`},
		{"mdns duplicate interface", func(c *cluster.Config) { c.MDNS.Interfaces = []string{"eth0", "eth0"} }, `mdns.interfaces[1]: "eth0" is listed twice`},
		{"mdns announce", func(c *cluster.Config) { c.MDNS.AnnounceInterval = 5 * time.Millisecond }, "mdns.announce_interval: 5ms: want 10ms..10m0s (zero: 1s)"},
		{"mdns expire", func(c *cluster.Config) { c.MDNS.ExpireAfter = 1500 * time.Millisecond }, "mdns.expire_after: 1.5s: want 2×AnnounceInterval (2s)..1h0m0s"},
		{"consul address", func(c *cluster.Config) { c.Provider = "consul"; c.Consul.Address = "" }, `consul.address: "": empty; want host:port (such as 127.0.0.1:8500)`},
		{"consul address without port", func(c *cluster.Config) { c.Consul.Address = "consul" }, `consul.address: "consul": address consul: missing port in address`},
		{"consul service", func(c *cluster.Config) { c.Consul.Service = "orders service" }, `consul.service: "orders service": want 1..255 letters`},
		{"consul ttl", func(c *cluster.Config) { c.Consul.TTL = 5 * time.Millisecond }, "consul.ttl: 5ms: want at least 10ms (zero: 10s)"},
		{"consul deregister", func(c *cluster.Config) { c.Consul.DeregisterAfter = -time.Minute }, "consul.deregister_after: -1m0s: want at least 1m0s, Consul's minimum"},
		{"consul deregister below Consul's minimum", func(c *cluster.Config) { c.Consul.DeregisterAfter = 30 * time.Second }, "consul.deregister_after: 30s: want at least 1m0s"},
		{"consul knob set in code", func(c *cluster.Config) { c.Consul.RetryMin = -time.Second }, "consul: Config.RetryMin -1s: want > 0"},
		{"k8s namespace", func(c *cluster.Config) { c.Kubernetes.Namespace = "Orders_NS" }, `kubernetes.namespace: "Orders_NS": want a namespace name`},
		{"k8s selector", func(c *cluster.Config) { c.Kubernetes.LabelSelector = "app in (x" }, `kubernetes.label_selector: "app in (x": want kubectl selector syntax`},
		{"k8s port name", func(c *cluster.Config) { c.Kubernetes.PortName = "Foundation_Port" }, `kubernetes.port_name: "Foundation_Port": want at most 15`},
		{"k8s port name too long", func(c *cluster.Config) { c.Kubernetes.PortName = "foundation-members" }, `kubernetes.port_name: "foundation-members"`},
		{"k8s default selector of a long name", func(c *cluster.Config) { c.Provider = "k8s"; c.Name = strings.Repeat("n", 64) }, `kubernetes.label_selector: "app.kubernetes.io/part-of=nnnn`},
		{"dns name", func(c *cluster.Config) { c.Provider = "dns" }, "dns.name: is empty: want the DNS name to resolve"},
		{"dns bad name", func(c *cluster.Config) { c.DNS.Name = "bad name" }, `dns.name: "bad name": want a DNS name`},
		{"dns port", func(c *cluster.Config) { c.DNS.Port = 65536 }, "dns.port: 65536: want 1..65535 (zero: the port of self's address)"},
		{"dns interval", func(c *cluster.Config) { c.DNS.Interval = time.Millisecond }, "dns.interval: 1ms: want at least 10ms (zero: 5s)"},
		{"dns server", func(c *cluster.Config) { c.DNS.Servers = []string{"10.0.0.2:53", "resolver"} }, `dns.servers[1]: "resolver": address resolver: missing port in address`},
		{"etcd endpoints", func(c *cluster.Config) { c.Provider = "etcd" }, "etcd.endpoints: is empty: want at least one etcd client URL"},
		{"etcd empty endpoint", func(c *cluster.Config) { c.Etcd.Endpoints = []string{""} }, `etcd.endpoints[0]: "": empty`},
		{"etcd lease", func(c *cluster.Config) { c.Etcd.LeaseTTL = 500 * time.Millisecond }, "etcd.lease_ttl: 500ms: want whole seconds from 1s to 1h0m0s"},
		{"etcd lease in parts of a second", func(c *cluster.Config) { c.Etcd.LeaseTTL = 1500 * time.Millisecond }, "etcd.lease_ttl: 1.5s: want whole seconds"},
		{"tls partial", func(c *cluster.Config) { c.TLS = cluster.TLSConfig{CertFile: tls.CertFile} }, "tls: cert_file set but key_file, ca_file not; set cert_file, key_file and ca_file together, or none"},
		{"enterprise without tls", func(c *cluster.Config) { c.Profile = cluster.ProfileEnterprise }, "tls: required in the enterprise profile"},
		{"tls file missing", func(c *cluster.Config) { c.TLS = tls; c.TLS.KeyFile = missing }, `tls.key_file: "` + missing + `" does not exist`},
		{"tls file is a directory", func(c *cluster.Config) { c.TLS = tls; c.TLS.CAFile = dir }, `tls.ca_file: "` + dir + `" is a directory`},
		{"empty kind", func(c *cluster.Config) { c.Kinds = []string{"user", ""} }, "kinds[1]: empty"},
		{"duplicate kind", func(c *cluster.Config) { c.Kinds = []string{"user", "order", "user"} }, `kinds[2]: "user" is listed twice`},
		{"empty label key", func(c *cluster.Config) { c.Labels = map[string]string{"": "x"} }, "labels: a label has an empty key"},
		{"log level", func(c *cluster.Config) { c.LogLevel = "trace" }, `log_level: "trace" must be debug, info, warn or error`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfgValid(t)
			tc.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, cluster.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			problems := cfgProblems(err)
			if len(problems) != 1 {
				t.Fatalf("Validate() found %d problems, want 1:\n%v", len(problems), err)
			}
			if want := "cluster: invalid config: " + tc.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Validate() = %q\nwant prefix %q", err, want)
			}
		})
	}
}

// Resolved is the one place where defaults that depend on other keys, or
// on the environment, are applied.
func TestResolved(t *testing.T) {
	c := cluster.Production()
	c.Name = "orders"
	c.Secret = cfgSecret
	c.Seeds = []string{"10.0.0.1:7350"}
	snapshot := cluster.Production()
	snapshot.Name, snapshot.Secret, snapshot.Seeds = "orders", cfgSecret, []string{"10.0.0.1:7350"}

	r := c.Resolved(cluster.Detection{Provider: cluster.ProviderKubernetes})
	want := snapshot
	want.Seeds = []string{"10.0.0.1:7350"}
	want.Provider = cluster.ProviderKubernetes
	want.Consul.Service = "orders"
	want.Kubernetes.LabelSelector = "app.kubernetes.io/part-of=orders"
	want.MDNS.Secret = []byte(cfgSecret)
	want.Consul.Secret = []byte(cfgSecret)
	want.Etcd.Secret = []byte(cfgSecret)
	want.SplitBrain.Lease.Backend = cluster.LeaseBackendKubernetes
	want.SplitBrain.Lease.Name = "orders-split-brain"
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Resolved:\ngot  %+v\nwant %+v", r, want)
	}
	if !reflect.DeepEqual(c, snapshot) {
		t.Errorf("Resolved modified its receiver: %+v", c)
	}
	r.Seeds[0] = "changed:1"
	r.MDNS.Secret[0] = 'x'
	if c.Seeds[0] != "10.0.0.1:7350" || string(r.Consul.Secret) != cfgSecret {
		t.Error("the result of Resolved shares slices with its receiver or between sections")
	}

	// What is set is kept.
	c.Provider = "kubernetes"
	c.Consul.Service = "orders-svc"
	c.Kubernetes.LabelSelector = "app=orders"
	c.Etcd.Secret = []byte("an etcd-only secret")
	c.SplitBrain.Lease = cluster.SplitBrainLeaseConfig{Backend: cluster.LeaseBackendEtcd, Name: "lease", TTL: time.Minute}
	r = c.Resolved(cluster.Detection{Provider: cluster.ProviderConsul})
	if r.Provider != cluster.ProviderKubernetes || r.Consul.Service != "orders-svc" || r.Kubernetes.LabelSelector != "app=orders" ||
		string(r.Etcd.Secret) != "an etcd-only secret" || r.SplitBrain.Lease != c.SplitBrain.Lease {
		t.Errorf("Resolved overrode set fields: %+v", r)
	}

	// The provider's lease back-end, and none for the others.
	for _, tc := range []struct {
		provider string
		d        cluster.Detection
		backend  string
	}{
		{"etcd", cluster.Detection{}, cluster.LeaseBackendEtcd},
		{"auto", cluster.Detection{Provider: cluster.ProviderEtcd}, cluster.LeaseBackendEtcd},
		{"k8s", cluster.Detection{}, cluster.LeaseBackendKubernetes},
		{"consul", cluster.Detection{}, ""},
		{"auto", cluster.Detection{}, ""},
	} {
		c := cluster.Production()
		c.Provider = tc.provider
		if got := c.Resolved(tc.d).SplitBrain.Lease.Backend; got != tc.backend {
			t.Errorf("provider %s, detected %q: lease backend %q, want %q", tc.provider, tc.d.Provider, got, tc.backend)
		}
	}
	// No secret, no provider secrets.
	if r := cluster.Development().Resolved(cluster.Detection{}); r.Provider != cluster.ProviderMDNS || r.MDNS.Secret != nil {
		t.Errorf("development: provider %q, mdns secret %q; want mdns and none", r.Provider, r.MDNS.Secret)
	}
}

// A section is checked as its back-end will get it only when the provider
// is chosen explicitly; missing required settings of other back-ends are
// not problems.
func TestValidateProviderSections(t *testing.T) {
	c := cfgValid(t)
	c.Consul.Address = ""
	c.Kubernetes.LabelSelector = ""
	if err := c.Validate(); err != nil {
		t.Errorf("empty consul.address and kubernetes.label_selector with provider auto: %v", err)
	}
	c.Provider = "consul"
	if problems := cfgProblems(c.Validate()); len(problems) != 1 || !strings.Contains(problems[0].Error(), "consul.address:") {
		t.Errorf("provider consul without an address: %v; want one consul.address problem", problems)
	}
	c.Consul.Address = "127.0.0.1:8500"
	if err := c.Validate(); err != nil {
		t.Errorf("provider consul, service from the name: %v", err)
	}
	c.Provider = "kubernetes"
	if err := c.Validate(); err != nil {
		t.Errorf("provider kubernetes without a client (Start supplies it) or selector (from the name): %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := cfgValid(t)
	c.Name = ""
	c.Port = -1
	c.ProbeInterval = 0
	c.LogLevel = "loud"
	err := c.Validate()
	problems := cfgProblems(err)
	if len(problems) != 4 {
		t.Fatalf("Validate() found %d problems, want 4:\n%v", len(problems), err)
	}
	for i, key := range []string{"name:", "port:", "probe_interval:", "log_level:"} {
		if !errors.Is(problems[i], cluster.ErrInvalidConfig) || !strings.HasPrefix(problems[i].Error(), "cluster: invalid config: "+key) {
			t.Errorf("problem %d = %q, want one about %s", i, problems[i], key)
		}
	}
}

func TestValidateDoesNotRevealTheSecret(t *testing.T) {
	c := cluster.Development()
	c.Secret = "hunter2-short"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), c.Secret) {
		t.Errorf("Validate() = %v; want an error that does not contain the secret", err)
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	c := cluster.Config{Seeds: []string{"bad"}, Labels: map[string]string{"": ""}}
	_ = c.Validate()
	if !reflect.DeepEqual(c, cluster.Config{Seeds: []string{"bad"}, Labels: map[string]string{"": ""}}) {
		t.Errorf("Validate modified its receiver: %+v", c)
	}
}

func TestValidateZeroValues(t *testing.T) {
	// A zero Config is incomplete; its defaults are valid.
	if err := (cluster.Config{}).Validate(); !errors.Is(err, cluster.ErrInvalidConfig) {
		t.Errorf("Config{}.Validate() = %v, want ErrInvalidConfig", err)
	}
	if err := (cluster.Config{}).WithDefaults().Validate(); err != nil {
		t.Errorf("Config{}.WithDefaults().Validate() = %v", err)
	}
	// Empty profile, provider and log level stand for their defaults.
	c := cluster.Development()
	c.Profile, c.Provider, c.LogLevel = "", "", ""
	if err := c.Validate(); err != nil {
		t.Errorf("empty profile, provider and log level: %v", err)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := cluster.LoadConfig("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, cluster.Development()) {
		t.Errorf("LoadConfig with nothing = %+v, want Development()", c)
	}
	c, err = cluster.LoadConfig(writeCfgFile(t, "# nothing here\n"), cfgEnv(nil), func(*cluster.Config) {})
	if err != nil || !reflect.DeepEqual(c, cluster.Development()) {
		t.Errorf("LoadConfig with an empty file = %+v, %v; want Development()", c, err)
	}
}

// Every pairing of file, environment and code setting the same keys: the
// highest layer wins, for a scalar, a list and a map alike.
func TestLoadConfigPrecedence(t *testing.T) {
	type layer struct {
		port   int
		seeds  []string
		labels map[string]string
	}
	file := layer{1111, []string{"file:1"}, map[string]string{"from": "file"}}
	env := layer{2222, []string{"env:1", "env:2"}, map[string]string{"from": "env"}}
	code := layer{3333, []string{"code:1"}, map[string]string{"from": "code"}}
	preset := layer{0, nil, nil}
	for _, tc := range []struct {
		name            string
		file, env, code bool
		want            layer
	}{
		{"preset only", false, false, false, preset},
		{"file", true, false, false, file},
		{"env", false, true, false, env},
		{"code", false, false, true, code},
		{"env over file", true, true, false, env},
		{"code over file", true, false, true, code},
		{"code over env", false, true, true, code},
		{"code over env over file", true, true, true, code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file {
				path = writeCfgFile(t, "port: 1111\nseeds: [\"file:1\"]\nlabels: {from: file}\n")
			}
			vars := map[string]string{}
			if tc.env {
				vars["FOUNDATION_PORT"] = "2222"
				vars["FOUNDATION_SEEDS"] = "env:1, env:2"
				vars["FOUNDATION_LABELS"] = "from=env"
			}
			var override func(*cluster.Config)
			if tc.code {
				override = func(c *cluster.Config) {
					c.Port = 3333
					c.Seeds = []string{"code:1"}
					c.Labels = map[string]string{"from": "code"}
				}
			}
			c, err := cluster.LoadConfig(path, cfgEnv(vars), override)
			if err != nil {
				t.Fatal(err)
			}
			got := layer{c.Port, c.Seeds, c.Labels}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			// Keys no layer set keep the preset's value.
			if c.ProbeInterval != cluster.Development().ProbeInterval || c.Name != "foundation" {
				t.Errorf("untouched keys changed: probe interval %v, name %q", c.ProbeInterval, c.Name)
			}
		})
	}
}

func TestLoadConfigLayersCombine(t *testing.T) {
	path := writeCfgFile(t, `
name: orders
mdns:
  service: _orders._tcp
probe_interval: 50ms
probe_timeout: 10ms
split_brain:
  strategy: keep-oldest
  lease:
    ttl: 5s
`)
	c, err := cluster.LoadConfig(path, cfgEnv(map[string]string{
		"FOUNDATION_MDNS_INTERFACES":                   "eth0,eth1",
		"FOUNDATION_PROBE_TIMEOUT":                     "40ms",
		"FOUNDATION_SPLIT_BRAIN_OLDEST_SURVIVES_ALONE": "true",
		"FOUNDATION_KINDS":                             "user, order",
	}), func(c *cluster.Config) { c.LogLevel = "debug" })
	if err != nil {
		t.Fatal(err)
	}
	want := cluster.Development()
	want.Name = "orders"
	want.MDNS.Service = "_orders._tcp"
	want.MDNS.Interfaces = []string{"eth0", "eth1"}
	want.ProbeInterval = 50 * time.Millisecond
	want.ProbeTimeout = 40 * time.Millisecond
	want.SplitBrain.Strategy = cluster.SplitBrainKeepOldest
	want.SplitBrain.OldestSurvivesAlone = true
	want.SplitBrain.Lease.TTL = 5 * time.Second
	want.Kinds = []string{"user", "order"}
	want.LogLevel = "debug"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

// Every membership and split-brain key, from a file and from the
// environment.
func TestLoadConfigMembershipKeys(t *testing.T) {
	path := writeCfgFile(t, `
profile: production
provider: etcd
etcd: {endpoints: ["http://etcd:2379"]}
cluster_port: 9001
advertise_cluster_address: "10.0.0.1:19001"
probe_interval: 1s
probe_timeout: 400ms
gossip_interval: 300ms
suspicion_multiplier: 6
split_brain:
  strategy: lease-majority
  stable_after: 5s
  lease:
    name: orders-lease
    ttl: 20s
    acquire_delay: 4s
`)
	env := map[string]string{"FOUNDATION_SECRET": cfgSecret}
	c, err := cluster.LoadConfig(path, cfgEnv(env), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := cluster.Production()
	want.Secret = cfgSecret
	want.Provider = cluster.ProviderEtcd
	want.Etcd.Endpoints = []string{"http://etcd:2379"}
	want.ClusterPort = 9001
	want.AdvertiseClusterAddress = "10.0.0.1:19001"
	want.ProbeInterval = time.Second
	want.ProbeTimeout = 400 * time.Millisecond
	want.GossipInterval = 300 * time.Millisecond
	want.SuspicionMultiplier = 6
	want.SplitBrain = cluster.SplitBrainConfig{
		Strategy:    cluster.SplitBrainLeaseMajority,
		StableAfter: 5 * time.Second,
		Lease:       cluster.SplitBrainLeaseConfig{Name: "orders-lease", TTL: 20 * time.Second, AcquireDelay: 4 * time.Second},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("from the file:\ngot  %+v\nwant %+v", c, want)
	}

	for k, v := range map[string]string{
		"FOUNDATION_CLUSTER_PORT":                      "9002",
		"FOUNDATION_ADVERTISE_CLUSTER_ADDRESS":         "node-1.example:9002",
		"FOUNDATION_PROBE_INTERVAL":                    "2s",
		"FOUNDATION_PROBE_TIMEOUT":                     "1s",
		"FOUNDATION_GOSSIP_INTERVAL":                   "500ms",
		"FOUNDATION_SUSPICION_MULTIPLIER":              "8",
		"FOUNDATION_SPLIT_BRAIN_STRATEGY":              "keep-oldest",
		"FOUNDATION_SPLIT_BRAIN_STABLE_AFTER":          "7s",
		"FOUNDATION_SPLIT_BRAIN_OLDEST_SURVIVES_ALONE": "TRUE",
		"FOUNDATION_SPLIT_BRAIN_LEASE_BACKEND":         "kubernetes",
		"FOUNDATION_SPLIT_BRAIN_LEASE_NAME":            "other-lease",
		"FOUNDATION_SPLIT_BRAIN_LEASE_TTL":             "30s",
		"FOUNDATION_SPLIT_BRAIN_LEASE_ACQUIRE_DELAY":   "1ms",
	} {
		env[k] = v
	}
	c, err = cluster.LoadConfig(path, cfgEnv(env), nil)
	if err != nil {
		t.Fatal(err)
	}
	want.ClusterPort = 9002
	want.AdvertiseClusterAddress = "node-1.example:9002"
	want.ProbeInterval = 2 * time.Second
	want.ProbeTimeout = time.Second
	want.GossipInterval = 500 * time.Millisecond
	want.SuspicionMultiplier = 8
	want.SplitBrain = cluster.SplitBrainConfig{
		Strategy:            cluster.SplitBrainKeepOldest,
		StableAfter:         7 * time.Second,
		OldestSurvivesAlone: true,
		Lease:               cluster.SplitBrainLeaseConfig{Backend: cluster.LeaseBackendKubernetes, Name: "other-lease", TTL: 30 * time.Second, AcquireDelay: time.Millisecond},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("environment over file:\ngot  %+v\nwant %+v", c, want)
	}

	// static-quorum with its size, from the environment alone.
	c, err = cluster.LoadConfig("", cfgEnv(map[string]string{
		"FOUNDATION_SPLIT_BRAIN_STRATEGY":    "static-quorum",
		"FOUNDATION_SPLIT_BRAIN_QUORUM_SIZE": "3",
	}), nil)
	if err != nil || c.SplitBrain.Strategy != cluster.SplitBrainStaticQuorum || c.SplitBrain.QuorumSize != 3 {
		t.Fatalf("static-quorum from the environment: %+v, %v", c.SplitBrain, err)
	}
}

// lease-majority finds its back-end through the provider when it is etcd or
// k8s, and needs etcd.endpoints on etcd.
func TestValidateLeaseBackend(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*cluster.Config)
		want   string // "" for valid
	}{
		{"provider etcd", func(c *cluster.Config) { c.Provider = "etcd"; c.Etcd.Endpoints = []string{"http://e:2379"} }, ""},
		{"provider k8s", func(c *cluster.Config) { c.Provider = "k8s" }, ""},
		{"provider kubernetes", func(c *cluster.Config) { c.Provider = "kubernetes" }, ""},
		{"explicit kubernetes with static", func(c *cluster.Config) { c.Provider = "static"; c.SplitBrain.Lease.Backend = "kubernetes" }, ""},
		{"explicit etcd with endpoints", func(c *cluster.Config) {
			c.SplitBrain.Lease.Backend = "etcd"
			c.Etcd.Endpoints = []string{"http://e:2379"}
		}, ""},
		{"provider etcd without endpoints", func(c *cluster.Config) { c.Provider = "etcd" }, "etcd.endpoints: is empty"},
		{"provider consul", func(c *cluster.Config) { c.Provider = "consul" }, `split_brain.lease.backend: empty and provider "consul" holds no lease`},
		{"provider auto", func(c *cluster.Config) {}, `split_brain.lease.backend: empty and provider "auto" holds no lease`},
		{"explicit etcd without endpoints", func(c *cluster.Config) { c.Provider = "k8s"; c.SplitBrain.Lease.Backend = "etcd" }, "split_brain.lease.backend: etcd needs etcd.endpoints"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfgValid(t)
			c.SplitBrain.Strategy = cluster.SplitBrainLeaseMajority
			tc.mutate(&c)
			err := c.Validate()
			switch problems := cfgProblems(err); {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (len(problems) != 1 || !strings.HasPrefix(err.Error(), "cluster: invalid config: "+tc.want)):
				t.Fatalf("Validate() = %v\nwant one problem starting %q", err, tc.want)
			}
		})
	}
}

func TestLoadConfigZeroMeansDefault(t *testing.T) {
	path := writeCfgFile(t, "probe_interval: 0s\nport: 0\ncluster_port: 0\nname: \"\"\nsplit_brain: {stable_after: 0s}\n")
	c, err := cluster.LoadConfig(path, cfgEnv(map[string]string{"FOUNDATION_PROFILE": "production", "FOUNDATION_SECRET": cfgSecret}),
		func(c *cluster.Config) { c.ProbeTimeout = 0 })
	if err != nil {
		t.Fatal(err)
	}
	p := cluster.Production()
	if c.ProbeInterval != p.ProbeInterval || c.Port != p.Port || c.ClusterPort != p.ClusterPort || c.Name != p.Name ||
		c.ProbeTimeout != p.ProbeTimeout || c.SplitBrain.StableAfter != p.SplitBrain.StableAfter {
		t.Errorf("zero values did not take the production defaults: %+v", c)
	}
}

func TestLoadConfigProfile(t *testing.T) {
	tls := cfgTLSFiles(t)
	secret := map[string]string{"FOUNDATION_SECRET": cfgSecret}
	withEnv := func(kv ...string) map[string]string {
		m := map[string]string{"FOUNDATION_SECRET": cfgSecret}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tlsYAML := "tls: {cert_file: " + tls.CertFile + ", key_file: " + tls.KeyFile + ", ca_file: " + tls.CAFile + "}\n"
	for _, tc := range []struct {
		name     string
		file     string
		env      map[string]string
		override func(*cluster.Config)
		want     cluster.Profile
		probe    time.Duration
	}{
		{"default is development", "", nil, nil, cluster.ProfileDevelopment, 100 * time.Millisecond},
		{"from the file", "profile: production\n", secret, nil, cluster.ProfileProduction, 500 * time.Millisecond},
		{"from the environment", "", withEnv("FOUNDATION_PROFILE", "production"), nil, cluster.ProfileProduction, 500 * time.Millisecond},
		{"environment over file", "profile: production\n" + tlsYAML, withEnv("FOUNDATION_PROFILE", "enterprise"), nil, cluster.ProfileEnterprise, 250 * time.Millisecond},
		{"code over environment", "", withEnv("FOUNDATION_PROFILE", "production"), func(c *cluster.Config) { c.Profile = cluster.ProfileDevelopment }, cluster.ProfileDevelopment, 100 * time.Millisecond},
		{"code over file", "profile: development\n" + tlsYAML, secret, func(c *cluster.Config) { c.Profile = cluster.ProfileEnterprise }, cluster.ProfileEnterprise, 250 * time.Millisecond},
		{"file probe interval kept across a change of profile in code", "probe_interval: 50ms\nprobe_timeout: 20ms\n", secret, func(c *cluster.Config) { c.Profile = cluster.ProfileProduction }, cluster.ProfileProduction, 50 * time.Millisecond},
		{"code probe interval kept across its change of profile", "", secret, func(c *cluster.Config) {
			c.ProbeInterval = 400 * time.Millisecond
			c.Profile = cluster.ProfileProduction
		}, cluster.ProfileProduction, 400 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeCfgFile(t, tc.file)
			}
			c, err := cluster.LoadConfig(path, cfgEnv(tc.env), tc.override)
			if err != nil {
				t.Fatal(err)
			}
			if c.Profile != tc.want || c.ProbeInterval != tc.probe {
				t.Errorf("profile %q probe interval %v; want %q %v", c.Profile, c.ProbeInterval, tc.want, tc.probe)
			}
		})
	}
}

func TestLoadConfigOverride(t *testing.T) {
	calls := 0
	var seen cluster.Config
	path := writeCfgFile(t, "port: 1234\n")
	c, err := cluster.LoadConfig(path, cfgEnv(map[string]string{"FOUNDATION_NAME": "orders"}), func(c *cluster.Config) {
		calls++
		seen = *c
		c.Profile = cluster.ProfileProduction // a change of profile: the preset is taken again
		c.Secret = cfgSecret
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("override called %d times, want once", calls)
	}
	if seen.Profile != "" || seen.Port != 1234 || seen.Name != "orders" || seen.Host != "127.0.0.1" {
		t.Errorf("override saw %+v; want no profile, the file's port, the environment's name, the preset's host", seen)
	}
	if c.Port != 1234 || c.Name != "orders" || c.Host != "0.0.0.0" || c.Secret != cfgSecret || c.SplitBrain.StableAfter != 500*time.Millisecond {
		t.Errorf("after a change of profile in code: %+v; want file, environment and code values on the production preset", c)
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string // substrings, one per problem
	}{
		{"unknown key", "name: x\nheartbeat: 1s\n", []string{`line 2: unknown key "heartbeat"`}},
		{"unknown nested key", "mdns:\n  services: _x._tcp\n", []string{`line 2: unknown key "mdns.services"`}},
		{"several unknown keys", "prt: 1\nkubernetes:\n  selector: a=b\n", []string{`line 1: unknown key "prt"`, `line 3: unknown key "kubernetes.selector"`}},
		{"fields set only in code", "consul:\n  token: t\n  wait_time: 1s\nkubernetes:\n  client: x\nmdns: {logger: x, secret: s}\n", []string{
			`line 2: unknown key "consul.token"`, `line 3: unknown key "consul.wait_time"`, `line 5: unknown key "kubernetes.client"`,
			`line 6: unknown key "mdns.logger"`, `line 6: unknown key "mdns.secret"`}},
		{"unknown key two levels down", "split_brain:\n  lease:\n    tll: 5s\n", []string{`line 3: unknown key "split_brain.lease.tll"`}},
		{"removed key", "heartbeat_interval: 100ms\nsuspect_after: 300ms\nremove_after: 200ms\n", []string{
			`line 1: unknown key "heartbeat_interval"`, `line 2: unknown key "suspect_after"`, `line 3: unknown key "remove_after"`}},
		{"go field name", "ProbeInterval: 1s\n", []string{`unknown key "ProbeInterval"`}},
		{"wrong type", "port: seven\n", []string{"line 1: cannot unmarshal !!str `seven` into int"}},
		{"duration without unit", "probe_interval: 100\n", []string{"line 1: cannot unmarshal !!int `100` into time.Duration"}},
		{"syntax error", "name: [x\n", []string{"yaml: line"}},
		{"duplicate key", "port: 1\nport: 2\n", []string{`mapping key "port" already defined`}},
		{"not a mapping", "- a\n- b\n", []string{"cannot unmarshal !!seq into cluster.Config"}},
		{"two documents", "port: 1\n---\nport: 2\n", []string{"more than one YAML document"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeCfgFile(t, tc.body)
			c, err := cluster.LoadConfig(path, nil, nil)
			if !errors.Is(err, cluster.ErrInvalidConfig) {
				t.Fatalf("LoadConfig = %v, want ErrInvalidConfig", err)
			}
			if !reflect.DeepEqual(c, cluster.Config{}) {
				t.Errorf("LoadConfig returned %+v with its error, want a zero Config", c)
			}
			problems := cfgProblems(err)
			if len(problems) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(problems), len(tc.want), err)
			}
			for i, want := range tc.want {
				if msg := problems[i].Error(); !strings.HasPrefix(msg, "cluster: invalid config: "+path+": ") || !strings.Contains(msg, want) {
					t.Errorf("problem %d = %q\nwant the file's path and %q", i, msg, want)
				}
			}
		})
	}
}

func TestLoadConfigTrailingDocumentSeparator(t *testing.T) {
	c, err := cluster.LoadConfig(writeCfgFile(t, "---\nport: 7\n---\n"), nil, nil)
	if err != nil || c.Port != 7 {
		t.Errorf("LoadConfig = %+v, %v; want port 7", c, err)
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := cluster.LoadConfig(filepath.Join(t.TempDir(), "absent.yaml"), nil, nil)
	if !errors.Is(err, cluster.ErrConfigFile) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadConfig(absent) = %v; want ErrConfigFile and fs.ErrNotExist", err)
	}
}

func TestLoadConfigMalformedEnv(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"FOUNDATION_PORT", "seven", `FOUNDATION_PORT: "seven" is not an integer`},
		{"FOUNDATION_DNS_PORT", "53a", `FOUNDATION_DNS_PORT: "53a" is not an integer`},
		{"FOUNDATION_CLUSTER_PORT", "7351/udp", `FOUNDATION_CLUSTER_PORT: "7351/udp" is not an integer`},
		{"FOUNDATION_PROBE_INTERVAL", "fast", `FOUNDATION_PROBE_INTERVAL: "fast" is not a duration; want Go syntax such as 500ms`},
		{"FOUNDATION_PROBE_TIMEOUT", "3", `FOUNDATION_PROBE_TIMEOUT: "3" is not a duration`},
		{"FOUNDATION_SUSPICION_MULTIPLIER", "4x", `FOUNDATION_SUSPICION_MULTIPLIER: "4x" is not an integer`},
		{"FOUNDATION_SPLIT_BRAIN_STABLE_AFTER", "1.5", `FOUNDATION_SPLIT_BRAIN_STABLE_AFTER: "1.5" is not a duration`},
		{"FOUNDATION_SPLIT_BRAIN_QUORUM_SIZE", "three", `FOUNDATION_SPLIT_BRAIN_QUORUM_SIZE: "three" is not an integer`},
		{"FOUNDATION_SPLIT_BRAIN_OLDEST_SURVIVES_ALONE", "yes", `FOUNDATION_SPLIT_BRAIN_OLDEST_SURVIVES_ALONE: "yes" is not a boolean; want true or false`},
		{"FOUNDATION_SPLIT_BRAIN_LEASE_TTL", "10", `FOUNDATION_SPLIT_BRAIN_LEASE_TTL: "10" is not a duration`},
		{"FOUNDATION_MDNS_EXPIRE_AFTER", "1 minute", `FOUNDATION_MDNS_EXPIRE_AFTER: "1 minute" is not a duration`},
		{"FOUNDATION_ETCD_LEASE_TTL", "10", `FOUNDATION_ETCD_LEASE_TTL: "10" is not a duration`},
		{"FOUNDATION_LABELS", "role=api,zone", `FOUNDATION_LABELS: "zone" is not key=value`},
		{"FOUNDATION_LABELS", "=api", `FOUNDATION_LABELS: "=api" is not key=value`},
		{"FOUNDATION_LABELS", "a=1,a=2", `FOUNDATION_LABELS: key "a" appears twice`},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := cluster.LoadConfig("", cfgEnv(map[string]string{tc.name: tc.value}), nil)
			if !errors.Is(err, cluster.ErrInvalidConfig) {
				t.Fatalf("LoadConfig = %v, want ErrInvalidConfig", err)
			}
			if want := "cluster: invalid config: " + tc.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("LoadConfig = %q\nwant prefix %q", err, want)
			}
		})
	}
	// Every malformed variable is reported, with any validation problem.
	_, err := cluster.LoadConfig("", cfgEnv(map[string]string{
		"FOUNDATION_PORT": "x", "FOUNDATION_JOIN_TIMEOUT": "y", "FOUNDATION_LOG_LEVEL": "loud",
	}), nil)
	if problems := cfgProblems(err); len(problems) != 3 {
		t.Errorf("got %d problems, want 3:\n%v", len(problems), err)
	}
}

func TestLoadConfigEnvValues(t *testing.T) {
	vars := map[string]string{
		"FOUNDATION_NAME":        "  orders  ",
		"FOUNDATION_HOST":        "", // empty counts as unset
		"FOUNDATION_SEEDS":       " 10.0.0.1:7350 ,, 10.0.0.2:7350 ,",
		"FOUNDATION_LABELS":      "role = api, zone=eu-1a ,",
		"CONSUL_HTTP_ADDR":       "http://consul:8500",
		"ETCD_ENDPOINTS":         "http://etcd-0:2379,http://etcd-1:2379",
		"FOUNDATION_ETCD_PREFIX": "/apps/",
	}
	c, err := cluster.LoadConfig("", cfgEnv(vars), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "orders" || c.Host != "127.0.0.1" {
		t.Errorf("name %q host %q; want trimmed orders and the preset's host", c.Name, c.Host)
	}
	if want := []string{"10.0.0.1:7350", "10.0.0.2:7350"}; !slices.Equal(c.Seeds, want) {
		t.Errorf("seeds %q, want %q", c.Seeds, want)
	}
	if want := map[string]string{"role": "api", "zone": "eu-1a"}; !reflect.DeepEqual(c.Labels, want) {
		t.Errorf("labels %v, want %v", c.Labels, want)
	}
	// The standard variables stand in for the FOUNDATION_ ones when those are unset...
	if c.Consul.Address != "http://consul:8500" || !slices.Equal(c.Etcd.Endpoints, []string{"http://etcd-0:2379", "http://etcd-1:2379"}) {
		t.Errorf("consul %q etcd %q; want CONSUL_HTTP_ADDR and ETCD_ENDPOINTS", c.Consul.Address, c.Etcd.Endpoints)
	}
	// ...and give way to them when set.
	vars["FOUNDATION_CONSUL_ADDRESS"] = "10.0.0.9:8500"
	vars["FOUNDATION_ETCD_ENDPOINTS"] = "http://10.0.0.8:2379"
	c, err = cluster.LoadConfig("", cfgEnv(vars), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Consul.Address != "10.0.0.9:8500" || !slices.Equal(c.Etcd.Endpoints, []string{"http://10.0.0.8:2379"}) {
		t.Errorf("consul %q etcd %q; want the FOUNDATION_ values", c.Consul.Address, c.Etcd.Endpoints)
	}
}

// Every YAML key has exactly one environment variable, and each variable
// sets the key it claims to.
func TestEnvVarsCoverEveryKey(t *testing.T) {
	vars := cluster.EnvVars()
	byKey := map[string]string{}
	names := map[string]bool{}
	for _, v := range vars {
		if !strings.HasPrefix(v.Name, "FOUNDATION_") || names[v.Name] {
			t.Errorf("variable %q: want a unique FOUNDATION_ name", v.Name)
		}
		names[v.Name] = true
		if prev, dup := byKey[v.Key]; dup {
			t.Errorf("key %s is set by %s and %s", v.Key, prev, v.Name)
		}
		byKey[v.Key] = v.Name
	}
	keys := cfgLeafKeys(reflect.TypeFor[cluster.Config](), "")
	for _, k := range keys {
		if byKey[k] == "" {
			t.Errorf("key %s has no environment variable", k)
		}
	}
	if len(byKey) != len(keys) {
		t.Errorf("%d variables for %d keys", len(byKey), len(keys))
	}

	sample := map[string]struct {
		raw  string
		want any
	}{
		"string":   {"sample", "sample"},
		"int":      {"4242", 4242},
		"bool":     {"true", true},
		"duration": {"42s", 42 * time.Second},
		"float":    {"0.25", 0.25},
		"list":     {"a:1,b:2", []string{"a:1", "b:2"}},
		"map":      {"k=v", map[string]string{"k": "v"}},
	}
	for _, v := range vars {
		s, ok := sample[v.Format]
		if !ok {
			t.Errorf("%s: unknown format %q", v.Name, v.Format)
			continue
		}
		var seen cluster.Config
		_, _ = cluster.LoadConfig("", cfgEnv(map[string]string{v.Name: s.raw}), func(c *cluster.Config) { seen = *c })
		got := cfgField(&seen, v.Key).Interface()
		if want := reflect.ValueOf(s.want).Convert(cfgField(&seen, v.Key).Type()).Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s=%s set %s to %#v, want %#v", v.Name, s.raw, v.Key, got, want)
		}
	}
}

// docs/reference/configuration-options.md and README.md list every key and
// every variable, and no variable LoadConfig does not read.
func TestConfigDocsListEveryKey(t *testing.T) {
	for _, page := range []string{filepath.Join("..", "docs", "reference", "configuration-options.md"), filepath.Join("..", "README.md")} {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(data)
		known := map[string]bool{}
		for _, v := range cluster.EnvVars() {
			known[v.Name] = true
			if !strings.Contains(doc, "`"+v.Key+"`") {
				t.Errorf("%s does not list key `%s`", page, v.Key)
			}
			if !strings.Contains(doc, "`"+v.Name+"`") {
				t.Errorf("%s does not list variable `%s`", page, v.Name)
			}
			if v.Fallback != "" && !strings.Contains(doc, "`"+v.Fallback+"`") {
				t.Errorf("%s does not mention fallback `%s`", page, v.Fallback)
			}
		}
		// ...and no variable that is not read (a removed key's).
		for _, m := range regexp.MustCompile("`(FOUNDATION_[A-Z0-9_]+)").FindAllStringSubmatch(doc, -1) {
			if !known[m[1]] {
				t.Errorf("%s lists `%s`, which LoadConfig does not read", page, m[1])
			}
		}
	}
}

// A loaded configuration written back as YAML loads to the same value.
func TestConfigYAMLRoundTrip(t *testing.T) {
	tls := cfgTLSFiles(t)
	c := cluster.Enterprise()
	c.Secret = cfgSecret
	c.TLS = tls
	c.Seeds = []string{"10.0.0.1:7350"}
	c.MDNS.Interfaces = []string{"eth0"}
	c.Etcd.Endpoints = []string{"http://etcd:2379"}
	c.Kinds = []string{"user"}
	c.Labels = map[string]string{"zone": "a"}
	c.AdvertiseAddress = "10.0.0.1:7350"
	c.AdvertiseClusterAddress = "10.0.0.1:7351"
	c.SplitBrain.Strategy = cluster.SplitBrainStaticQuorum
	c.SplitBrain.QuorumSize = 3
	c.SplitBrain.Lease = cluster.SplitBrainLeaseConfig{Backend: "etcd", Name: "orders-lease", TTL: 15 * time.Second, AcquireDelay: 3 * time.Second}
	cfgRoundTrip(t, c, filepath.Join(t.TempDir(), "round-trip.yaml"))
	c.SplitBrain = cluster.SplitBrainConfig{Strategy: cluster.SplitBrainKeepOldest, StableAfter: 2 * time.Second, OldestSurvivesAlone: true}
	cfgRoundTrip(t, c.WithDefaults(), filepath.Join(t.TempDir(), "round-trip-oldest.yaml"))
}

// cfgRoundTrip checks that c, marshalled to YAML in the file at path and
// loaded, comes back unchanged.
func cfgRoundTrip(t testing.TB, c cluster.Config, path string) {
	t.Helper()
	data, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := cluster.LoadConfig(path, nil, nil)
	if err != nil {
		t.Fatalf("loading %s: %v", data, err)
	}
	again, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(data) {
		t.Fatalf("round trip changed the configuration:\n%s\nbecame\n%s", data, again)
	}
}
