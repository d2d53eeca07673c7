package cluster_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/foundation-go/foundation/cluster"
)

// exampleEnv stands for os.LookupEnv in the examples.
func exampleEnv(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// A file, the environment and code each set some keys; the higher layer wins
// where they overlap, and the preset fills the rest.
func ExampleLoadConfig() {
	dir, err := os.MkdirTemp("", "foundation-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cluster.yaml")
	file := "name: orders\nport: 7000\nkinds: [user]\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	env := exampleEnv(map[string]string{
		"FOUNDATION_PORT":  "7001",
		"FOUNDATION_SEEDS": "127.0.0.1:7002",
	})

	c, err := cluster.LoadConfig(path, env, func(c *cluster.Config) {
		c.Kinds = append(c.Kinds, "order")
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("profile:", c.Profile)
	fmt.Println("name:", c.Name)           // file
	fmt.Println("port:", c.Port)           // environment over file
	fmt.Println("seeds:", c.Seeds)         // environment
	fmt.Println("kinds:", c.Kinds)         // code, on top of the file
	fmt.Println("host:", c.Host)           // development preset
	fmt.Println("probe:", c.ProbeInterval) // development preset
	// Output:
	// profile: development
	// name: orders
	// port: 7001
	// seeds: [127.0.0.1:7002]
	// kinds: [user order]
	// host: 127.0.0.1
	// probe: 100ms
}

// Inside Kubernetes, with nothing configured but a secret: Detect picks the
// production profile and the k8s provider, and the override adopts them
// unless the file or the environment chose otherwise.
func ExampleDetect() {
	env := exampleEnv(map[string]string{
		"KUBERNETES_SERVICE_HOST": "10.96.0.1",
		"FOUNDATION_SECRET":       "a-long-shared-secret",
	})
	d := cluster.Detect(env)
	fmt.Println(d.Profile, d.Provider)
	for _, r := range d.Reasons {
		fmt.Println("because", r)
	}

	c, err := cluster.LoadConfig("", env, func(c *cluster.Config) {
		if c.Profile == "" {
			c.Profile = d.Profile
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Profile, c.ResolveProvider(d), c.Host, c.Port, c.ClusterPort, c.ProbeInterval)
	// Output:
	// production k8s
	// because KUBERNETES_SERVICE_HOST is set: running in Kubernetes
	// production k8s 0.0.0.0 7350 7351 500ms
}

// Validate reports every problem at once, each naming its key.
func ExampleConfig_Validate() {
	c := cluster.Production()
	c.ProbeTimeout = 2 * time.Second
	c.SplitBrain.Strategy = cluster.SplitBrainStaticQuorum
	c.Seeds = []string{"10.0.0.1"}
	err := c.Validate()
	fmt.Println(errors.Is(err, cluster.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// cluster: invalid config: secret: required in the production profile: set at least 16 bytes shared by every member
	// cluster: invalid config: probe_timeout: 2s must be < probe_interval (500ms), which leaves time for indirect probes
	// cluster: invalid config: split_brain.quorum_size: 0; strategy static-quorum needs a quorum size >= 1, more than half the planned cluster size
	// cluster: invalid config: seeds[0]: "10.0.0.1" is not host:port (e.g. 10.0.0.5:7350 or [::1]:7350)
}

// The presets differ in where they listen and how fast they give up on a
// silent member.
func ExamplePreset() {
	for _, p := range []cluster.Profile{cluster.ProfileDevelopment, cluster.ProfileProduction, cluster.ProfileEnterprise} {
		c := cluster.Preset(p)
		fmt.Printf("%-11s %-9s ports %d/%d probe %-5v timeout %-5v gossip %-5v ×%d stable %v\n",
			c.Profile, c.Host, c.Port, c.ClusterPort, c.ProbeInterval, c.ProbeTimeout, c.GossipInterval,
			c.SuspicionMultiplier, c.SplitBrain.StableAfter)
	}
	// Output:
	// development 127.0.0.1 ports 0/0 probe 100ms timeout 60ms  gossip 50ms  ×3 stable 250ms
	// production  0.0.0.0   ports 7350/7351 probe 500ms timeout 300ms gossip 200ms ×2 stable 500ms
	// enterprise  0.0.0.0   ports 7350/7351 probe 250ms timeout 150ms gossip 100ms ×2 stable 500ms
}

// Zero fields take the profile's defaults; set fields stay; the receiver is
// left alone.
func ExampleConfig_WithDefaults() {
	mine := cluster.Config{Profile: cluster.ProfileProduction, Name: "orders", SplitBrain: cluster.SplitBrainConfig{StableAfter: 10 * time.Second}}
	c := mine.WithDefaults()
	fmt.Println(c.Name, c.Port, c.ProbeInterval, c.SplitBrain.Strategy, c.SplitBrain.StableAfter)
	fmt.Printf("%q %d\n", mine.Host, mine.Port)
	// Output:
	// orders 7350 500ms keep-majority 10s
	// "" 0
}

func ExampleEnvVars() {
	for _, v := range cluster.EnvVars()[:6] {
		fmt.Printf("%-20s %-7s %s\n", v.Name, v.Format, v.Key)
	}
	// Output:
	// FOUNDATION_NAME      string  name
	// FOUNDATION_SECRET    string  secret
	// FOUNDATION_PROFILE   string  profile
	// FOUNDATION_PROVIDER  string  provider
	// FOUNDATION_HOST      string  host
	// FOUNDATION_PORT      int     port
}

// Resolved applies the defaults that depend on the rest of the
// configuration and on what Detect found.
func ExampleConfig_Resolved() {
	c := cluster.Production()
	c.Name = "orders"
	c.SplitBrain.Strategy = cluster.SplitBrainLeaseMajority
	c.Provider = cluster.ProviderKubernetes
	r := c.Resolved(cluster.Detection{})
	fmt.Println(r.Provider)
	fmt.Println(r.Kubernetes.LabelSelector)
	fmt.Println(r.Consul.Service)
	fmt.Println(r.SplitBrain.Lease.Backend, r.SplitBrain.Lease.Name)
	fmt.Printf("%q\n", c.Kubernetes.LabelSelector) // c is left alone
	// Output:
	// k8s
	// app.kubernetes.io/part-of=orders
	// orders
	// kubernetes orders-split-brain
	// ""
}
