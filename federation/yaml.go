package federation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/foundation-go/foundation/cluster"
)

// File is a federation's YAML file: every cluster, each with its own
// cluster configuration (its discovery), its gateways and its exported
// services, and the links' secrets. Every member of every cluster reads
// the same file; ParseYAML reads one and File.Config gives one member's
// Config.
//
//	topology: hub-spoke          # mesh (default), hub-spoke, hierarchical
//	hub: processing              # hub-spoke only
//	heartbeat_interval: 100ms    # default 100ms; down after 3 missed
//	clusters:
//	  web:
//	    cluster:                 # this tier's cluster.Config: its own discovery
//	      provider: k8s
//	      kubernetes: {label_selector: "tier=web"}
//	    gateways: ["web-gw-0.web:7360", "web-gw-1.web:7360"]
//	    exports: [web_servers, api_gateways]
//	  processing:
//	    cluster: {provider: k8s, kubernetes: {label_selector: "tier=processing"}}
//	    gateways: ["proc-gw-0:7360", "proc-gw-1:7360"]
//	    exports: [background_jobs, data_processors]
//	  ai:
//	    cluster: {provider: consul, consul: {service: ai-cluster}}
//	    gateways: ["ai-gw-0:7360", "ai-gw-1:7360"]
//	    exports: [ai_workers, model_cache]
//	    priority: 1              # the global call tries it after priority 0
//	links:
//	  - between: [web, processing]
//	    secret: "…"              # per-link secret, both ends the same
//	  - between: [ai, processing]
//	    secret: "…"
type File struct {
	// Topology is the kind: mesh, hub-spoke or hierarchical. Default mesh.
	Topology Kind `yaml:"topology"`
	// Hub is the hub of a hub-spoke federation.
	Hub string `yaml:"hub"`
	// HeartbeatInterval and DownAfter: see Config. Defaults 100ms and 3.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	DownAfter         int           `yaml:"down_after"`
	// Clusters by name.
	Clusters map[string]FileCluster `yaml:"clusters"`
	// Links are the per-link secrets.
	Links []FileLink `yaml:"links"`
}

// FileCluster is one cluster of a File.
type FileCluster struct {
	// Cluster is the cluster's own configuration (package cluster's file
	// format: provider, seeds, kubernetes, consul...). Its name defaults
	// to the cluster's.
	Cluster cluster.Config `yaml:"cluster"`
	// Parent is the cluster's parent (hierarchical; none for the root).
	Parent string `yaml:"parent"`
	// Gateways are its gateways' link addresses.
	Gateways []string `yaml:"gateways"`
	// Exports are the services it exports.
	Exports []string `yaml:"exports"`
	// Priority orders it for the global call (lower first). Default 0.
	Priority int `yaml:"priority"`
}

// FileLink is the secret of the link between two clusters.
type FileLink struct {
	Between []string `yaml:"between"`
	Secret  string   `yaml:"secret"`
}

// ParseYAML reads a File; unknown fields are errors (ErrInvalid naming
// the line), and so is a File that does not validate.
func ParseYAML(r io.Reader) (File, error) {
	var f File
	b, err := io.ReadAll(r)
	if err != nil {
		return f, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("%w: federation file: %v", ErrInvalid, err)
	}
	if err := f.Validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

// TopologyOf is the File's topology.
func (f File) TopologyOf() Topology {
	t := Topology{Kind: f.Topology, Hub: f.Hub}
	for name, c := range f.Clusters {
		t.Clusters = append(t.Clusters, name)
		if c.Parent != "" {
			if t.Parent == nil {
				t.Parent = map[string]string{}
			}
			t.Parent[name] = c.Parent
		}
	}
	slices.Sort(t.Clusters)
	return t
}

// Validate reports what is wrong with f: ErrInvalid naming the field.
func (f File) Validate() error {
	t := f.TopologyOf()
	if len(t.Clusters) == 0 {
		return fmt.Errorf("%w: clusters: none; a federation names its clusters", ErrInvalid)
	}
	if err := t.Validate(); err != nil {
		return err
	}
	seen := map[Link]bool{}
	for i, l := range f.Links {
		if len(l.Between) != 2 || !t.Adjacent(l.Between[0], l.Between[1]) {
			return fmt.Errorf("%w: links[%d].between %v: two clusters the %s topology links", ErrInvalid, i, l.Between, t.kind())
		}
		if l.Secret == "" {
			return fmt.Errorf("%w: links[%d].secret is empty; every link has a secret", ErrInvalid, i)
		}
		k := NewLink(l.Between[0], l.Between[1])
		if seen[k] {
			return fmt.Errorf("%w: links[%d]: %s-%s twice", ErrInvalid, i, k.A, k.B)
		}
		seen[k] = true
	}
	for _, a := range t.Clusters {
		for _, b := range t.Neighbours(a) {
			if a < b && !seen[NewLink(a, b)] {
				return fmt.Errorf("%w: links: no secret for %s-%s, which the %s topology links", ErrInvalid, a, b, t.kind())
			}
		}
	}
	return nil
}

// ClusterConfig is cluster name's own cluster configuration, its Name
// defaulting to name.
func (f File) ClusterConfig(name string) (cluster.Config, error) {
	c, ok := f.Clusters[name]
	if !ok {
		return cluster.Config{}, fmt.Errorf("%w: %q is not in clusters", ErrUnknownCluster, name)
	}
	cc := c.Cluster
	if cc.Name == "" {
		cc.Name = name
	}
	return cc, nil
}

// Config is the Config of a member of cluster name; gateway says whether
// it is one of the cluster's gateways (it then still needs Listen and
// TLS). The other fields keep their defaults.
func (f File) Config(name string, gateway bool) (Config, error) {
	if _, ok := f.Clusters[name]; !ok {
		return Config{}, fmt.Errorf("%w: %q is not in clusters", ErrUnknownCluster, name)
	}
	t := f.TopologyOf()
	cfg := Config{Cluster: name, Topology: t, Gateway: gateway, Exports: slices.Clone(f.Clusters[name].Exports),
		HeartbeatInterval: f.HeartbeatInterval, DownAfter: f.DownAfter, Remotes: map[string]Remote{}}
	for _, n := range t.Clusters {
		if n == name {
			continue
		}
		r := Remote{Gateways: slices.Clone(f.Clusters[n].Gateways), Priority: f.Clusters[n].Priority}
		for _, l := range f.Links {
			if NewLink(l.Between[0], l.Between[1]) == NewLink(name, n) {
				r.Secret = l.Secret
			}
		}
		cfg.Remotes[n] = r
	}
	return cfg, nil
}
