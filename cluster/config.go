package cluster

import (
	"time"
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
// profiles; docs/configuration.md has the same table with the environment
// variables.
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
	// enterprise 4.
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

	// MDNS configures the mdns provider.
	MDNS MDNSConfig `yaml:"mdns,omitempty"`
	// Consul configures the consul provider.
	Consul ConsulConfig `yaml:"consul,omitempty"`
	// Kubernetes configures the k8s provider.
	Kubernetes KubernetesConfig `yaml:"kubernetes,omitempty"`
	// DNS configures the dns provider.
	DNS DNSConfig `yaml:"dns,omitempty"`
	// Etcd configures the etcd provider.
	Etcd EtcdConfig `yaml:"etcd,omitempty"`

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
	// can be set is 1ns. Default (all profiles): 2s.
	AcquireDelay time.Duration `yaml:"acquire_delay,omitempty"`
}

// MDNSConfig configures the mdns provider (YAML key "mdns").
type MDNSConfig struct {
	// Service is the DNS-SD service type announced and browsed, "_name._tcp"
	// or "_name._udp". Default: "_foundation._tcp".
	Service string `yaml:"service,omitempty"`
	// Domain is the mDNS domain. Default: "local.".
	Domain string `yaml:"domain,omitempty"`
	// Interfaces are the network interfaces (by name) to announce and
	// browse on. Default: none, meaning every multicast-capable interface.
	Interfaces []string `yaml:"interfaces,omitempty"`
	// AnnounceInterval is how often the member re-announces itself.
	// Default: 1s.
	AnnounceInterval time.Duration `yaml:"announce_interval,omitempty"`
	// ExpireAfter: a member not announced for this long is forgotten by
	// discovery. At least 2 × AnnounceInterval. Default: 3s.
	ExpireAfter time.Duration `yaml:"expire_after,omitempty"`
}

// ConsulConfig configures the consul provider (YAML key "consul").
type ConsulConfig struct {
	// Address is the Consul agent's HTTP API, host:port or a URL.
	// Default: "127.0.0.1:8500", the agent's own default; the environment
	// variable CONSUL_HTTP_ADDR is used when FOUNDATION_CONSUL_ADDRESS is
	// unset.
	Address string `yaml:"address,omitempty"`
	// Service is the name members register under. Default: empty, meaning
	// the cluster name (Config.Name).
	Service string `yaml:"service,omitempty"`
	// TTL is the time-to-live of each member's health check; the member
	// renews it well within that time. Default: 10s.
	TTL time.Duration `yaml:"ttl,omitempty"`
	// DeregisterAfter: Consul deregisters a member whose check has been
	// critical for this long. Default: 1m.
	DeregisterAfter time.Duration `yaml:"deregister_after,omitempty"`
}

// KubernetesConfig configures the k8s provider (YAML key "kubernetes").
type KubernetesConfig struct {
	// Namespace is where member pods run. Default: empty, meaning the pod's
	// own namespace (from its service account).
	Namespace string `yaml:"namespace,omitempty"`
	// LabelSelector selects the member pods, in kubectl syntax.
	// Default: empty, meaning "app.kubernetes.io/part-of=<name>".
	LabelSelector string `yaml:"label_selector,omitempty"`
	// PortName is the name of the container port members listen on (at most
	// 15 characters: lower-case letters, digits, '-'). Default: empty,
	// meaning each pod's IP with this member's Port.
	PortName string `yaml:"port_name,omitempty"`
}

// DNSConfig configures the dns provider (YAML key "dns").
type DNSConfig struct {
	// Name is resolved for SRV records, then A/AAAA records, e.g. a
	// Kubernetes headless service "foundation.default.svc.cluster.local".
	// Required by the dns provider. Default: empty.
	Name string `yaml:"name,omitempty"`
	// Port is dialled on addresses from A/AAAA records (SRV records carry
	// their own), 0..65535. Default: 0, meaning this member's Port.
	Port int `yaml:"port,omitempty"`
	// Interval is how often Name is resolved again. Default: 5s.
	Interval time.Duration `yaml:"interval,omitempty"`
	// Servers are the DNS servers asked, host:port, in order. Default:
	// none, meaning the nameservers of /etc/resolv.conf.
	Servers []string `yaml:"servers,omitempty"`
}

// EtcdConfig configures the etcd provider (YAML key "etcd").
type EtcdConfig struct {
	// Endpoints are the etcd client URLs. Required by the etcd provider.
	// Default: none; the environment variable ETCD_ENDPOINTS is used when
	// FOUNDATION_ETCD_ENDPOINTS is unset.
	Endpoints []string `yaml:"endpoints,omitempty"`
	// Prefix is the key prefix members register under (then the cluster
	// name). Default: "/foundation/".
	Prefix string `yaml:"prefix,omitempty"`
	// LeaseTTL is the TTL of each member's lease; at least 1s, as etcd
	// grants leases in whole seconds. Default: 10s.
	LeaseTTL time.Duration `yaml:"lease_ttl,omitempty"`
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
