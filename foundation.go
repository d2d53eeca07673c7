package foundation

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/kubernetes"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/lease"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/provider"
	consulprov "github.com/foundation-go/foundation/provider/consul"
	dnsprov "github.com/foundation-go/foundation/provider/dns"
	etcdprov "github.com/foundation-go/foundation/provider/etcd"
	k8sprov "github.com/foundation-go/foundation/provider/k8s"
	"github.com/foundation-go/foundation/provider/mdns"
	"github.com/foundation-go/foundation/provider/static"
	"github.com/foundation-go/foundation/pubsub"
	"github.com/foundation-go/foundation/service"
	"github.com/foundation-go/foundation/telemetry"
	"github.com/foundation-go/foundation/work"
)

// Version is this Foundation's version, announced to peers.
const Version = "0.1.0"

// Errors returned by this package. Compare them with errors.Is.
var (
	// ErrProviderUnavailable: the configured discovery back-end could not
	// be reached after its retries (it also matches provider.ErrUnavailable;
	// the message names the address), or the provider is unknown.
	ErrProviderUnavailable = errors.New("foundation: provider unavailable")
	// ErrInvalidTarget: Send or Call got a target or message that can
	// never be delivered (the zero Target, a nil PID, an empty name, a
	// nil message, Call to a topic); the message says which.
	ErrInvalidTarget = errors.New("foundation: invalid target")
	// ErrUnknownTarget: the target does not exist now, as this member sees
	// it (a name nobody holds, a member not Up in the view, a service
	// without routable instances, a topic without subscribers, a grain kind
	// no member hosts); nothing was sent. The underlying error is wrapped
	// too (service.ErrUnknownService, pubsub.ErrNoSubscribers...).
	ErrUnknownTarget = errors.New("foundation: unknown target")
	// ErrNotEnabled: the target needs a part the node was started without
	// (grains without WithGrains).
	ErrNotEnabled = errors.New("foundation: not enabled on this node")
)

// Option configures Start. Options in code win over the environment, which
// wins over the configuration file, which wins over the profile's preset.
type Option interface{ apply(*startOptions) }

type optionFunc func(*startOptions)

func (f optionFunc) apply(o *startOptions) { f(o) }

type startOptions struct {
	file      string
	lookupEnv func(string) (string, bool)
	overrides []func(*cluster.Config)
	logger    *zap.Logger
	provider  provider.Provider
	actorOpts []actor.Option
	kinds     []grain.Kind
	grainCfg  func(*grain.Config)
	crdtCfg   func(*crdt.Config)
	psCfg     func(*pubsub.Config)
	svcCfg    func(*service.Config)
	k8s       kubernetes.Interface
	telCfg    []func(*telemetry.Config)
	protocol  int
	tasks     []work.AnyKind
	workCfg   func(*work.Config)
}

// WithProtocolVersion makes the member announce wire protocol version v
// instead of cluster.ProtocolVersion. Members admit peers at most one
// version apart; this exists to rehearse a rolling upgrade across a
// protocol change (examples/node -protocol-version), not for production.
func WithProtocolVersion(v int) Option {
	return optionFunc(func(o *startOptions) { o.protocol = v })
}

// WithTelemetry adjusts the telemetry's configuration after it was derived
// from the telemetry section of the cluster configuration: set a
// SpanExporter, a SampleEvery, a LookupEnv for the OTEL_* variables.
func WithTelemetry(f func(*telemetry.Config)) Option {
	return optionFunc(func(o *startOptions) { o.telCfg = append(o.telCfg, f) })
}

// WithKubernetesClient gives the k8s provider its API client. Default: the
// Config's Kubernetes.Client when set in code, else the in-cluster client
// (the pod's service account).
func WithKubernetesClient(c kubernetes.Interface) Option {
	return optionFunc(func(o *startOptions) { o.k8s = c })
}

// WithGrains declares grain kinds: the node starts a grain host (Node.Grains)
// that calls them, and hosts those with a New (their names are added to the
// member's kinds).
func WithGrains(kinds ...grain.Kind) Option {
	return optionFunc(func(o *startOptions) { o.kinds = append(o.kinds, kinds...) })
}

// WithTasks registers task kinds (package work) on the node's work host
// (Node.Work): this member runs their tasks for the runs of every member,
// each kind with a worker pool of Kind.Workers (or the work configuration's
// Workers, default GOMAXPROCS). Give the member labels (cluster.Config's
// Labels) to put it in a role that runs name their Role.
func WithTasks(kinds ...work.AnyKind) Option {
	return optionFunc(func(o *startOptions) { o.tasks = append(o.tasks, kinds...) })
}

// WithWorkConfig adjusts the work host's configuration (the default worker
// pool size) before the node starts it.
func WithWorkConfig(f func(*work.Config)) Option {
	return optionFunc(func(o *startOptions) { o.workCfg = f })
}

// WithGrainConfig adjusts the grain host's configuration (timeouts).
func WithGrainConfig(f func(*grain.Config)) Option {
	return optionFunc(func(o *startOptions) { o.grainCfg = f })
}

// WithReplicatorConfig adjusts the replicator's configuration (durable
// keys, expiring keys, timings) before the node starts it.
func WithReplicatorConfig(f func(*crdt.Config)) Option {
	return optionFunc(func(o *startOptions) { o.crdtCfg = f })
}

// WithPubSubConfig adjusts the pub/sub configuration before the node
// starts it.
func WithPubSubConfig(f func(*pubsub.Config)) Option {
	return optionFunc(func(o *startOptions) { o.psCfg = f })
}

// WithServiceConfig adjusts the service registry's configuration before
// the node starts it.
func WithServiceConfig(f func(*service.Config)) Option {
	return optionFunc(func(o *startOptions) { o.svcCfg = f })
}

// WithConfigFile reads configuration from a YAML file (see
// docs/reference/configuration-options.md). Default: none.
func WithConfigFile(path string) Option {
	return optionFunc(func(o *startOptions) { o.file = path })
}

// WithConfig changes the configuration in code, after the file and the
// environment were applied.
func WithConfig(f func(*cluster.Config)) Option {
	return optionFunc(func(o *startOptions) { o.overrides = append(o.overrides, f) })
}

// WithEnv replaces the environment lookup (os.LookupEnv), for tests.
func WithEnv(lookup func(string) (string, bool)) Option {
	return optionFunc(func(o *startOptions) { o.lookupEnv = lookup })
}

// WithLogger sets the logger. Default: zap's production logger at the
// configured level.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *startOptions) { o.logger = l })
}

// WithProvider uses p for discovery instead of the configured provider.
func WithProvider(p provider.Provider) Option {
	return optionFunc(func(o *startOptions) { o.provider = p })
}

// WithActorOptions passes options to the actor system.
func WithActorOptions(opts ...actor.Option) Option {
	return optionFunc(func(o *startOptions) { o.actorOpts = append(o.actorOpts, opts...) })
}

// Node is a running Foundation member.
type Node struct {
	// Config is the configuration the node runs with, as loaded:
	// Config.Resolved(Detection) adds the defaults derived from it (the
	// provider auto picked, consul's service, the split-brain lease...).
	Config cluster.Config
	// Detection is what the environment detection found.
	Detection cluster.Detection
	// System is the node's actor system.
	System *actor.System
	// Membership is the node's view of the cluster.
	Membership *cluster.Membership
	// Log is the node's logger.
	Log *zap.Logger
	// Grains is the node's grain host when kinds were declared (WithGrains),
	// else nil.
	Grains *grain.Host
	// Telemetry is the node's telemetry: metrics, traces, health, the
	// HTTP listener (Telemetry.Address), the cluster-wide trace query
	// (Telemetry.ClusterTrace). See docs/reference/telemetry.md.
	Telemetry *telemetry.Telemetry
	// Replicator keeps the node's replicas of the cluster's replicated
	// data (package crdt): the service registry, topic interest, and the
	// application's own keys.
	Replicator *crdt.Replicator
	// PubSub is the node's cluster-wide publish/subscribe.
	PubSub *pubsub.PubSub
	// Services is the node's view of the cluster's service registry.
	Services *service.Registry
	// Caches is the node's host of distributed caches (package cache):
	// NewCache opens one in the profile's tier.
	Caches *cache.Host
	// Work is the node's host of distributed task runs (package work): it
	// runs the kinds registered with WithTasks (or Work.Register) for the
	// runs of every member, and work.Run(ctx, node.Work, kind, tasks, ...)
	// runs tasks over the members of a role.
	Work *work.Host

	svcStore *service.ReplicatedStore
	clients  sync.Map // service name -> *service.Client, for Send and Call
	ownLog   bool
	closers  []func() // released after the node stopped (a lease's client)

	admin adminState // the administration endpoints' caches
}

func (n *Node) release() {
	for _, c := range n.closers {
		c()
	}
	n.closers = nil
}

// Start reads the configuration, starts the actor system with remoting,
// opens the cluster port, starts discovery and membership (and the grain
// host when kinds were declared), and returns the running node.
//
// ctx bounds the start only (binding ports, the provider's first contact);
// cancelling it later does not stop the node: Node.Stop does. Start does
// not wait for peers: see Node.WaitReady and Membership.Await.
func Start(ctx context.Context, opts ...Option) (*Node, error) {
	o := startOptions{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	det := cluster.Detect(o.lookupEnv)
	// The detected profile applies unless the file or the environment chose
	// one; options in code may still change it.
	cfg, err := cluster.LoadConfigFor(det.Profile, o.file, o.lookupEnv, func(c *cluster.Config) {
		for _, f := range o.overrides {
			f(c)
		}
	})
	if err != nil {
		return nil, err
	}
	n := &Node{Config: cfg, Detection: det, Log: o.logger}
	if n.Log == nil {
		if n.Log, err = newLogger(cfg.LogLevel); err != nil {
			return nil, err
		}
		n.ownLog = true
	}
	resolved := cfg.Resolved(det)
	fields := []zap.Field{zap.String("cluster", cfg.Name), zap.String("profile", string(cfg.Profile))}
	switch {
	case o.provider != nil:
		fields = append(fields, zap.String("provider", "set in code (WithProvider)"))
	case cfg.Provider != "" && cfg.Provider != cluster.ProviderAuto:
		fields = append(fields, zap.String("provider", resolved.Provider), zap.String("provider_from", "configuration"))
	default:
		fields = append(fields, zap.String("provider", resolved.Provider), zap.String("provider_from", "detection"), zap.Strings("detection", det.Reasons))
	}
	n.Log.Info("foundation starting", fields...)
	prov := o.provider
	if prov == nil {
		if prov, err = newProvider(resolved, o.k8s, n.Log); err != nil {
			return nil, err
		}
	}
	tcfg, err := telemetryConfig(cfg, o)
	if err != nil {
		return nil, err
	}
	if tcfg.Handlers == nil {
		tcfg.Handlers = map[string]http.Handler{}
	}
	for pattern, h := range n.adminHandlers(cfg.Secret) {
		tcfg.Handlers[pattern] = h
	}
	if n.Telemetry, err = telemetry.New(tcfg); err != nil {
		return nil, err
	}
	actorOpts := []actor.Option{
		actor.WithLogger(n.Log),
		actor.WithRemote(net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))),
		actor.WithObserver(n.Telemetry.ActorObserver()),
	}
	advertise := cfg.AdvertiseAddress
	if ip := net.ParseIP(cfg.Host); advertise == "" && ip != nil && ip.IsUnspecified() {
		if cfg.Port == 0 {
			return nil, fmt.Errorf("%w: host %s with port 0 needs advertise_address: peers cannot dial an unspecified address, and the port is not known before binding", cluster.ErrInvalidConfig, cfg.Host)
		}
		{
			// Listening on every interface: peers need a real address.
			host, err := primaryIP()
			if err != nil {
				return nil, fmt.Errorf("foundation: host %s listens on every interface and no advertise_address is set: %w", cfg.Host, err)
			}
			advertise = net.JoinHostPort(host, strconv.Itoa(cfg.Port))
			n.Log.Info("advertising the first IPv4 interface address; set advertise_address to choose", zap.String("advertise_address", advertise))
		}
	}
	if advertise != "" {
		actorOpts = append(actorOpts, actor.WithAdvertisedAddress(advertise))
	}
	var mtls *tls.Config
	if cfg.TLS.CertFile != "" {
		if mtls, err = mutualTLS(cfg.TLS); err != nil {
			return nil, err
		}
		actorOpts = append(actorOpts, remoteTLS(mtls)...)
	}
	n.System, err = actor.NewSystem(append(actorOpts, o.actorOpts...)...)
	if err != nil {
		return nil, err
	}
	if err := n.System.Start(ctx); err != nil {
		return nil, err
	}
	address := n.System.Address()
	mcfg, err := n.membershipConfig(cfg, address, advertise, mtls, o)
	if err != nil {
		n.stopSystem()
		return nil, err
	}
	n.Membership, err = cluster.NewMembership(mcfg, prov)
	if err != nil {
		n.stopSystem()
		return nil, err
	}
	if err := n.Membership.Start(ctx); err != nil {
		n.stopSystem()
		if errors.Is(err, provider.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
		}
		return nil, err
	}
	if err := n.startMessaging(ctx, o); err != nil {
		n.stopMessaging(context.Background())
		n.Membership.Abort()
		n.stopSystem()
		return nil, err
	}
	if len(o.kinds) > 0 {
		gcfg := grain.Config{Kinds: o.kinds, Logger: n.Log, Observer: n.Telemetry.GrainObserver()}
		if o.grainCfg != nil {
			o.grainCfg(&gcfg)
		}
		if n.Grains, err = grain.NewHost(n.System, n.Membership, gcfg); err == nil {
			err = n.Grains.Start(ctx)
		}
		if err != nil {
			n.stopMessaging(context.Background())
			n.Membership.Abort()
			n.stopSystem()
			return nil, err
		}
	}
	if err := n.Telemetry.Start(ctx, telemetry.Member{System: n.System, Membership: n.Membership, Grains: n.Grains}); err != nil {
		if n.Grains != nil {
			n.Grains.Abort()
		}
		n.stopMessaging(context.Background())
		n.Membership.Abort()
		n.stopSystem()
		return nil, err
	}
	self := n.Membership.Self()
	n.Log.Info("foundation started", zap.String("address", address), zap.String("cluster_address", self.ClusterAddress),
		zap.String("member", self.ID), zap.String("http", n.Telemetry.Address()))
	return n, nil
}

// telemetryConfig derives the telemetry's configuration from the
// telemetry section (an address with an empty host gets the member's
// host), then applies WithTelemetry's changes.
func telemetryConfig(cfg cluster.Config, o startOptions) (telemetry.Config, error) {
	tc := cfg.Telemetry
	out := telemetry.Config{
		Metrics:         tc.Metrics != cluster.TelemetryOff,
		SampleRatio:     tc.SampleRatio,
		RecorderSize:    tc.RecorderSize,
		ExpectedMembers: tc.ExpectedMembers,
		Cluster:         cfg.Name,
		Logger:          o.logger,
		LookupEnv:       o.lookupEnv,
	}
	if tc.Address != cluster.TelemetryOff {
		host, port, err := net.SplitHostPort(tc.Address)
		if err != nil {
			return out, fmt.Errorf("%w: telemetry.address: %q: %v", cluster.ErrInvalidConfig, tc.Address, err)
		}
		if host == "" {
			host = cfg.Host
		}
		out.Address = net.JoinHostPort(host, port)
	}
	var err error
	if out.Tracing, err = telemetry.ParseTracing(cmp.Or(tc.Tracing, cluster.TelemetryOff)); err != nil {
		return out, err
	}
	if out.Advisor, err = telemetry.ParseAdvisor(cmp.Or(tc.Advisor, cluster.TelemetryOff)); err != nil {
		return out, err
	}
	for _, f := range o.telCfg {
		f(&out)
	}
	return out, nil
}

// startMessaging starts the replicator, pub/sub and the service registry
// on the running membership.
func (n *Node) startMessaging(ctx context.Context, o startOptions) error {
	ccfg := crdt.Config{Logger: n.Log.Named("crdt")}
	if o.crdtCfg != nil {
		o.crdtCfg(&ccfg)
	}
	var err error
	if n.Replicator, err = crdt.NewReplicator(n.Membership, ccfg); err != nil {
		return err
	}
	if err = n.Replicator.Start(ctx); err != nil {
		n.Replicator = nil
		return err
	}
	interest, err := pubsub.NewInterest(n.Replicator)
	if err != nil {
		return err
	}
	pcfg := pubsub.Config{Logger: n.Log.Named("pubsub")}
	if o.psCfg != nil {
		o.psCfg(&pcfg)
	}
	if n.PubSub, err = pubsub.New(n.System, n.Membership, interest, pcfg); err != nil {
		return err
	}
	if err = n.PubSub.Start(ctx); err != nil {
		return err
	}
	if n.svcStore, err = service.NewStore(n.Replicator); err != nil {
		return err
	}
	scfg := service.Config{Logger: n.Log.Named("service")}
	if o.svcCfg != nil {
		o.svcCfg(&scfg)
	}
	if n.Services, err = service.New(n.System, n.Membership, n.svcStore, scfg); err != nil {
		return err
	}
	if err = n.Services.Start(ctx); err != nil {
		return err
	}
	if n.Caches, err = cache.NewHost(n.Membership, n.Replicator, n.Log.Named("cache")); err != nil {
		return err
	}
	if err = n.Caches.Start(ctx); err != nil {
		return err
	}
	wcfg := work.Config{Logger: n.Log.Named("work")}
	if o.workCfg != nil {
		o.workCfg(&wcfg)
	}
	if n.Work, err = work.NewHost(n.Membership, wcfg); err != nil {
		return err
	}
	if err = n.Work.Register(o.tasks...); err != nil {
		return err
	}
	return n.Work.Start(ctx)
}

// NewCache opens the cache name on n in the tier of n's profile
// (cache.Profile: development Local, production Multilevel, enterprise
// Multilevel with a backup copy), reporting lookups to n's telemetry;
// adjust, when given, changes that configuration first. Every member that
// opens name shares its keys; close it with Cache.Close (the node's Stop
// also hands its entries over).
func NewCache[K comparable, V any](n *Node, name string, codec cache.Codec[K, V], adjust ...func(*cache.Config)) (*cache.Cache[K, V], error) {
	cfg := cache.Profile(string(n.Config.Profile))
	cfg.Logger = n.Log.Named("cache")
	if n.Telemetry != nil {
		cfg.Observer = n.Telemetry
	}
	for _, f := range adjust {
		if f != nil {
			f(&cfg)
		}
	}
	return cache.New(n.Caches, name, codec, cfg)
}

// stopMessaging stops what startMessaging started, in reverse: this
// member's service instances are deregistered and its subscriptions end
// while the replicator still spreads the change.
func (n *Node) stopMessaging(ctx context.Context) error {
	var err error
	keep := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	if n.Work != nil {
		// First: this member's runs end (they may still write to caches)
		// and the tasks it runs for others are cancelled (their callers
		// run them elsewhere).
		keep(n.Work.Stop(ctx))
	}
	if n.Caches != nil {
		// The caches hand their entries over while the member is still in
		// the view and the replicator runs.
		keep(n.Caches.Stop(ctx))
	}
	if n.Services != nil {
		keep(n.Services.Stop(ctx))
	}
	if n.svcStore != nil {
		n.svcStore.Close()
	}
	if n.PubSub != nil {
		keep(n.PubSub.Stop(ctx))
	}
	if n.Replicator != nil {
		keep(n.Replicator.Stop(ctx))
	}
	return err
}

// membershipConfig derives the membership's configuration: the cluster
// port, what to advertise, SWIM's timings and the split-brain resolver.
func (n *Node) membershipConfig(cfg cluster.Config, address, advertise string, mtls *tls.Config, o startOptions) (cluster.MembershipConfig, error) {
	self := cluster.Member{Address: address, Kinds: slices.Clone(cfg.Kinds), Labels: maps.Clone(cfg.Labels), Version: Version, Protocol: o.protocol}
	for _, k := range o.kinds {
		if k.New != nil && !slices.Contains(self.Kinds, k.Name) {
			self.Kinds = append(self.Kinds, k.Name)
		}
	}
	bind := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.ClusterPort))
	adv := cfg.AdvertiseClusterAddress
	if adv == "" {
		// The host others dial: the remoting address's, with the cluster
		// port (0: the one bound).
		host, _, _ := net.SplitHostPort(address)
		if advertise != "" {
			host, _, _ = net.SplitHostPort(advertise)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return cluster.MembershipConfig{}, fmt.Errorf("%w: host %s listens on every interface: set advertise_cluster_address (or advertise_address)", cluster.ErrInvalidConfig, cfg.Host)
		}
		adv = net.JoinHostPort(host, strconv.Itoa(cfg.ClusterPort))
	}
	rc := cluster.ResolverConfig{
		Strategy:            cluster.Strategy(cfg.SplitBrain.Strategy),
		StableAfter:         cfg.SplitBrain.StableAfter,
		QuorumSize:          cfg.SplitBrain.QuorumSize,
		OldestSurvivesAlone: cfg.SplitBrain.OldestSurvivesAlone,
		AcquireDelay:        cfg.SplitBrain.Lease.AcquireDelay,
	}
	if rc.Strategy == cluster.LeaseMajority {
		l, err := n.newLease(cfg, cfg.Resolved(n.Detection).Provider, o.k8s)
		if err != nil {
			return cluster.MembershipConfig{}, err
		}
		rc.Lease = l
	}
	return cluster.MembershipConfig{
		Cluster:             cfg.Name,
		Secret:              []byte(cfg.Secret),
		Self:                self,
		Bind:                bind,
		Advertise:           adv,
		ProbeInterval:       cfg.ProbeInterval,
		ProbeTimeout:        cfg.ProbeTimeout,
		GossipInterval:      cfg.GossipInterval,
		SuspicionMultiplier: cfg.SuspicionMultiplier,
		SplitBrain:          rc,
		JoinTimeout:         cfg.JoinTimeout,
		TLS:                 mtls,
		Logger:              n.Log,
	}, nil
}

// newProvider builds the discovery back-end cfg.Provider names from its
// section of cfg, which Config.Resolved has completed (the secret, consul's
// service, the k8s selector), adding only what Start alone has: the logger
// and the Kubernetes client.
func newProvider(cfg cluster.Config, kc kubernetes.Interface, log *zap.Logger) (provider.Provider, error) {
	switch cfg.Provider {
	case cluster.ProviderStatic:
		return static.New(cfg.Seeds)
	case cluster.ProviderMDNS:
		c := cfg.MDNS
		c.Logger = cmp.Or(c.Logger, log)
		return mdns.New(c)
	case cluster.ProviderConsul:
		c := cfg.Consul
		c.Logger = cmp.Or(c.Logger, log)
		return consulprov.New(c)
	case cluster.ProviderEtcd:
		c := cfg.Etcd
		c.Logger = cmp.Or(c.Logger, log)
		return etcdprov.New(c)
	case cluster.ProviderKubernetes:
		c := cfg.Kubernetes
		c.Logger = cmp.Or(c.Logger, log)
		if kc != nil {
			c.Client = kc
		}
		if c.Client == nil {
			var err error
			if c.Client, err = k8sprov.InClusterClient(); err != nil {
				return nil, err
			}
		}
		return k8sprov.New(c)
	case cluster.ProviderDNS:
		c := cfg.DNS
		c.Logger = cmp.Or(c.Logger, log)
		return dnsprov.New(c)
	}
	return nil, fmt.Errorf("%w: %q is not built yet (available: static, mdns, consul, k8s, dns, etcd)", ErrProviderUnavailable, cfg.Provider)
}

// primaryIP returns the first IPv4 address of an interface that is up and
// not loopback.
func primaryIP() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String(), nil
			}
		}
	}
	return "", errors.New("no interface with an IPv4 address is up; set advertise_address")
}

func newLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("foundation: log_level %q: %w", level, err)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Encoding = "console"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return zc.Build()
}

// WaitReady waits until the node serves: it joined a cluster (one
// candidate that answers is enough; a member none of whose candidates
// answer forms a cluster alone after join_timeout, at once when it has the
// lowest address of them) and its side would survive a split. Without a
// ctx deadline it waits at most join_timeout plus a second. To wait for
// what a program needs — N members, a kind hosted somewhere — use
// Membership.Await with cluster.AtLeast or cluster.HostingKind.
func (n *Node) WaitReady(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok && n.Config.JoinTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.Config.JoinTimeout+time.Second)
		defer cancel()
	}
	if err := n.Membership.Await(ctx, func(cluster.View) bool { return n.Membership.Ready() }); err != nil {
		return fmt.Errorf("foundation: not ready (%s): %w", n.Membership.Status(), err)
	}
	return nil
}

// Stop leaves the cluster gracefully (peers see "left") and stops the node.
// Idempotent.
func (n *Node) Stop(ctx context.Context) error {
	lctx := ctx
	if n.Config.LeaveTimeout > 0 {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(ctx, n.Config.LeaveTimeout)
		defer cancel()
	}
	var err error
	if n.Grains != nil {
		// Grains first: their activations end (OnDeactivate) while the
		// member is still in the view, then peers place them elsewhere.
		err = n.Grains.Stop(lctx)
	}
	if merr := n.stopMessaging(lctx); err == nil {
		err = merr
	}
	if merr := n.Membership.Stop(lctx); err == nil {
		err = merr
	}
	// Telemetry after the leave (its probes see the member go not ready),
	// before the actor system: spans still batched are flushed.
	if terr := n.Telemetry.Stop(ctx); err == nil {
		err = terr
	}
	if serr := n.System.Stop(ctx); err == nil {
		err = serr
	}
	n.release()
	if n.ownLog {
		_ = n.Log.Sync()
	}
	return err
}

func (n *Node) stopSystem() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.System.Stop(ctx)
	n.release()
}

// newLease builds the lease of the lease-majority strategy on the
// configured back-end (default: the discovery provider's, etcd or k8s).
func (n *Node) newLease(cfg cluster.Config, provName string, kc kubernetes.Interface) (cluster.Lease, error) {
	lc := cfg.SplitBrain.Lease
	backend := lc.Backend
	if backend == "" {
		backend = provName
	}
	name := lc.Name
	if name == "" {
		name = cfg.Name + "-split-brain"
	}
	switch backend {
	case cluster.ProviderEtcd:
		cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Etcd.Endpoints, DialTimeout: 5 * time.Second, Logger: n.Log.Named("etcd")})
		if err != nil {
			return nil, fmt.Errorf("%w: split_brain.lease: etcd %v: %w", ErrProviderUnavailable, cfg.Etcd.Endpoints, err)
		}
		n.closers = append(n.closers, func() { _ = cli.Close() })
		return lease.NewEtcd(cli, cfg.Etcd.Prefix+cfg.Name+"/"+name, lc.TTL)
	case cluster.ProviderKubernetes, "kubernetes":
		if kc == nil {
			var err error
			if kc, err = k8sprov.InClusterClient(); err != nil {
				return nil, err
			}
		}
		ns := cfg.Kubernetes.Namespace
		if ns == "" {
			var err error
			if ns, err = k8sprov.PodNamespace(); err != nil {
				return nil, err
			}
		}
		return lease.NewKubernetes(kc, ns, name, lc.TTL)
	}
	return nil, fmt.Errorf("%w: split_brain.lease.backend: %q: lease-majority needs etcd or kubernetes", cluster.ErrInvalidConfig, backend)
}
