package migrate

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/consul"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/k8s"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/errs"
)

// ErrCannotTranslate: a proto.actor setting has no Foundation counterpart
// (an identity lookup or provider Translate does not know, a cluster name
// Foundation does not accept). The message names the setting.
var ErrCannotTranslate = errors.New("migrate: cannot translate the proto.actor configuration")

// Translation is a proto.actor cluster configuration in Foundation's terms.
type Translation struct {
	// Config carries what the proto.actor configuration sets: the cluster
	// name, host, port and advertised address, the discovery provider and
	// its section, the kinds. Zero fields take the profile's defaults
	// (Config.WithDefaults), so start the member with it through
	// foundation.WithConfig.
	Config cluster.Config
	// Kinds are the proto.actor kinds as grain kinds (GrainKind), for
	// foundation.WithGrains.
	Kinds []grain.Kind
	// Notes say what was not carried over and why, one line each.
	Notes []string
}

// Translate maps a proto.actor cluster.Config (cluster.Configure(...)) to
// Foundation:
//
//   - Name: the cluster name (lower-cased; Foundation's names are
//     lower-case letters, digits, '-', '_' and '.').
//   - RemoteConfig: host, port and advertised host.
//   - ClusterProvider: automanaged becomes static, its hosts the seeds and
//     its auto-manage port this member's cluster port (the port gossip and
//     grains use, the role the auto-manage port had); consul becomes consul
//     at the same agent address; k8s becomes k8s in the same namespace,
//     selecting the pods proto.actor labelled with the cluster's name; etcd
//     becomes etcd with the same endpoints and key prefix.
//   - IdentityLookup: disthash places by hash, as Foundation's Partitioned
//     placement does (without disthash's double activations).
//   - Kinds: each through GrainKind, RequestTimeoutTime its request
//     timeout.
//
// proto.actor's gossip and heartbeat timings are not carried over:
// Foundation's failure detector has its own (the profile's; see Notes).
func Translate(pc *pacluster.Config) (Translation, error) {
	var t Translation
	if pc == nil {
		return t, fmt.Errorf("%w: nil config", ErrCannotTranslate)
	}
	c := &t.Config
	c.Name = strings.ToLower(pc.Name)
	if c.Name != pc.Name {
		t.Notes = append(t.Notes, fmt.Sprintf("name: %q lower-cased to %q", pc.Name, c.Name))
	}
	if rc := pc.RemoteConfig; rc != nil {
		c.Host, c.Port = rc.Host, rc.Port
		if rc.AdvertisedHost != "" {
			c.AdvertiseAddress = rc.AdvertisedHost
			if _, _, err := net.SplitHostPort(rc.AdvertisedHost); err != nil {
				c.AdvertiseAddress = net.JoinHostPort(rc.AdvertisedHost, strconv.Itoa(rc.Port))
			}
		}
	}
	if err := translateProvider(pc, &t); err != nil {
		return Translation{}, err
	}
	switch pc.IdentityLookup.(type) {
	case nil, *disthash.IdentityLookup:
	default:
		return Translation{}, fmt.Errorf("%w: IdentityLookup %T: only disthash (Foundation's Partitioned placement) is known", ErrCannotTranslate, pc.IdentityLookup)
	}
	names := make([]string, 0, len(pc.Kinds))
	for name := range pc.Kinds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k, err := GrainKind(pc.Kinds[name], KindOptions{RequestTimeout: pc.RequestTimeoutTime})
		if err != nil {
			return Translation{}, fmt.Errorf("%w: Kinds[%q]: %w", ErrCannotTranslate, name, err)
		}
		t.Kinds = append(t.Kinds, k)
		c.Kinds = append(c.Kinds, name)
	}
	if pc.HeartbeatExpiration > 0 || pc.GossipInterval > 0 {
		t.Notes = append(t.Notes, fmt.Sprintf("gossip_interval %v and heartbeat_expiration %v: not carried over; Foundation's SWIM failure detector uses the profile's probe_interval, probe_timeout and suspicion_multiplier", pc.GossipInterval, pc.HeartbeatExpiration))
	}
	if c.Name != "" {
		if err := (cluster.Config{Name: c.Name}).WithDefaults().Validate(); err != nil {
			var ce *cluster.ConfigError
			for _, e := range errs.Flatten(err) {
				if errors.As(e, &ce) && ce.Key == "name" {
					return Translation{}, fmt.Errorf("%w: Name %q: %s", ErrCannotTranslate, pc.Name, ce.Problem)
				}
			}
		}
	}
	return t, nil
}

// Apply sets on c every field the translation carries (those Translate
// sets), leaving the others as they are: the way to use it is
// foundation.WithConfig(t.Apply).
func (t Translation) Apply(c *cluster.Config) {
	tc := t.Config
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Name, tc.Name)
	set(&c.Host, tc.Host)
	set(&c.AdvertiseAddress, tc.AdvertiseAddress)
	set(&c.Provider, tc.Provider)
	set(&c.Consul.Address, tc.Consul.Address)
	set(&c.Consul.Service, tc.Consul.Service)
	set(&c.Kubernetes.Namespace, tc.Kubernetes.Namespace)
	set(&c.Kubernetes.LabelSelector, tc.Kubernetes.LabelSelector)
	set(&c.Etcd.Prefix, tc.Etcd.Prefix)
	if tc.Port != 0 {
		c.Port = tc.Port
	}
	if tc.ClusterPort != 0 {
		c.ClusterPort = tc.ClusterPort
	}
	if len(tc.Seeds) > 0 {
		c.Seeds = append([]string(nil), tc.Seeds...)
	}
	if len(tc.Etcd.Endpoints) > 0 {
		c.Etcd.Endpoints = append([]string(nil), tc.Etcd.Endpoints...)
	}
	for _, k := range tc.Kinds {
		if !slices.Contains(c.Kinds, k) {
			c.Kinds = append(c.Kinds, k)
		}
	}
}

func translateProvider(pc *pacluster.Config, t *Translation) error {
	c := &t.Config
	switch p := pc.ClusterProvider.(type) {
	case nil:
		t.Notes = append(t.Notes, "no cluster provider: the profile's (mdns in development, auto elsewhere)")
	case *automanaged.AutoManagedProvider:
		c.Provider = cluster.ProviderStatic
		v := reflect.ValueOf(p).Elem()
		hosts := v.FieldByName("hosts")
		for i := 0; i < hosts.Len(); i++ {
			c.Seeds = append(c.Seeds, hosts.Index(i).String())
		}
		c.ClusterPort = int(v.FieldByName("autoManagePort").Int())
		t.Notes = append(t.Notes, fmt.Sprintf("automanaged: static seeds %v; this member's cluster port is its auto-manage port %d", c.Seeds, c.ClusterPort))
	case *consul.Provider:
		c.Provider = cluster.ProviderConsul
		if cc := reflect.ValueOf(p).Elem().FieldByName("consulConfig"); !cc.IsNil() {
			c.Consul.Address = cc.Elem().FieldByName("Address").String()
		}
		c.Consul.Service = pc.Name
	case *k8s.Provider:
		c.Provider = cluster.ProviderKubernetes
		c.Kubernetes.Namespace = reflect.ValueOf(p).Elem().FieldByName("namespace").String()
		c.Kubernetes.LabelSelector = "cluster.proto.actor/cluster=" + pc.Name
		t.Notes = append(t.Notes, "k8s: selects the pods labelled cluster.proto.actor/cluster="+pc.Name+" (proto.actor's label); label the Deployment's pod template with it, as proto.actor labelled pods at run time")
	case *etcd.Provider:
		c.Provider = cluster.ProviderEtcd
		v := reflect.ValueOf(p).Elem()
		c.Etcd.Prefix = v.FieldByName("baseKey").String()
		if !strings.HasSuffix(c.Etcd.Prefix, "/") {
			c.Etcd.Prefix += "/"
		}
		if cl := v.FieldByName("client"); !cl.IsNil() {
			eps := cl.Elem().FieldByName("cfg").FieldByName("Endpoints")
			for i := 0; i < eps.Len(); i++ {
				c.Etcd.Endpoints = append(c.Etcd.Endpoints, eps.Index(i).String())
			}
		}
	default:
		return fmt.Errorf("%w: ClusterProvider %T: want automanaged, consul, k8s or etcd (or set Foundation's provider yourself)", ErrCannotTranslate, pc.ClusterProvider)
	}
	return nil
}
