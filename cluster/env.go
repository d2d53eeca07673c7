package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by Detect as well as LoadConfig.
const (
	envProfile          = "FOUNDATION_PROFILE"
	envProvider         = "FOUNDATION_PROVIDER"
	envSeeds            = "FOUNDATION_SEEDS"
	envDNSName          = "FOUNDATION_DNS_NAME"
	envEtcdEndpoints    = "FOUNDATION_ETCD_ENDPOINTS"
	envConsulAddress    = "FOUNDATION_CONSUL_ADDRESS"
	envStdConsulAddress = "CONSUL_HTTP_ADDR"
	envStdEtcdEndpoints = "ETCD_ENDPOINTS"
	envKubernetes       = "KUBERNETES_SERVICE_HOST"
)

// EnvVar describes one environment variable LoadConfig reads.
type EnvVar struct {
	// Name is the variable, e.g. "FOUNDATION_PORT".
	Name string
	// Key is the YAML key it sets, dotted when nested: "port",
	// "mdns.interfaces".
	Key string
	// Format is how the value is read: "string"; "int"; "bool" ("true" or
	// "false"; also 1, 0, t, f and their capitals); "duration" (Go syntax:
	// "500ms", "2s", "1m30s"); "float" (a decimal: "0.25"); "list"
	// (comma-separated: "a,b");
	// "map" (comma-separated key=value pairs: "role=api,zone=a").
	Format string
	// Fallback is a variable read when Name is unset; "" when none.
	Fallback string
}

// EnvVars returns every environment variable LoadConfig reads, in the order
// of the Config fields they set. Every YAML key has one.
func EnvVars() []EnvVar {
	bs := envBindings()
	out := make([]EnvVar, len(bs))
	for i, b := range bs {
		out[i] = b.EnvVar
	}
	return out
}

// envBinding is an EnvVar with the code that applies its value.
type envBinding struct {
	EnvVar
	set func(c *Config, value string) error
}

func envText(name, key string, field func(*Config) *string) envBinding {
	return envBinding{EnvVar{Name: name, Key: key, Format: "string"}, func(c *Config, v string) error {
		*field(c) = v
		return nil
	}}
}

func envInt(name, key string, field func(*Config) *int) envBinding {
	return envBinding{EnvVar{Name: name, Key: key, Format: "int"}, func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*field(c) = n
		return nil
	}}
}

func envBool(name, key string, field func(*Config) *bool) envBinding {
	return envBinding{EnvVar{Name: name, Key: key, Format: "bool"}, func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not a boolean; want true or false", v)
		}
		*field(c) = b
		return nil
	}}
}

func envDuration(name, key string, field func(*Config) *time.Duration) envBinding {
	return envBinding{EnvVar{Name: name, Key: key, Format: "duration"}, func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration; want Go syntax such as 500ms, 2s or 1m30s", v)
		}
		*field(c) = d
		return nil
	}}
}

func envFloat(name, key string, field func(*Config) *float64) envBinding {
	return envBinding{EnvVar{Name: name, Key: key, Format: "float"}, func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number; want a decimal such as 0.25", v)
		}
		*field(c) = f
		return nil
	}}
}

func envList(name, key string, field func(*Config) *[]string) envBinding {
	return envBinding{EnvVar{Name: name, Key: key, Format: "list"}, func(c *Config, v string) error {
		var list []string
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		*field(c) = list
		return nil
	}}
}

func envMap(name, key string, field func(*Config) *map[string]string) envBinding {
	return envBinding{EnvVar{Name: name, Key: key, Format: "map"}, func(c *Config, v string) error {
		m := make(map[string]string)
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			k, val, ok := strings.Cut(item, "=")
			k = strings.TrimSpace(k)
			switch _, dup := m[k]; {
			case !ok || k == "":
				return fmt.Errorf("%q is not key=value; want key=value pairs separated by commas", item)
			case dup:
				return fmt.Errorf("key %q appears twice", k)
			}
			m[k] = strings.TrimSpace(val)
		}
		*field(c) = m
		return nil
	}}
}

func (b envBinding) withFallback(name string) envBinding {
	b.Fallback = name
	return b
}

// envBindings is the table behind EnvVars and LoadConfig. It is built per
// call: the package keeps no mutable state.
func envBindings() []envBinding {
	return []envBinding{
		envText("FOUNDATION_NAME", "name", func(c *Config) *string { return &c.Name }),
		envText("FOUNDATION_SECRET", "secret", func(c *Config) *string { return &c.Secret }),
		envText(envProfile, "profile", func(c *Config) *string { return (*string)(&c.Profile) }),
		envText(envProvider, "provider", func(c *Config) *string { return &c.Provider }),
		envText("FOUNDATION_HOST", "host", func(c *Config) *string { return &c.Host }),
		envInt("FOUNDATION_PORT", "port", func(c *Config) *int { return &c.Port }),
		envText("FOUNDATION_ADVERTISE_ADDRESS", "advertise_address", func(c *Config) *string { return &c.AdvertiseAddress }),
		envInt("FOUNDATION_CLUSTER_PORT", "cluster_port", func(c *Config) *int { return &c.ClusterPort }),
		envText("FOUNDATION_ADVERTISE_CLUSTER_ADDRESS", "advertise_cluster_address", func(c *Config) *string { return &c.AdvertiseClusterAddress }),
		envDuration("FOUNDATION_PROBE_INTERVAL", "probe_interval", func(c *Config) *time.Duration { return &c.ProbeInterval }),
		envDuration("FOUNDATION_PROBE_TIMEOUT", "probe_timeout", func(c *Config) *time.Duration { return &c.ProbeTimeout }),
		envDuration("FOUNDATION_GOSSIP_INTERVAL", "gossip_interval", func(c *Config) *time.Duration { return &c.GossipInterval }),
		envInt("FOUNDATION_SUSPICION_MULTIPLIER", "suspicion_multiplier", func(c *Config) *int { return &c.SuspicionMultiplier }),
		envDuration("FOUNDATION_JOIN_TIMEOUT", "join_timeout", func(c *Config) *time.Duration { return &c.JoinTimeout }),
		envDuration("FOUNDATION_LEAVE_TIMEOUT", "leave_timeout", func(c *Config) *time.Duration { return &c.LeaveTimeout }),

		envText("FOUNDATION_SPLIT_BRAIN_STRATEGY", "split_brain.strategy", func(c *Config) *string { return &c.SplitBrain.Strategy }),
		envDuration("FOUNDATION_SPLIT_BRAIN_STABLE_AFTER", "split_brain.stable_after", func(c *Config) *time.Duration { return &c.SplitBrain.StableAfter }),
		envInt("FOUNDATION_SPLIT_BRAIN_QUORUM_SIZE", "split_brain.quorum_size", func(c *Config) *int { return &c.SplitBrain.QuorumSize }),
		envBool("FOUNDATION_SPLIT_BRAIN_OLDEST_SURVIVES_ALONE", "split_brain.oldest_survives_alone", func(c *Config) *bool { return &c.SplitBrain.OldestSurvivesAlone }),
		envText("FOUNDATION_SPLIT_BRAIN_LEASE_BACKEND", "split_brain.lease.backend", func(c *Config) *string { return &c.SplitBrain.Lease.Backend }),
		envText("FOUNDATION_SPLIT_BRAIN_LEASE_NAME", "split_brain.lease.name", func(c *Config) *string { return &c.SplitBrain.Lease.Name }),
		envDuration("FOUNDATION_SPLIT_BRAIN_LEASE_TTL", "split_brain.lease.ttl", func(c *Config) *time.Duration { return &c.SplitBrain.Lease.TTL }),
		envDuration("FOUNDATION_SPLIT_BRAIN_LEASE_ACQUIRE_DELAY", "split_brain.lease.acquire_delay", func(c *Config) *time.Duration { return &c.SplitBrain.Lease.AcquireDelay }),

		envList(envSeeds, "seeds", func(c *Config) *[]string { return &c.Seeds }),

		envText("FOUNDATION_MDNS_SERVICE", "mdns.service", func(c *Config) *string { return &c.MDNS.Service }),
		envText("FOUNDATION_MDNS_DOMAIN", "mdns.domain", func(c *Config) *string { return &c.MDNS.Domain }),
		envList("FOUNDATION_MDNS_INTERFACES", "mdns.interfaces", func(c *Config) *[]string { return &c.MDNS.Interfaces }),
		envDuration("FOUNDATION_MDNS_ANNOUNCE_INTERVAL", "mdns.announce_interval", func(c *Config) *time.Duration { return &c.MDNS.AnnounceInterval }),
		envDuration("FOUNDATION_MDNS_EXPIRE_AFTER", "mdns.expire_after", func(c *Config) *time.Duration { return &c.MDNS.ExpireAfter }),

		envText(envConsulAddress, "consul.address", func(c *Config) *string { return &c.Consul.Address }).withFallback(envStdConsulAddress),
		envText("FOUNDATION_CONSUL_SERVICE", "consul.service", func(c *Config) *string { return &c.Consul.Service }),
		envDuration("FOUNDATION_CONSUL_TTL", "consul.ttl", func(c *Config) *time.Duration { return &c.Consul.TTL }),
		envDuration("FOUNDATION_CONSUL_DEREGISTER_AFTER", "consul.deregister_after", func(c *Config) *time.Duration { return &c.Consul.DeregisterAfter }),

		envText("FOUNDATION_K8S_NAMESPACE", "kubernetes.namespace", func(c *Config) *string { return &c.Kubernetes.Namespace }),
		envText("FOUNDATION_K8S_SELECTOR", "kubernetes.label_selector", func(c *Config) *string { return &c.Kubernetes.LabelSelector }),
		envText("FOUNDATION_K8S_PORT_NAME", "kubernetes.port_name", func(c *Config) *string { return &c.Kubernetes.PortName }),

		envText(envDNSName, "dns.name", func(c *Config) *string { return &c.DNS.Name }),
		envInt("FOUNDATION_DNS_PORT", "dns.port", func(c *Config) *int { return &c.DNS.Port }),
		envDuration("FOUNDATION_DNS_INTERVAL", "dns.interval", func(c *Config) *time.Duration { return &c.DNS.Interval }),
		envList("FOUNDATION_DNS_SERVERS", "dns.servers", func(c *Config) *[]string { return &c.DNS.Servers }),

		envList(envEtcdEndpoints, "etcd.endpoints", func(c *Config) *[]string { return &c.Etcd.Endpoints }).withFallback(envStdEtcdEndpoints),
		envText("FOUNDATION_ETCD_PREFIX", "etcd.prefix", func(c *Config) *string { return &c.Etcd.Prefix }),
		envDuration("FOUNDATION_ETCD_LEASE_TTL", "etcd.lease_ttl", func(c *Config) *time.Duration { return &c.Etcd.LeaseTTL }),

		envText("FOUNDATION_TLS_CERT", "tls.cert_file", func(c *Config) *string { return &c.TLS.CertFile }),
		envText("FOUNDATION_TLS_KEY", "tls.key_file", func(c *Config) *string { return &c.TLS.KeyFile }),
		envText("FOUNDATION_TLS_CA", "tls.ca_file", func(c *Config) *string { return &c.TLS.CAFile }),

		envList("FOUNDATION_KINDS", "kinds", func(c *Config) *[]string { return &c.Kinds }),
		envMap("FOUNDATION_LABELS", "labels", func(c *Config) *map[string]string { return &c.Labels }),
		envText("FOUNDATION_LOG_LEVEL", "log_level", func(c *Config) *string { return &c.LogLevel }),

		envText("FOUNDATION_TELEMETRY_ADDRESS", "telemetry.address", func(c *Config) *string { return &c.Telemetry.Address }),
		envText("FOUNDATION_TELEMETRY_METRICS", "telemetry.metrics", func(c *Config) *string { return &c.Telemetry.Metrics }),
		envText("FOUNDATION_TELEMETRY_TRACING", "telemetry.tracing", func(c *Config) *string { return &c.Telemetry.Tracing }),
		envFloat("FOUNDATION_TELEMETRY_SAMPLE_RATIO", "telemetry.sample_ratio", func(c *Config) *float64 { return &c.Telemetry.SampleRatio }),
		envInt("FOUNDATION_TELEMETRY_RECORDER_SIZE", "telemetry.recorder_size", func(c *Config) *int { return &c.Telemetry.RecorderSize }),
		envInt("FOUNDATION_TELEMETRY_EXPECTED_MEMBERS", "telemetry.expected_members", func(c *Config) *int { return &c.Telemetry.ExpectedMembers }),
		envText("FOUNDATION_TELEMETRY_ADVISOR", "telemetry.advisor", func(c *Config) *string { return &c.Telemetry.Advisor }),
	}
}

// lookupConfigEnv returns the trimmed value of name; an empty value counts
// as unset.
func lookupConfigEnv(lookupEnv func(string) (string, bool), name string) (string, bool) {
	v, ok := lookupEnv(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}
