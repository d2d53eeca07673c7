package cluster_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
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
		"probe_interval: 50ms\nprobe_timeout: 20ms\ngossip_interval: 10ms\nsuspicion_multiplier: 5\n",
		"cluster_port: 9000\nadvertise_cluster_address: \"10.0.0.1:9000\"\n",
		"split_brain: {strategy: static-quorum, quorum_size: 2, stable_after: 3s}\n",
		"split_brain: {strategy: keep-oldest, oldest_survives_alone: true}\n",
		"provider: etcd\netcd: {endpoints: [\"http://e:2379\"]}\nsplit_brain:\n  strategy: lease-majority\n  lease: {name: l, ttl: 3s, acquire_delay: 1ms}\n",
		"mdns:\n  service: _x._tcp\n  interfaces: [eth0]\n  expire_after: 10s\n",
		"consul: {address: \"http://c:8500\", ttl: 5s}\netcd: {endpoints: [a], lease_ttl: 2s}\n",
		"kubernetes: {namespace: apps, label_selector: \"app=x\", port_name: cluster}\ndns: {name: x.local, port: 53}\n",
		"labels: {zone: a, role: api}\nkinds: [user, order]\nlog_level: debug\n",
		"tls: {cert_file: /nonexistent/c, key_file: k, ca_file: ca}\n",
		"unknown: 1\n",
		"port: 99999999999999999999\n",
		"probe_interval: -1h\n",
		"heartbeat_interval: 1s\n",
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
	index := func(name string) uint8 {
		return uint8(slices.IndexFunc(vars, func(v cluster.EnvVar) bool { return v.Name == name }))
	}
	f.Add(index("FOUNDATION_NAME"), "orders")
	f.Add(index("FOUNDATION_PORT"), "7350")
	f.Add(index("FOUNDATION_PROBE_INTERVAL"), "100ms")
	f.Add(index("FOUNDATION_SPLIT_BRAIN_OLDEST_SURVIVES_ALONE"), "true")
	f.Add(index("FOUNDATION_SEEDS"), "a:1, b:2,,")
	f.Add(index("FOUNDATION_LABELS"), "a=b, c = d")
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
