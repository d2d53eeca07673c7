package cluster

import (
	"time"

	"github.com/foundation-go/foundation/provider/consul"
	"github.com/foundation-go/foundation/provider/dns"
	"github.com/foundation-go/foundation/provider/etcd"
	"github.com/foundation-go/foundation/provider/k8s"
	"github.com/foundation-go/foundation/provider/mdns"
)

// Profile names a set of defaults: see Development, Production and
// Enterprise. The zero value means ProfileDevelopment.
type Profile string

// The profiles.
const (
	// ProfileDevelopment: one machine, loopback only, fast timings, no
	// secret required, mDNS discovery. The default.
	ProfileDevelopment Profile = "development"
	// ProfileProduction: real hosts on a network, timings that tolerate GC
	// pauses and network jitter, a cluster secret required.
	ProfileProduction Profile = "production"
	// ProfileEnterprise: production plus mutual TLS required and tighter
	// failure detection for a provisioned low-latency network.
	ProfileEnterprise Profile = "enterprise"
)

// Discovery providers, the values of Config.Provider. The back-ends
// themselves live in package provider and its sub-packages.
const (
	// ProviderAuto picks a provider from the environment: see Detect and
	// Config.ResolveProvider.
	ProviderAuto = "auto"
	// ProviderStatic: a fixed seed list (Config.Seeds).
	ProviderStatic = "static"
	// ProviderMDNS: zero-config multicast DNS on the local network
	// (Config.MDNS).
	ProviderMDNS = "mdns"
	// ProviderConsul: a Consul agent's service catalog (Config.Consul).
	ProviderConsul = "consul"
	// ProviderKubernetes: pods selected by labels (Config.Kubernetes).
	ProviderKubernetes = "k8s"
	// ProviderDNS: SRV or A/AAAA records of one name, polled (Config.DNS).
	ProviderDNS = "dns"
	// ProviderEtcd: keys under a prefix held by leases (Config.Etcd).
	ProviderEtcd = "etcd"
)

// Config configures one cluster member. A zero field means "the default of
// the profile": WithDefaults fills zero fields from Preset(Profile), and
// LoadConfig does so before validating. Each field's comment gives its YAML
// key and its default in the development / production / enterprise
// profiles; docs/reference/configuration-options.md has the same table with
// the environment variables.
//
// A Config is a plain value: functions of this package never modify the
// Config they are given and never keep references to its slices and maps.
type Config struct {
	// Name is the cluster's name: members only admit members with the same
	// name. Lower-case letters, digits, '-', '_' and '.'.
	// Default (all profiles): "foundation".
	Name string `yaml:"name,omitempty"`
	// Secret is the shared secret members use to admit each other (an HMAC
	// over every announcement and join). At least 16 bytes when set.
	// Default: empty. Development may leave it empty, which admits any
	// member that knows the cluster name; production and enterprise require
	// it.
	Secret string `yaml:"secret,omitempty"`
	// Profile selects the defaults. Default: development.
	Profile Profile `yaml:"profile,omitempty"`
	// Provider is the discovery back-end: auto, static, mdns, consul, k8s,
	// dns or etcd. Default (all profiles): auto, which picks one from the
	// environment (see Detect).
	Provider string `yaml:"provider,omitempty"`

	// Host is the address the member listens on.
	// Default: development "127.0.0.1", production and enterprise "0.0.0.0".
	Host string `yaml:"host,omitempty"`
	// Port is the TCP port of actor remoting (proto.actor's gRPC),
	// 0..65535; 0 picks a free port. Membership gossip and grain traffic use
	// ClusterPort. Default: development 0, production and enterprise 7350.
	// Because zero means "default", a production member always gets a fixed
	// port.
	Port int `yaml:"port,omitempty"`
	// AdvertiseAddress is the host:port other members dial to reach this
	// one, for when Host:Port is not reachable as such (0.0.0.0, NAT, a
	// container's port mapping). Default: empty, meaning derived from Host
	// and the bound port when the member starts.
	AdvertiseAddress string `yaml:"advertise_address,omitempty"`
	// ClusterPort is the port, TCP and UDP, of membership gossip (SWIM
	// probes, gossip and state exchange) and of grain traffic, 0..65535;
	// 0 picks a free port. When Port and ClusterPort are both non-zero they
	// must differ. Default: development 0, production and enterprise 7351.
	// As with Port, only development gets a free port.
	ClusterPort int `yaml:"cluster_port,omitempty"`
	// AdvertiseClusterAddress is the host:port other members dial to reach
	// this member's ClusterPort, for when it is not reachable as such.
	// Default: empty, meaning derived: the host of AdvertiseAddress (else
	// Host) with the bound cluster port.
	AdvertiseClusterAddress string `yaml:"advertise_cluster_address,omitempty"`

	// ProbeInterval is the SWIM probe interval: every interval the member
	// probes one peer (in a shuffled round-robin order) and, when no ack
	// comes within ProbeTimeout, asks a few other members to probe it
	// indirectly. Default: development 100ms, production 500ms, enterprise
	// 250ms.
	ProbeInterval time.Duration `yaml:"probe_interval,omitempty"`
	// ProbeTimeout is how long a probe waits for the peer's ack before the
	// indirect probes start; less than ProbeInterval, whose remainder the
	// indirect probes use. Default: development 60ms, production 300ms,
	// enterprise 150ms.
	ProbeTimeout time.Duration `yaml:"probe_timeout,omitempty"`
	// GossipInterval is how often the member passes membership news (joins,
	// suspicions, failures, leaves) to a few random peers.
	// Default: development 50ms, production 200ms, enterprise 100ms.
	GossipInterval time.Duration `yaml:"gossip_interval,omitempty"`
	// SuspicionMultiplier scales the SWIM suspicion timeout: a suspected
	// member that does not refute the suspicion within SuspicionMultiplier ×
	// log10(N) × ProbeInterval (N members, log10(N) taken as at least 1) is
	// declared failed. 1..20. Default: development 3, production and
	// enterprise 2.
	SuspicionMultiplier int `yaml:"suspicion_multiplier,omitempty"`
	// JoinTimeout bounds joining the cluster at start.
	// Default: development 2s, production 10s, enterprise 10s.
	JoinTimeout time.Duration `yaml:"join_timeout,omitempty"`
	// LeaveTimeout bounds announcing a graceful leave at stop.
	// Default (all profiles): 1s.
	LeaveTimeout time.Duration `yaml:"leave_timeout,omitempty"`
	// SplitBrain configures the split-brain resolver, which decides which
	// side of a network partition keeps running.
	SplitBrain SplitBrainConfig `yaml:"split_brain,omitempty"`

	// Seeds are host:port addresses of members to join, for the static
	// provider (which requires at least one). Default: none.
	Seeds []string `yaml:"seeds,omitempty"`

	// The provider sections are the back-ends' own Config types: their
	// fields with a YAML key are configuration, their other fields
	// (yaml:"-": a Logger, the k8s Client, the retry and timeout knobs, a
	// Consul Token) may be set in code, and zero means the back-end's
	// default unless a preset says otherwise. What depends on the rest of
	// the Config (the secret, consul.service, kubernetes.label_selector) is
	// filled in by Resolved, and the logger and the Kubernetes client by
	// foundation.Start. Validate checks every section with the back-end's
	// own Validate, naming problems by key ("consul.ttl").

	// MDNS configures the mdns provider: service, domain, interfaces,
	// announce_interval, expire_after. Defaults (all profiles):
	// _foundation._tcp, local., every multicast-capable interface, 1s, 3s.
	MDNS mdns.Config `yaml:"mdns,omitempty"`
	// Consul configures the consul provider: address, service, ttl,
	// deregister_after. Defaults (all profiles): 127.0.0.1:8500 (the
	// variable CONSUL_HTTP_ADDR when FOUNDATION_CONSUL_ADDRESS is unset),
	// empty (meaning Name), 10s, 1m.
	Consul consul.Config `yaml:"consul,omitempty"`
	// Kubernetes configures the k8s provider: namespace, label_selector,
	// port_name. Defaults: empty, meaning the pod's own namespace,
	// "app.kubernetes.io/part-of=<name>" and each pod's IP with this
	// member's Port.
	Kubernetes k8s.Config `yaml:"kubernetes,omitempty"`
	// DNS configures the dns provider: name (required by the dns
	// provider), port, interval, servers. Defaults: empty, 0 (this member's
	// Port), 5s, the nameservers of /etc/resolv.conf.
	DNS dns.Config `yaml:"dns,omitempty"`
	// Etcd configures the etcd provider: endpoints (required by the etcd
	// provider; the variable ETCD_ENDPOINTS is used when
	// FOUNDATION_ETCD_ENDPOINTS is unset), prefix, lease_ttl. Defaults:
	// none, "/foundation/", 10s.
	Etcd etcd.Config `yaml:"etcd,omitempty"`

	// TLS enables mutual TLS between members. Enterprise requires it; other
	// profiles use it when all three files are set. Default: off.
	TLS TLSConfig `yaml:"tls,omitempty"`

	// Kinds are the grain kinds this member hosts. Default: none (the member
	// hosts no grains but can call them).
	Kinds []string `yaml:"kinds,omitempty"`
	// Labels describe the member (role, zone...) to placement and routing.
	// Default: none.
	Labels map[string]string `yaml:"labels,omitempty"`
	// LogLevel is the minimum level logged: debug, info, warn or error.
	// Default (all profiles): info.
	LogLevel string `yaml:"log_level,omitempty"`

	// Telemetry configures metrics, tracing, health endpoints and the
	// dashboard (docs/reference/telemetry.md).
	Telemetry TelemetryConfig `yaml:"telemetry,omitempty"`
}

// Values of the telemetry keys.
const (
	// TelemetryOff turns off telemetry.address (no HTTP listener) or
	// telemetry.metrics, and is a telemetry.tracing and telemetry.advisor
	// mode.
	TelemetryOff = "off"
	// TelemetryOn turns on telemetry.metrics, and is a telemetry.tracing
	// mode: follow callers' traces and start new ones, sample_ratio of
	// them sampled.
	TelemetryOn = "on"
	// TelemetryFollow is a telemetry.tracing mode: spans only for work
	// whose caller sampled its trace; this member starts none.
	TelemetryFollow = "follow"
	// TelemetryRecommend is a telemetry.advisor mode: list
	// recommendations.
	TelemetryRecommend = "recommend"
	// TelemetryApply is a telemetry.advisor mode: list recommendations and
	// apply the safe ones.
	TelemetryApply = "apply"
)

// TelemetryConfig configures a member's telemetry (YAML key "telemetry"):
// its HTTP listener (/metrics for Prometheus, /healthz, /readyz, /health,
// /debug/..., /dashboard), OpenTelemetry metrics and traces, the flight
// recorder and the performance advisor. OTLP export of spans is configured
// by the standard OTEL_* environment variables (OTEL_EXPORTER_OTLP_ENDPOINT
// and the rest; see docs/reference/telemetry.md), not here.
type TelemetryConfig struct {
	// Address is the host:port of the member's HTTP listener; port 0 picks
	// a free port, an empty host means the member's host, "off" means no
	// listener. Default: development ":0" (on 127.0.0.1, the development
	// host), production and enterprise ":7352".
	Address string `yaml:"address,omitempty"`
	// Metrics is on (collect OpenTelemetry metrics and serve them on
	// /metrics) or off. Default (all profiles): on.
	Metrics string `yaml:"metrics,omitempty"`
	// Tracing is off (no spans), follow (spans only for work whose caller
	// sampled its trace: free for calls outside a trace) or on (follow,
	// and start new traces, sample_ratio of them sampled). Default:
	// development on, production and enterprise follow.
	Tracing string `yaml:"tracing,omitempty"`
	// SampleRatio is the fraction of the traces this member starts that
	// are sampled, with tracing on: more than 0, at most 1 (to start none,
	// set tracing to follow). Default: development 1, production and
	// enterprise 0.01.
	SampleRatio float64 `yaml:"sample_ratio,omitempty"`
	// RecorderSize is how many finished spans the flight recorder keeps
	// (events: a quarter as many), 16..1048576. Default (all profiles):
	// 4096.
	RecorderSize int `yaml:"recorder_size,omitempty"`
	// ExpectedMembers is the cluster size /health compares the view with;
	// >= 0. Default: 0, meaning not compared.
	ExpectedMembers int `yaml:"expected_members,omitempty"`
	// Advisor is off, recommend (list recommendations in /health and on
	// the dashboard) or apply (and apply the safe ones to registered
	// tunables). Default (all profiles): recommend.
	Advisor string `yaml:"advisor,omitempty"`
}

// Split-brain strategies, the values of SplitBrainConfig.Strategy.
const (
	// SplitBrainKeepMajority: the side with more than half of the members
	// keeps running; on an even split, the side with the member of the
	// lowest address does (as in Akka).
	SplitBrainKeepMajority = "keep-majority"
	// SplitBrainStaticQuorum: a side with at least QuorumSize members keeps
	// running.
	SplitBrainStaticQuorum = "static-quorum"
	// SplitBrainKeepOldest: the side with the oldest member keeps running
	// (see OldestSurvivesAlone).
	SplitBrainKeepOldest = "keep-oldest"
	// SplitBrainDownAll: every member downs itself.
	SplitBrainDownAll = "down-all"
	// SplitBrainLeaseMajority: the side that takes a lease (Lease) keeps
	// running; the minority side tries only after Lease.AcquireDelay.
	SplitBrainLeaseMajority = "lease-majority"
)

// Lease back-ends, the values of SplitBrainLeaseConfig.Backend.
const (
	// LeaseBackendEtcd holds the lease in etcd (etcd.endpoints).
	LeaseBackendEtcd = "etcd"
	// LeaseBackendKubernetes holds the lease as a coordination.k8s.io Lease
	// in the namespace of the kubernetes section.
	LeaseBackendKubernetes = "kubernetes"
)

// SplitBrainConfig configures the split-brain resolver (YAML key
// "split_brain"). When members become unreachable and the set of
// unreachable members has stayed unchanged for StableAfter, the resolver
// decides, by Strategy, which side of the partition keeps running; the
// members of the other side down themselves.
type SplitBrainConfig struct {
	// Strategy is keep-majority, static-quorum, keep-oldest, down-all or
	// lease-majority (see the SplitBrain… constants).
	// Default (all profiles): keep-majority.
	Strategy string `yaml:"strategy,omitempty"`
	// StableAfter is how long the set of unreachable members must stay
	// unchanged before the resolver decides.
	// Default: development 250ms, production 1.5s, enterprise 1s.
	StableAfter time.Duration `yaml:"stable_after,omitempty"`
	// QuorumSize is the least number of members a side needs to keep
	// running under static-quorum, which requires it (>= 1); it must be 0
	// with every other strategy. Set it to more than half the planned
	// cluster size. Default: 0.
	QuorumSize int `yaml:"quorum_size,omitempty"`
	// OldestSurvivesAlone, for keep-oldest only: when false (the default,
	// Akka's down-if-alone on), an oldest member left alone on its side
	// downs itself and the other side keeps running, so that one member cut
	// off cannot take the rest down; when true, the oldest member's side
	// keeps running even when it is alone.
	OldestSurvivesAlone bool `yaml:"oldest_survives_alone,omitempty"`
	// Lease configures the lease of lease-majority.
	Lease SplitBrainLeaseConfig `yaml:"lease,omitempty"`
}

// SplitBrainLeaseConfig configures the lease the lease-majority strategy
// takes (YAML key "split_brain.lease").
type SplitBrainLeaseConfig struct {
	// Backend holds the lease: etcd (using the etcd section's endpoints) or
	// kubernetes (a coordination.k8s.io Lease in the kubernetes section's
	// namespace). Default: empty, meaning the discovery provider's when
	// that is etcd or k8s. lease-majority requires one, set here or through
	// Provider set to etcd or k8s (not auto, whose choice Validate cannot
	// know), and with etcd, etcd.endpoints.
	Backend string `yaml:"backend,omitempty"`
	// Name is the lease's name: a DNS label (at most 63 lower-case letters,
	// digits and '-', beginning and ending with a letter or digit), usable
	// as an etcd key and as a Kubernetes object name. Default: empty,
	// meaning "<name>-split-brain".
	Name string `yaml:"name,omitempty"`
	// TTL is how long the lease outlives its holder's last renewal; at
	// least 1s (etcd grants whole seconds). Default (all profiles): 10s.
	TTL time.Duration `yaml:"ttl,omitempty"`
	// AcquireDelay is how long the minority side waits before it tries to
	// take the lease, so that the majority side, which tries at once, gets
	// it first; >= 0. Because zero means "default", the shortest delay that
	// can be set is 1ns. Default (all profiles): 2s. A cut-off member sees
	// the split first (it misses every probe at once), the majority at its
	// next probe round: keep this above 2 × (probe_interval +
	// probe_timeout), which CheckReadiness warns under.
	AcquireDelay time.Duration `yaml:"acquire_delay,omitempty"`
}

// TLSConfig enables mutual TLS between members (YAML key "tls"): every
// member presents CertFile/KeyFile and accepts only peers whose certificate
// CAFile signed. Set all three or none; the enterprise profile requires them.
type TLSConfig struct {
	// CertFile is this member's PEM certificate (chain). Default: empty.
	CertFile string `yaml:"cert_file,omitempty"`
	// KeyFile is the PEM private key of CertFile. Default: empty.
	KeyFile string `yaml:"key_file,omitempty"`
	// CAFile is the PEM bundle of CAs peers' certificates must chain to.
	// Default: empty.
	CAFile string `yaml:"ca_file,omitempty"`
}

// providerKubernetesLong is accepted for ProviderKubernetes.
const providerKubernetesLong = "kubernetes"

// ResolveProvider returns the provider to use: c.Provider, or, when that is
// auto or empty, the provider d detected. With nothing detected that is
// mdns in the development profile and static (the seed list) in the others,
// where multicast has no place.
func (c Config) ResolveProvider(d Detection) string {
	if c.Provider == providerKubernetesLong {
		return ProviderKubernetes
	}
	if c.Provider != "" && c.Provider != ProviderAuto {
		return c.Provider
	}
	if d.Provider != "" && d.Provider != ProviderAuto && d.Provider != ProviderMDNS {
		return d.Provider
	}
	if c.Profile != "" && c.Profile != ProfileDevelopment {
		return ProviderStatic
	}
	return ProviderMDNS
}

// Resolved returns a copy of c with the defaults that depend on other keys
// or on the environment applied. It is the one place they are:
//
//   - provider: auto (or empty) becomes what ResolveProvider(d) picks, and
//     kubernetes becomes k8s;
//   - consul.service: empty becomes Name;
//   - kubernetes.label_selector: empty becomes
//     "app.kubernetes.io/part-of=<name>";
//   - the Secret of the mdns, consul and etcd sections, which signs and
//     checks announcements: empty becomes Secret;
//   - split_brain.lease.backend: empty becomes etcd or kubernetes when the
//     provider is etcd or k8s;
//   - split_brain.lease.name: empty becomes "<name>-split-brain".
//
// Fields already set are kept. foundation.Start builds the provider from
// c.Resolved(its Detection). Resolved does not modify c, and the copy
// shares no slice or map with c.
func (c Config) Resolved(d Detection) Config {
	return c.resolved(c.ResolveProvider(d))
}

// resolved is Resolved with the provider already chosen.
func (c Config) resolved(provider string) Config {
	r := c.clone()
	r.Provider = provider
	if r.Consul.Service == "" {
		r.Consul.Service = c.Name
	}
	if r.Kubernetes.LabelSelector == "" {
		r.Kubernetes.LabelSelector = "app.kubernetes.io/part-of=" + c.Name
	}
	for _, secret := range []*[]byte{&r.MDNS.Secret, &r.Consul.Secret, &r.Etcd.Secret} {
		if len(*secret) == 0 && c.Secret != "" {
			*secret = []byte(c.Secret)
		}
	}
	r.SplitBrain.Lease.Backend = c.leaseBackend(provider)
	r.SplitBrain.Lease.Name = c.leaseName()
	return r
}

// leaseBackend returns the lease back-end of split_brain: Lease.Backend, or
// the one of provider when that is etcd or k8s, else "".
func (c Config) leaseBackend(provider string) string {
	if c.SplitBrain.Lease.Backend != "" {
		return c.SplitBrain.Lease.Backend
	}
	switch provider {
	case ProviderEtcd:
		return LeaseBackendEtcd
	case ProviderKubernetes, providerKubernetesLong:
		return LeaseBackendKubernetes
	}
	return ""
}

// leaseName returns the name of the split-brain lease: Lease.Name, or
// "<name>-split-brain".
func (c Config) leaseName() string {
	if c.SplitBrain.Lease.Name != "" {
		return c.SplitBrain.Lease.Name
	}
	return c.Name + "-split-brain"
}
