package cluster_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/foundation-go/foundation/cluster"
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
// struct, in field order.
func cfgLeafKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
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
		{"heartbeat_interval", 100 * ms, 500 * ms, 250 * ms},
		{"suspect_after", 300 * ms, 2 * s, 1 * s},
		{"remove_after", 200 * ms, 5 * s, 3 * s},
		{"join_timeout", 2 * s, 10 * s, 10 * s},
		{"leave_timeout", 1 * s, 1 * s, 1 * s},
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
	if got.Profile != "staging" || got.HeartbeatInterval != cluster.Development().HeartbeatInterval {
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
		Profile:           cluster.ProfileProduction,
		Port:              9000,
		HeartbeatInterval: time.Second,
		Seeds:             []string{"10.0.0.1:7350"},
		MDNS:              cluster.MDNSConfig{Interfaces: []string{"eth0"}},
		Labels:            map[string]string{"zone": "a"},
	}
	snapshot := cluster.Config{
		Profile:           cluster.ProfileProduction,
		Port:              9000,
		HeartbeatInterval: time.Second,
		Seeds:             []string{"10.0.0.1:7350"},
		MDNS:              cluster.MDNSConfig{Interfaces: []string{"eth0"}},
		Labels:            map[string]string{"zone": "a"},
	}
	got := in.WithDefaults()
	if !reflect.DeepEqual(in, snapshot) {
		t.Fatalf("WithDefaults mutated its receiver: %+v", in)
	}
	want := cluster.Production()
	want.Port = 9000
	want.HeartbeatInterval = time.Second
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
		{"zero heartbeat", func(c *cluster.Config) { c.HeartbeatInterval = 0 }, "heartbeat_interval: 0s must be > 0"},
		{"negative suspect", func(c *cluster.Config) { c.SuspectAfter = -time.Second }, "suspect_after: -1s must be > 0"},
		{"suspect below two heartbeats", func(c *cluster.Config) { c.SuspectAfter = 900 * time.Millisecond }, "suspect_after: 900ms must be >= 2 * heartbeat_interval (1s)"},
		{"zero remove", func(c *cluster.Config) { c.RemoveAfter = 0 }, "remove_after: 0s must be > 0"},
		{"zero join timeout", func(c *cluster.Config) { c.JoinTimeout = 0 }, "join_timeout: 0s must be > 0"},
		{"zero leave timeout", func(c *cluster.Config) { c.LeaveTimeout = 0 }, "leave_timeout: 0s must be > 0"},
		{"seed without port", func(c *cluster.Config) { c.Seeds[1] = "node-2.example" }, `seeds[1]: "node-2.example" is not host:port`},
		{"seed without host", func(c *cluster.Config) { c.Seeds[0] = ":7350" }, `seeds[0]: ":7350" has no host`},
		{"seed port out of range", func(c *cluster.Config) { c.Seeds[2] = "[fd00::3]:99999" }, `seeds[2]: "[fd00::3]:99999": port must be 1..65535`},
		{"static without seeds", func(c *cluster.Config) { c.Provider = "static"; c.Seeds = nil }, "seeds: empty; provider static needs at least one host:port"},
		{"mdns service", func(c *cluster.Config) { c.MDNS.Service = "foundation" }, `mdns.service: "foundation" must be a DNS-SD service type`},
		{"mdns domain", func(c *cluster.Config) { c.MDNS.Domain = "" }, "mdns.domain: empty"},
		{"mdns interface", func(c *cluster.Config) { c.MDNS.Interfaces = []string{"eth0", ""} }, "mdns.interfaces[1]: empty"},
		{"mdns announce", func(c *cluster.Config) { c.MDNS.AnnounceInterval = 0 }, "mdns.announce_interval: 0s must be > 0"},
		{"mdns expire", func(c *cluster.Config) { c.MDNS.ExpireAfter = 1500 * time.Millisecond }, "mdns.expire_after: 1.5s must be >= 2 * mdns.announce_interval (2s)"},
		{"consul address", func(c *cluster.Config) { c.Provider = "consul"; c.Consul.Address = "" }, "consul.address: empty; provider consul needs"},
		{"consul ttl", func(c *cluster.Config) { c.Consul.TTL = 0 }, "consul.ttl: 0s must be > 0"},
		{"consul deregister", func(c *cluster.Config) { c.Consul.DeregisterAfter = -time.Minute }, "consul.deregister_after: -1m0s must be > 0"},
		{"k8s port name", func(c *cluster.Config) { c.Kubernetes.PortName = "Foundation_Port" }, `kubernetes.port_name: "Foundation_Port" must be at most 15`},
		{"k8s port name too long", func(c *cluster.Config) { c.Kubernetes.PortName = "foundation-members" }, `kubernetes.port_name: "foundation-members"`},
		{"dns name", func(c *cluster.Config) { c.Provider = "dns" }, "dns.name: empty; provider dns needs a name"},
		{"dns port", func(c *cluster.Config) { c.DNS.Port = 65536 }, "dns.port: 65536 must be 0..65535 (0: this member's port)"},
		{"dns interval", func(c *cluster.Config) { c.DNS.Interval = 0 }, "dns.interval: 0s must be > 0"},
		{"etcd endpoints", func(c *cluster.Config) { c.Provider = "etcd" }, "etcd.endpoints: empty; provider etcd needs at least one endpoint"},
		{"etcd empty endpoint", func(c *cluster.Config) { c.Etcd.Endpoints = []string{""} }, "etcd.endpoints[0]: empty"},
		{"etcd lease", func(c *cluster.Config) { c.Etcd.LeaseTTL = 500 * time.Millisecond }, "etcd.lease_ttl: 500ms must be >= 1s"},
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

func TestValidateReportsEveryProblem(t *testing.T) {
	c := cfgValid(t)
	c.Name = ""
	c.Port = -1
	c.HeartbeatInterval = 0
	c.LogLevel = "loud"
	err := c.Validate()
	problems := cfgProblems(err)
	if len(problems) != 4 {
		t.Fatalf("Validate() found %d problems, want 4:\n%v", len(problems), err)
	}
	for i, key := range []string{"name:", "port:", "heartbeat_interval:", "log_level:"} {
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
			if c.HeartbeatInterval != cluster.Development().HeartbeatInterval || c.Name != "foundation" {
				t.Errorf("untouched keys changed: heartbeat %v, name %q", c.HeartbeatInterval, c.Name)
			}
		})
	}
}

func TestLoadConfigLayersCombine(t *testing.T) {
	path := writeCfgFile(t, `
name: orders
mdns:
  service: _orders._tcp
heartbeat_interval: 50ms
suspect_after: 1s
`)
	c, err := cluster.LoadConfig(path, cfgEnv(map[string]string{
		"FOUNDATION_MDNS_INTERFACES": "eth0,eth1",
		"FOUNDATION_SUSPECT_AFTER":   "400ms",
		"FOUNDATION_KINDS":           "user, order",
	}), func(c *cluster.Config) { c.LogLevel = "debug" })
	if err != nil {
		t.Fatal(err)
	}
	want := cluster.Development()
	want.Name = "orders"
	want.MDNS.Service = "_orders._tcp"
	want.MDNS.Interfaces = []string{"eth0", "eth1"}
	want.HeartbeatInterval = 50 * time.Millisecond
	want.SuspectAfter = 400 * time.Millisecond
	want.Kinds = []string{"user", "order"}
	want.LogLevel = "debug"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestLoadConfigZeroMeansDefault(t *testing.T) {
	path := writeCfgFile(t, "heartbeat_interval: 0s\nport: 0\nname: \"\"\n")
	c, err := cluster.LoadConfig(path, cfgEnv(map[string]string{"FOUNDATION_PROFILE": "production", "FOUNDATION_SECRET": cfgSecret}),
		func(c *cluster.Config) { c.SuspectAfter = 0 })
	if err != nil {
		t.Fatal(err)
	}
	p := cluster.Production()
	if c.HeartbeatInterval != p.HeartbeatInterval || c.Port != p.Port || c.Name != p.Name || c.SuspectAfter != p.SuspectAfter {
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
		name      string
		file      string
		env       map[string]string
		override  func(*cluster.Config)
		want      cluster.Profile
		heartbeat time.Duration
	}{
		{"default is development", "", nil, nil, cluster.ProfileDevelopment, 100 * time.Millisecond},
		{"from the file", "profile: production\n", secret, nil, cluster.ProfileProduction, 500 * time.Millisecond},
		{"from the environment", "", withEnv("FOUNDATION_PROFILE", "production"), nil, cluster.ProfileProduction, 500 * time.Millisecond},
		{"environment over file", "profile: production\n" + tlsYAML, withEnv("FOUNDATION_PROFILE", "enterprise"), nil, cluster.ProfileEnterprise, 250 * time.Millisecond},
		{"code over environment", "", withEnv("FOUNDATION_PROFILE", "production"), func(c *cluster.Config) { c.Profile = cluster.ProfileDevelopment }, cluster.ProfileDevelopment, 100 * time.Millisecond},
		{"code over file", "profile: development\n" + tlsYAML, secret, func(c *cluster.Config) { c.Profile = cluster.ProfileEnterprise }, cluster.ProfileEnterprise, 250 * time.Millisecond},
		{"file heartbeat kept across a change of profile in code", "heartbeat_interval: 50ms\nsuspect_after: 150ms\n", secret, func(c *cluster.Config) { c.Profile = cluster.ProfileProduction }, cluster.ProfileProduction, 50 * time.Millisecond},
		{"code heartbeat kept across its change of profile", "", secret, func(c *cluster.Config) {
			c.HeartbeatInterval = 400 * time.Millisecond
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
			if c.Profile != tc.want || c.HeartbeatInterval != tc.heartbeat {
				t.Errorf("profile %q heartbeat %v; want %q %v", c.Profile, c.HeartbeatInterval, tc.want, tc.heartbeat)
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
	if c.Port != 1234 || c.Name != "orders" || c.Host != "0.0.0.0" || c.Secret != cfgSecret || c.RemoveAfter != 5*time.Second {
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
		{"go field name", "HeartbeatInterval: 1s\n", []string{`unknown key "HeartbeatInterval"`}},
		{"wrong type", "port: seven\n", []string{"line 1: cannot unmarshal !!str `seven` into int"}},
		{"duration without unit", "heartbeat_interval: 100\n", []string{"line 1: cannot unmarshal !!int `100` into time.Duration"}},
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
		{"FOUNDATION_HEARTBEAT_INTERVAL", "fast", `FOUNDATION_HEARTBEAT_INTERVAL: "fast" is not a duration; want Go syntax such as 500ms`},
		{"FOUNDATION_SUSPECT_AFTER", "3", `FOUNDATION_SUSPECT_AFTER: "3" is not a duration`},
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
		"duration": {"42s", 42 * time.Second},
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

// docs/configuration.md lists every key and every variable.
func TestConfigDocsListEveryKey(t *testing.T) {
	for _, page := range []string{filepath.Join("..", "docs", "configuration.md"), filepath.Join("..", "README.md")} {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(data)
		for _, v := range cluster.EnvVars() {
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
	cfgRoundTrip(t, c, filepath.Join(t.TempDir(), "round-trip.yaml"))
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
