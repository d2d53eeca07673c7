package cluster_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/foundation-go/foundation/cluster"
)

// FuzzLoadConfigYAML feeds arbitrary file contents to LoadConfig. It must
// never panic; it either fails with ErrInvalidConfig or returns a valid
// configuration that survives a YAML round trip unchanged.
func FuzzLoadConfigYAML(f *testing.F) {
	for _, seed := range []string{
		"",
		"name: orders\nport: 7350\n",
		"profile: production\nsecret: 0123456789abcdef\nseeds: [\"10.0.0.1:7350\"]\n",
		"provider: static\nseeds:\n  - 127.0.0.1:7000\n  - \"[::1]:7001\"\n",
		"heartbeat_interval: 50ms\nsuspect_after: 100ms\nremove_after: 1s\n",
		"mdns:\n  service: _x._tcp\n  interfaces: [eth0]\n  expire_after: 10s\n",
		"consul: {address: \"http://c:8500\", ttl: 5s}\netcd: {endpoints: [a], lease_ttl: 2s}\n",
		"kubernetes: {namespace: apps, label_selector: \"app=x\", port_name: cluster}\ndns: {name: x.local, port: 53}\n",
		"labels: {zone: a, role: api}\nkinds: [user, order]\nlog_level: debug\n",
		"tls: {cert_file: /nonexistent/c, key_file: k, ca_file: ca}\n",
		"unknown: 1\n",
		"port: 99999999999999999999\n",
		"heartbeat_interval: -1h\n",
		"a: &a [*a]\n",
		"---\nport: 1\n---\n",
		"labels: {\"\": x}\n",
	} {
		f.Add(seed)
	}
	// One directory per fuzzing process; its executions run one at a time.
	dir := f.TempDir()
	input, output := filepath.Join(dir, "input.yaml"), filepath.Join(dir, "output.yaml")
	f.Fuzz(func(t *testing.T, body string) {
		if err := os.WriteFile(input, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := cluster.LoadConfig(input, nil, nil)
		if err != nil {
			if !errors.Is(err, cluster.ErrInvalidConfig) {
				t.Fatalf("LoadConfig error does not wrap ErrInvalidConfig: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("LoadConfig returned an invalid configuration: %v", err)
		}
		cfgRoundTrip(t, c, output)
	})
}

// FuzzLoadConfigEnv feeds arbitrary values to every environment variable.
func FuzzLoadConfigEnv(f *testing.F) {
	vars := cluster.EnvVars()
	f.Add(uint8(0), "orders")
	f.Add(uint8(5), "7350")
	f.Add(uint8(7), "100ms")
	f.Add(uint8(12), "a:1, b:2,,")
	f.Add(uint8(len(vars)-2), "a=b, c = d")
	f.Fuzz(func(t *testing.T, i uint8, value string) {
		v := vars[int(i)%len(vars)]
		c, err := cluster.LoadConfig("", cfgEnv(map[string]string{v.Name: value}), nil)
		if err != nil {
			if !errors.Is(err, cluster.ErrInvalidConfig) {
				t.Fatalf("%s=%q: error does not wrap ErrInvalidConfig: %v", v.Name, value, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s=%q: LoadConfig returned an invalid configuration: %v", v.Name, value, err)
		}
	})
}
