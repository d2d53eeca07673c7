package federation

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"time"

	"go.uber.org/zap"
)

// LabelGateway is the member label that makes a member a gateway of its
// cluster (value "true"): set it on the members whose Config.Gateway is
// true, before their Membership starts, so that the other members of the
// cluster find them.
const LabelGateway = "federation.gateway"

// Config configures the federation on one member. Zero values are the
// defaults; every member of every cluster has the same Topology, and every
// gateway of a cluster the same Exports and Remotes.
type Config struct {
	// Cluster is this member's cluster: one of Topology.Clusters.
	// Required.
	Cluster string `yaml:"cluster"`
	// Topology is the federation's shape. Required.
	Topology Topology `yaml:"topology"`
	// Gateway makes this member a gateway: it listens on Listen for links
	// from other clusters' gateways, dials theirs, and forwards the other
	// members' cross-cluster traffic. Run two or more per cluster.
	Gateway bool `yaml:"gateway"`
	// Listen is a gateway's link listener address. Required on gateways
	// (tests: "127.0.0.1:0").
	Listen string `yaml:"listen"`
	// TLS is a gateway's mutual-TLS configuration for links: it must hold
	// a certificate, ClientCAs with ClientAuth RequireAndVerifyClientCert,
	// and RootCAs (what foundation's cluster TLS files give). Required on
	// gateways.
	TLS *tls.Config `yaml:"-"`
	// Remotes are the other clusters this cluster links: their gateways'
	// addresses and the per-link secret. Each pair of linked clusters
	// shares one secret; a gateway refuses a link from a cluster not here.
	Remotes map[string]Remote `yaml:"remotes"`
	// Exports are the services this cluster serves to other clusters;
	// nothing is exported unless named here.
	Exports []string `yaml:"exports"`
	// HeartbeatInterval is how often a link and a member's stream to its
	// gateway are pinged. Default 100ms (the development profile; 1s is a
	// sensible WAN value).
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// DownAfter is how many heartbeats a link may miss before it is down
	// and routes are recomputed. Default 3.
	DownAfter int `yaml:"down_after"`
	// CallTimeout bounds a call whose ctx has no deadline. Default 5s.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// Logger: default none. Refused links are logged at Warn.
	Logger *zap.Logger `yaml:"-"`
	// Dial opens a gateway's TCP connections to other clusters' gateways.
	// Default net.Dialer (tests pass a fault-injecting dialer).
	Dial func(ctx context.Context, address string) (net.Conn, error) `yaml:"-"`
}

// Remote is another cluster as this cluster's gateways see it.
type Remote struct {
	// Gateways are its gateways' link addresses. The gateways of the
	// cluster whose name sorts first dial the other's, so only that side
	// needs them (listing them on both sides is harmless).
	Gateways []string `yaml:"gateways"`
	// Secret is the per-link secret shared with that cluster. Required on
	// gateways for every neighbour in the topology.
	Secret string `yaml:"secret"`
	// Priority orders clusters for the global Call: lower first; equal
	// priorities go by measured latency. Default 0.
	Priority int `yaml:"priority"`
}

func (c Config) withDefaults() Config {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 100 * time.Millisecond
	}
	if c.DownAfter == 0 {
		c.DownAfter = 3
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }
	}
	return c
}

// Validate reports the first thing wrong with c: ErrInvalid naming the
// field and what is allowed.
func (c Config) Validate() error {
	if err := c.Topology.Validate(); err != nil {
		return err
	}
	if !slices.Contains(c.Topology.Clusters, c.Cluster) {
		return fmt.Errorf("%w: Config.Cluster %q is not one of Topology.Clusters %v", ErrInvalid, c.Cluster, c.Topology.Clusters)
	}
	switch {
	case c.HeartbeatInterval < 0:
		return fmt.Errorf("%w: Config.HeartbeatInterval %v; >= 0 (0: 100ms)", ErrInvalid, c.HeartbeatInterval)
	case c.DownAfter < 0:
		return fmt.Errorf("%w: Config.DownAfter %d; >= 0 (0: 3)", ErrInvalid, c.DownAfter)
	case c.CallTimeout < 0:
		return fmt.Errorf("%w: Config.CallTimeout %v; >= 0 (0: 5s)", ErrInvalid, c.CallTimeout)
	}
	for name := range c.Remotes {
		if !slices.Contains(c.Topology.Clusters, name) || name == c.Cluster {
			return fmt.Errorf("%w: Config.Remotes[%q]: not another cluster of Topology.Clusters %v", ErrInvalid, name, c.Topology.Clusters)
		}
	}
	if !c.Gateway {
		return nil
	}
	switch {
	case c.Listen == "":
		return fmt.Errorf("%w: Config.Listen is empty; a gateway needs a link listener address (host:port)", ErrInvalid)
	case c.TLS == nil || len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil:
		return fmt.Errorf("%w: Config.TLS: a gateway needs a mutual-TLS configuration with a certificate", ErrInvalid)
	case c.TLS.ClientAuth != tls.RequireAndVerifyClientCert || c.TLS.ClientCAs == nil || c.TLS.RootCAs == nil:
		return fmt.Errorf("%w: Config.TLS: links are mutual TLS: set ClientCAs, RootCAs and ClientAuth = RequireAndVerifyClientCert", ErrInvalid)
	}
	for _, n := range c.Topology.Neighbours(c.Cluster) {
		r, ok := c.Remotes[n]
		if !ok || r.Secret == "" {
			return fmt.Errorf("%w: Config.Remotes[%q].Secret is empty; every linked cluster needs a per-link secret", ErrInvalid, n)
		}
		if c.Cluster < n && len(r.Gateways) == 0 {
			return fmt.Errorf("%w: Config.Remotes[%q].Gateways is empty; %q dials %q's gateways (its name sorts first)", ErrInvalid, n, c.Cluster, n)
		}
	}
	return nil
}
