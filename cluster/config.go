package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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
	// Port is the TCP port the member listens on (and the UDP port of its
	// membership datagrams), 0..65535; 0 picks a free port.
	// Default: development 0, production and enterprise 7350. Because zero
	// means "default", a production member always gets a fixed port.
	Port int `yaml:"port,omitempty"`
	// AdvertiseAddress is the host:port other members dial to reach this
	// one, for when Host:Port is not reachable as such (0.0.0.0, NAT, a
	// container's port mapping). Default: empty, meaning derived from Host
	// and the bound port when the member starts.
	AdvertiseAddress string `yaml:"advertise_address,omitempty"`

	// HeartbeatInterval is how often the member probes each peer.
	// Default: development 100ms, production 500ms, enterprise 250ms.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval,omitempty"`
	// SuspectAfter: a peer that has not answered a heartbeat for this long
	// is marked unreachable. At least 2 × HeartbeatInterval, so that one lost
	// heartbeat never does it.
	// Default: development 300ms, production 2s, enterprise 1s.
	SuspectAfter time.Duration `yaml:"suspect_after,omitempty"`
	// RemoveAfter: a peer unreachable for this long (after SuspectAfter) is
	// removed from the cluster and its grains move elsewhere.
	// Default: development 200ms, production 5s, enterprise 3s.
	RemoveAfter time.Duration `yaml:"remove_after,omitempty"`
	// JoinTimeout bounds joining the cluster at start.
	// Default: development 2s, production 10s, enterprise 10s.
	JoinTimeout time.Duration `yaml:"join_timeout,omitempty"`
	// LeaveTimeout bounds announcing a graceful leave at stop.
	// Default (all profiles): 1s.
	LeaveTimeout time.Duration `yaml:"leave_timeout,omitempty"`

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

// productionBase is the one configuration every preset derives from: real
// hosts on a LAN. Development and Enterprise change only what differs, each
// change next to its reason.
func productionBase() Config {
	return Config{
		Name:     "foundation",
		Profile:  ProfileProduction,
		Provider: ProviderAuto,

		// Members run on different hosts: accept peers on every interface.
		Host: "0.0.0.0",
		// A fixed port, so that seed lists, firewall rules and container
		// port specs can name it.
		Port: 7350,

		// Two probes a second per peer: cheap even with hundreds of
		// members, and frequent enough that SuspectAfter sees four of them.
		HeartbeatInterval: 500 * time.Millisecond,
		// Four missed heartbeats: rides out a GC pause or a network hiccup
		// of about 1.5s without a false alarm.
		SuspectAfter: 2 * time.Second,
		// A process restart takes longer than a network blip: a member back
		// within 5s keeps its grains; after that they move (failover ≈ 7s).
		RemoveAfter: 5 * time.Second,
		// Reaching a seed across a real network: DNS, TCP and TLS
		// handshakes, the member list, with retries.
		JoinTimeout: 10 * time.Second,
		// A graceful leave announces itself and moves on: stopping must not
		// hang on peers that do not answer.
		LeaveTimeout: time.Second,

		MDNS: MDNSConfig{
			// The DNS-SD service type of Foundation members.
			Service: "_foundation._tcp",
			// The link-local mDNS domain (RFC 6762).
			Domain: "local.",
			// A new member is seen within a second on the local network.
			AnnounceInterval: time.Second,
			// Three announcements missed before discovery forgets a member;
			// the failure detector normally notices first.
			ExpireAfter: 3 * time.Second,
		},
		Consul: ConsulConfig{
			// The Consul agent's default HTTP address.
			Address: "127.0.0.1:8500",
			// Consul drives discovery only (failures are the heartbeats'
			// job): a 10s check keeps the agent's load low.
			TTL: 10 * time.Second,
			// Consul's minimum for DeregisterCriticalServiceAfter; a crashed
			// member's registration is gone a minute later.
			DeregisterAfter: time.Minute,
		},
		DNS: DNSConfig{
			// Records change when pods become ready; finding new members
			// within 5s is enough, and failures are the heartbeats' job.
			Interval: 5 * time.Second,
		},
		Etcd: EtcdConfig{
			// One namespace for every Foundation cluster in an etcd.
			Prefix: "/foundation/",
			// Outlives an etcd leader election (about 1s by default), so
			// members' keys survive one; keep-alives go every TTL/3.
			LeaseTTL: 10 * time.Second,
		},
		// Info is what an operator reads; debug is opt-in.
		LogLevel: "info",
	}
}

// Production returns the production preset: real hosts on a network, a
// fixed port, timings that tolerate GC pauses and network jitter (a crashed
// member is removed about 7s after its last heartbeat). Secret must be set.
func Production() Config { return productionBase() }

// Development returns the development preset: one machine, loopback only,
// a free port per member, timings fast enough that tests and local restarts
// see membership change within half a second. Secret may be empty.
func Development() Config {
	c := productionBase()
	c.Profile = ProfileDevelopment
	// Never expose a development member to the network.
	c.Host = "127.0.0.1"
	// Several members on one machine must not clash: pick a free port.
	c.Port = 0
	// Loopback has no latency: probe ten times a second.
	c.HeartbeatInterval = 100 * time.Millisecond
	// Three heartbeats (the minimum allowed is two).
	c.SuspectAfter = 300 * time.Millisecond
	// On one machine an unreachable member is dead, not partitioned:
	// remove it at once (failover ≈ 0.5s).
	c.RemoveAfter = 200 * time.Millisecond
	// Seeds are on the same machine: if joining takes longer than 2s,
	// something is wrong; say so quickly.
	c.JoinTimeout = 2 * time.Second
	return c
}

// Enterprise returns the enterprise preset: production with mutual TLS
// required (TLS must be set) and failure detection twice as fast, for a
// provisioned low-latency network with a tight failover budget (a crashed
// member is removed about 4s after its last heartbeat).
func Enterprise() Config {
	c := productionBase()
	c.Profile = ProfileEnterprise
	// Four probes a second per peer: affordable on a provisioned network.
	c.HeartbeatInterval = 250 * time.Millisecond
	// Four missed heartbeats, the same ratio as production.
	c.SuspectAfter = time.Second
	// Failover budget ≈ 4s instead of production's 7s.
	c.RemoveAfter = 3 * time.Second
	return c
}

// Preset returns the preset of profile p; "" means development. An unknown
// profile yields the development values with Profile left as p, so that
// Validate reports it.
func Preset(p Profile) Config {
	switch p {
	case ProfileProduction:
		return Production()
	case ProfileEnterprise:
		return Enterprise()
	case "", ProfileDevelopment:
		return Development()
	}
	c := Development()
	c.Profile = p
	return c
}

// WithDefaults returns a copy of c whose zero fields are filled from
// Preset(c.Profile) (development when Profile is empty). It does not modify
// c, and the copy shares no slice or map with c.
func (c Config) WithDefaults() Config {
	out := Preset(c.Profile)
	src := reflect.ValueOf(c)
	mergeConfigFields(reflect.ValueOf(&out).Elem(), src, src, func(v, _ reflect.Value) bool { return !v.IsZero() })
	return out
}

// clone returns a deep copy of c.
func (c Config) clone() Config {
	var out Config
	src := reflect.ValueOf(c)
	mergeConfigFields(reflect.ValueOf(&out).Elem(), src, src, func(reflect.Value, reflect.Value) bool { return true })
	return out
}

// mergeConfigFields walks dst, a and b — values of one struct type — in
// step, and sets every field of dst that is not itself a struct to a copy of
// a's field when take(a's field, b's field) is true. Config's nested structs
// hold only exported fields, which is what makes this walk valid.
func mergeConfigFields(dst, a, b reflect.Value, take func(a, b reflect.Value) bool) {
	for i := range dst.NumField() {
		d, x, y := dst.Field(i), a.Field(i), b.Field(i)
		if d.Kind() == reflect.Struct {
			mergeConfigFields(d, x, y, take)
			continue
		}
		if take(x, y) {
			d.Set(cloneConfigValue(x))
		}
	}
}

// cloneConfigValue copies slices and maps so that no two Configs share them.
func cloneConfigValue(v reflect.Value) reflect.Value {
	switch {
	case v.Kind() == reflect.Slice && !v.IsNil():
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(out, v)
		return out
	case v.Kind() == reflect.Map && !v.IsNil():
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), it.Value())
		}
		return out
	}
	return v
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

// minSecretLen is the shortest secret accepted: 128 bits.
const minSecretLen = 16

// configProblems collects Validate's findings.
type configProblems []error

func (p *configProblems) addf(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, key, fmt.Sprintf(format, args...)))
}

func (p *configProblems) positive(key string, d time.Duration) {
	if d <= 0 {
		p.addf(key, "%v must be > 0", d)
	}
}

func (p *configProblems) atLeastTwice(key string, d time.Duration, ofKey string, of time.Duration) {
	if d > 0 && of > 0 && d/2 < of { // d < 2*of, without overflow
		p.addf(key, "%v must be >= 2 * %s (%v), so that one lost message is not taken for a failure", d, ofKey, 2*of)
	}
}

func (p *configProblems) port(key string, port int, zero string) {
	if port < 0 || port > 65535 {
		p.addf(key, "%d must be 0..65535 (0: %s)", port, zero)
	}
}

func (p *configProblems) hostPort(key, s string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		p.addf(key, "%q is not host:port (e.g. 10.0.0.5:7350 or [::1]:7350)", s)
		return
	}
	if host == "" {
		p.addf(key, "%q has no host; want host:port", s)
	} else if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		p.addf(key, "%q: %s cannot be dialled; want the address of a member", s, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.addf(key, "%q: port must be 1..65535", s)
	}
}

func (p *configProblems) file(key, path string) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.addf(key, "%q does not exist", path)
	case err != nil:
		p.addf(key, "%q cannot be read: %v", path, err)
	case info.IsDir():
		p.addf(key, "%q is a directory; want a PEM file", path)
	}
}

// Validate reports every problem with c as it is, joined with errors.Join;
// each wraps ErrInvalidConfig and names the YAML key and what is allowed:
//
//	cluster: invalid config: suspect_after: 150ms must be >= 2 * heartbeat_interval (200ms), ...
//
// Empty Profile, Provider and LogLevel stand for their defaults
// (development, auto, info) and pass; other zero values that cannot work (an
// empty Name, a zero duration) fail, so validate c.WithDefaults() unless
// every field is set — LoadConfig does. Validate reads the file system to
// check that TLS files exist; it does not modify c.
func (c Config) Validate() error {
	var p configProblems
	profile := c.Profile
	if profile == "" {
		profile = ProfileDevelopment
	}

	switch {
	case c.Name == "":
		p.addf("name", "empty; want a cluster name of lower-case letters, digits, '-', '_' or '.'")
	case !isConfigName(c.Name):
		p.addf("name", "%q may contain only lower-case letters, digits, '-', '_' and '.'", c.Name)
	}
	switch profile {
	case ProfileDevelopment, ProfileProduction, ProfileEnterprise:
	default:
		p.addf("profile", "%q must be development, production or enterprise", c.Profile)
	}
	switch c.Provider {
	case "", ProviderAuto, ProviderStatic, ProviderMDNS, ProviderConsul, ProviderKubernetes, providerKubernetesLong, ProviderDNS, ProviderEtcd:
	default:
		p.addf("provider", "%q must be auto, static, mdns, consul, k8s (or kubernetes), dns or etcd", c.Provider)
	}
	// The secret's value never appears in a message.
	switch {
	case c.Secret == "" && (profile == ProfileProduction || profile == ProfileEnterprise):
		p.addf("secret", "required in the %s profile: set at least %d bytes shared by every member", profile, minSecretLen)
	case c.Secret != "" && len(c.Secret) < minSecretLen:
		p.addf("secret", "%d bytes is too short; must be at least %d bytes", len(c.Secret), minSecretLen)
	}

	switch {
	case c.Host == "":
		p.addf("host", "empty; want an IP address or host name to listen on, e.g. 127.0.0.1 or 0.0.0.0")
	case net.ParseIP(c.Host) == nil && !isHostName(c.Host):
		p.addf("host", "%q must be an IP address or a host name, without a port", c.Host)
	}
	p.port("port", c.Port, "pick a free port")
	if c.AdvertiseAddress != "" {
		p.hostPort("advertise_address", c.AdvertiseAddress)
	}

	p.positive("heartbeat_interval", c.HeartbeatInterval)
	p.positive("suspect_after", c.SuspectAfter)
	p.atLeastTwice("suspect_after", c.SuspectAfter, "heartbeat_interval", c.HeartbeatInterval)
	p.positive("remove_after", c.RemoveAfter)
	p.positive("join_timeout", c.JoinTimeout)
	p.positive("leave_timeout", c.LeaveTimeout)

	for i, s := range c.Seeds {
		p.hostPort(fmt.Sprintf("seeds[%d]", i), s)
	}
	if c.Provider == ProviderStatic && len(c.Seeds) == 0 {
		p.addf("seeds", "empty; provider static needs at least one host:port")
	}

	c.validateProviders(&p)

	tls := map[string]string{"cert_file": c.TLS.CertFile, "key_file": c.TLS.KeyFile, "ca_file": c.TLS.CAFile}
	var set, unset []string
	for _, k := range []string{"cert_file", "key_file", "ca_file"} {
		if tls[k] != "" {
			set = append(set, k)
			p.file("tls."+k, tls[k])
		} else {
			unset = append(unset, k)
		}
	}
	switch {
	case len(set) == 0 && profile == ProfileEnterprise:
		p.addf("tls", "required in the enterprise profile: set cert_file, key_file and ca_file (mutual TLS)")
	case len(set) > 0 && len(unset) > 0:
		p.addf("tls", "%s set but %s not; set cert_file, key_file and ca_file together, or none", strings.Join(set, ", "), strings.Join(unset, ", "))
	}

	for i, k := range c.Kinds {
		switch {
		case k == "":
			p.addf(fmt.Sprintf("kinds[%d]", i), "empty; a grain kind needs a name")
		case slices.Index(c.Kinds, k) < i:
			p.addf(fmt.Sprintf("kinds[%d]", i), "%q is listed twice", k)
		}
	}
	if _, ok := c.Labels[""]; ok {
		p.addf("labels", "a label has an empty key; every label needs a name")
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		p.addf("log_level", "%q must be debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(p...)
}

// validateProviders checks the provider sections. Every section is checked
// whatever the provider (auto may pick any of them); the fields a provider
// cannot do without are required only when it is chosen explicitly.
func (c Config) validateProviders(p *configProblems) {
	m := c.MDNS
	if !isServiceType(m.Service) {
		p.addf("mdns.service", "%q must be a DNS-SD service type like _foundation._tcp or _name._udp", m.Service)
	}
	if m.Domain == "" {
		p.addf("mdns.domain", "empty; want an mDNS domain such as local.")
	}
	for i, name := range m.Interfaces {
		if name == "" {
			p.addf(fmt.Sprintf("mdns.interfaces[%d]", i), "empty; want an interface name such as eth0")
		}
	}
	p.positive("mdns.announce_interval", m.AnnounceInterval)
	p.positive("mdns.expire_after", m.ExpireAfter)
	p.atLeastTwice("mdns.expire_after", m.ExpireAfter, "mdns.announce_interval", m.AnnounceInterval)

	if c.Provider == ProviderConsul && c.Consul.Address == "" {
		p.addf("consul.address", "empty; provider consul needs the agent's HTTP address, e.g. 127.0.0.1:8500")
	}
	p.positive("consul.ttl", c.Consul.TTL)
	p.positive("consul.deregister_after", c.Consul.DeregisterAfter)

	if n := c.Kubernetes.PortName; n != "" && !isPortName(n) {
		p.addf("kubernetes.port_name", "%q must be at most 15 lower-case letters, digits and '-', with a letter", n)
	}

	if c.Provider == ProviderDNS && c.DNS.Name == "" {
		p.addf("dns.name", "empty; provider dns needs a name to resolve, e.g. foundation.default.svc.cluster.local")
	}
	p.port("dns.port", c.DNS.Port, "this member's port")
	p.positive("dns.interval", c.DNS.Interval)

	if c.Provider == ProviderEtcd && len(c.Etcd.Endpoints) == 0 {
		p.addf("etcd.endpoints", "empty; provider etcd needs at least one endpoint, e.g. http://127.0.0.1:2379")
	}
	for i, e := range c.Etcd.Endpoints {
		if e == "" {
			p.addf(fmt.Sprintf("etcd.endpoints[%d]", i), "empty; want an etcd client URL such as http://127.0.0.1:2379")
		}
	}
	if c.Etcd.LeaseTTL < time.Second {
		p.addf("etcd.lease_ttl", "%v must be >= 1s (etcd grants leases in whole seconds)", c.Etcd.LeaseTTL)
	}
}

// isConfigName reports whether s is a valid cluster name.
func isConfigName(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' && r != '.' {
			return false
		}
	}
	return s != ""
}

// isHostName reports whether s is plausible as a DNS host name.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

// isServiceType reports whether s looks like "_name._tcp" or "_name._udp".
func isServiceType(s string) bool {
	name, ok := strings.CutSuffix(s, "._tcp")
	if !ok {
		name, ok = strings.CutSuffix(s, "._udp")
	}
	name, under := strings.CutPrefix(name, "_")
	return ok && under && name != "" && !strings.ContainsAny(name, ". ")
}

// isPortName reports whether s is a valid Kubernetes port name
// (IANA_SVC_NAME).
func isPortName(s string) bool {
	if len(s) > 15 || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") || strings.Contains(s, "--") {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			letter = true
		case r >= '0' && r <= '9', r == '-':
		default:
			return false
		}
	}
	return letter
}

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
	// Format is how the value is read: "string"; "int"; "duration" (Go
	// syntax: "500ms", "2s", "1m30s"); "list" (comma-separated: "a,b");
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
		envDuration("FOUNDATION_HEARTBEAT_INTERVAL", "heartbeat_interval", func(c *Config) *time.Duration { return &c.HeartbeatInterval }),
		envDuration("FOUNDATION_SUSPECT_AFTER", "suspect_after", func(c *Config) *time.Duration { return &c.SuspectAfter }),
		envDuration("FOUNDATION_REMOVE_AFTER", "remove_after", func(c *Config) *time.Duration { return &c.RemoveAfter }),
		envDuration("FOUNDATION_JOIN_TIMEOUT", "join_timeout", func(c *Config) *time.Duration { return &c.JoinTimeout }),
		envDuration("FOUNDATION_LEAVE_TIMEOUT", "leave_timeout", func(c *Config) *time.Duration { return &c.LeaveTimeout }),
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
	}
}

// lookupConfigEnv returns the trimmed value of name; an empty value counts
// as unset.
func lookupConfigEnv(lookupEnv func(string) (string, bool), name string) (string, bool) {
	v, ok := lookupEnv(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// configSource holds LoadConfig's inputs, so that they can be applied again
// to another preset.
type configSource struct {
	path        string
	file        []byte // nil when there is no file
	fileProfile Profile
	lookupEnv   func(string) (string, bool)
}

// LoadConfig builds a member's configuration from, in increasing order of
// precedence: the preset of the profile, the YAML file at path, FOUNDATION_*
// environment variables, and override (options set in code). It fills what
// is still zero with WithDefaults and returns the result of Validate.
//
//   - The profile, which chooses the preset, is read first: from
//     FOUNDATION_PROFILE, else the file's "profile" key, else development.
//   - path "" means no file. Unknown keys in the file are an error naming
//     them. Lists and maps from a file or a variable replace the preset's;
//     they are not merged.
//   - lookupEnv reads the environment: pass os.LookupEnv, or a fake in tests;
//     nil means an empty environment. EnvVars lists the variables. Values are
//     trimmed of surrounding white space and an empty value counts as unset.
//     A malformed value is an error naming the variable.
//   - override, if not nil, is called once with the configuration so far.
//
// The override sees Profile empty when neither the file nor the environment
// chose one. If it changes the profile, the new profile's preset is taken
// instead and the file, the environment and the fields the override changed
// are applied to it again. That is how an override adopts Detect's profile
// without overruling an explicit one:
//
//	d := cluster.Detect(os.LookupEnv)
//	c, err := cluster.LoadConfig(path, os.LookupEnv, func(c *cluster.Config) {
//		if c.Profile == "" {
//			c.Profile = d.Profile
//		}
//	})
//
// The errors wrap ErrInvalidConfig (every problem found, joined), or
// ErrConfigFile when the file cannot be read. On error the Config is zero.
func LoadConfig(path string, lookupEnv func(string) (string, bool), override func(*Config)) (Config, error) {
	return LoadConfigFor("", path, lookupEnv, override)
}

// LoadConfigFor is LoadConfig with a fallback profile, used when neither the
// file nor FOUNDATION_PROFILE names one: typically Detect's profile. Because
// the fallback chooses the preset before anything is layered on it, options
// in code keep their precedence over every other source.
func LoadConfigFor(fallback Profile, path string, lookupEnv func(string) (string, bool), override func(*Config)) (Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	src := configSource{path: path, lookupEnv: lookupEnv}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %w", ErrConfigFile, err)
		}
		src.file = data
		// A first pass onto an empty Config finds syntax errors and unknown
		// keys, and the profile the file asks for.
		var fromFile Config
		if err := src.decodeFile(&fromFile); err != nil {
			return Config{}, err
		}
		src.fileProfile = fromFile.Profile
	}
	profile := fallback
	if src.fileProfile != "" {
		profile = src.fileProfile
	}
	if v, ok := lookupConfigEnv(lookupEnv, envProfile); ok {
		profile = Profile(v)
	}

	c, envErr := src.build(profile)
	if override != nil {
		before := c.clone()
		override(&c)
		if c.Profile != before.Profile && Preset(c.Profile).Profile != Preset(before.Profile).Profile {
			c = src.rebase(before, c)
		}
	}
	c = c.WithDefaults()
	if err := errors.Join(envErr, c.Validate()); err != nil {
		return Config{}, err
	}
	return c, nil
}

// build applies the file and the environment to the preset of profile,
// leaving Profile as profile ("" when nobody chose one).
func (s configSource) build(profile Profile) (Config, error) {
	c := Preset(profile)
	c.Profile = profile
	if s.file != nil {
		if err := s.decodeFile(&c); err != nil {
			return Config{}, err // not reached: the first pass decoded the same bytes
		}
	}
	var errs []error
	for _, b := range envBindings() {
		name := b.Name
		v, ok := lookupConfigEnv(s.lookupEnv, name)
		if !ok && b.Fallback != "" {
			name = b.Fallback
			v, ok = lookupConfigEnv(s.lookupEnv, name)
		}
		if !ok {
			continue
		}
		if err := b.set(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, name, err))
		}
	}
	return c, errors.Join(errs...)
}

// rebase rebuilds the configuration on the preset of after.Profile: file and
// environment again, then every field override changed from before to after.
func (s configSource) rebase(before, after Config) Config {
	c, _ := s.build(after.Profile) // the environment's errors were reported by the first build
	mergeConfigFields(reflect.ValueOf(&c).Elem(), reflect.ValueOf(after), reflect.ValueOf(before),
		func(a, b reflect.Value) bool { return !reflect.DeepEqual(a.Interface(), b.Interface()) })
	return c
}

// decodeFile decodes the file onto c, refusing unknown keys.
func (s configSource) decodeFile(c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(s.file))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if errors.Is(err, io.EOF) {
		return nil // an empty file, or only comments
	}
	if err != nil {
		return s.fileError(err)
	}
	// Only empty documents may follow (a trailing "---" is common).
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return s.fileError(err)
		case len(next.Content) > 0 && next.Content[0].ShortTag() != "!!null":
			return fmt.Errorf("%w: %s: more than one YAML document; want one", ErrInvalidConfig, s.path)
		}
	}
}

// fileError turns a YAML decoding error into errors naming the file, the
// line and, for unknown keys, the key.
func (s configSource) fileError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, s.path, err)
	}
	sections := map[string]string{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if f := t.Field(i); f.Type.Kind() == reflect.Struct {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			sections[f.Type.String()] = name + "."
		}
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		var line int
		var key, typ string
		if n, _ := fmt.Sscanf(msg, "line %d: field %s not found in type %s", &line, &key, &typ); n == 3 {
			msg = fmt.Sprintf("line %d: unknown key %q", line, sections[typ]+key)
		}
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, s.path, msg))
	}
	return errors.Join(errs...)
}
