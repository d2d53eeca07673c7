package federation

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseYAML(t *testing.T) {
	b, err := os.ReadFile("testdata/three-tiers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseYAML(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config("web", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Topology.Kind != HubSpoke || cfg.Topology.Hub != "processing" || cfg.Remotes["processing"].Secret != "web-processing-secret" ||
		cfg.Remotes["ai"].Priority != 1 || len(cfg.Exports) != 2 {
		t.Fatalf("config: %+v", cfg)
	}
	cc, err := f.ClusterConfig("ai")
	if err != nil || cc.Name != "ai" || cc.Provider != "consul" || cc.Consul.Service != "ai-cluster" {
		t.Fatalf("ai's cluster config: %+v, %v", cc, err)
	}
	if _, err := f.Config("mars", false); !errors.Is(err, ErrUnknownCluster) {
		t.Fatalf("unknown cluster: %v", err)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"clusters: {a: {}, b: {}}\n", "no secret for a-b"},
		{"topology: ring\nclusters: {a: {}}\n", "Topology.Kind"},
		{"clusters: {a: {}}\nbogus: 1\n", "bogus"},
		{"topology: hub-spoke\nhub: a\nclusters: {a: {}, b: {}, c: {}}\nlinks: [{between: [b, c], secret: x}]\n", "links[0].between"},
		{"clusters: {a: {}, b: {}}\nlinks: [{between: [a, b]}]\n", "links[0].secret"},
	} {
		_, err := ParseYAML(strings.NewReader(bad.yaml))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want ErrInvalid naming %q", bad.yaml, err, bad.want)
		}
	}
}

func FuzzParseYAML(f *testing.F) {
	b, _ := os.ReadFile("testdata/three-tiers.yaml")
	f.Add(string(b))
	f.Add("clusters: {a: {}}\n")
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseYAML(strings.NewReader(s))
		if err != nil {
			return
		}
		for name := range fl.Clusters {
			if _, err := fl.Config(name, false); err != nil {
				t.Fatal(err)
			}
		}
	})
}
