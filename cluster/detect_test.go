package cluster_test

import (
	"reflect"
	"testing"

	"github.com/foundation-go/foundation/cluster"
)

func TestDetectEnvironmentMatrix(t *testing.T) {
	const (
		k8s    = "KUBERNETES_SERVICE_HOST is set: running in Kubernetes"
		consul = "CONSUL_HTTP_ADDR is set: a Consul agent is available"
		dns    = "FOUNDATION_DNS_NAME is set: members are found by DNS"
		etcd   = "ETCD_ENDPOINTS is set: members are found through etcd"
		fetcd  = "FOUNDATION_ETCD_ENDPOINTS is set: members are found through etcd"
		seeds  = "FOUNDATION_SEEDS is set: a static seed list"
		none   = "nothing detected: development profile, zero-config mDNS"
	)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want cluster.Detection
	}{
		{"nothing", nil,
			cluster.Detection{Profile: "development", Provider: "mdns", Reasons: []string{none}}},
		{"kubernetes", map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1"},
			cluster.Detection{Profile: "production", Provider: "k8s", Reasons: []string{k8s}}},
		{"consul", map[string]string{"CONSUL_HTTP_ADDR": "127.0.0.1:8500"},
			cluster.Detection{Profile: "production", Provider: "consul", Reasons: []string{consul}}},
		{"dns", map[string]string{"FOUNDATION_DNS_NAME": "foundation.default.svc"},
			cluster.Detection{Profile: "production", Provider: "dns", Reasons: []string{dns}}},
		{"etcd", map[string]string{"ETCD_ENDPOINTS": "http://etcd:2379"},
			cluster.Detection{Profile: "production", Provider: "etcd", Reasons: []string{etcd}}},
		{"foundation etcd", map[string]string{"FOUNDATION_ETCD_ENDPOINTS": "http://etcd:2379"},
			cluster.Detection{Profile: "production", Provider: "etcd", Reasons: []string{fetcd}}},
		{"seeds", map[string]string{"FOUNDATION_SEEDS": "127.0.0.1:7350"},
			cluster.Detection{Profile: "development", Provider: "static", Reasons: []string{seeds}}},

		// The first signal in the table wins.
		{"kubernetes over consul", map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "CONSUL_HTTP_ADDR": "c:8500"},
			cluster.Detection{Profile: "production", Provider: "k8s", Reasons: []string{k8s}}},
		{"consul over dns", map[string]string{"CONSUL_HTTP_ADDR": "c:8500", "FOUNDATION_DNS_NAME": "x"},
			cluster.Detection{Profile: "production", Provider: "consul", Reasons: []string{consul}}},
		{"dns over etcd", map[string]string{"FOUNDATION_DNS_NAME": "x", "ETCD_ENDPOINTS": "e:2379"},
			cluster.Detection{Profile: "production", Provider: "dns", Reasons: []string{dns}}},
		{"etcd over seeds", map[string]string{"FOUNDATION_ETCD_ENDPOINTS": "e:2379", "FOUNDATION_SEEDS": "s:1"},
			cluster.Detection{Profile: "production", Provider: "etcd", Reasons: []string{fetcd}}},
		{"empty values count as unset", map[string]string{"KUBERNETES_SERVICE_HOST": "", "CONSUL_HTTP_ADDR": "  "},
			cluster.Detection{Profile: "development", Provider: "mdns", Reasons: []string{none}}},

		// Explicit settings win, and say so.
		{"explicit profile", map[string]string{"FOUNDATION_PROFILE": "enterprise"},
			cluster.Detection{Profile: "enterprise", Provider: "mdns", Reasons: []string{
				none, "FOUNDATION_PROFILE=enterprise: profile set explicitly (detected: development)"}}},
		{"explicit provider", map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "FOUNDATION_PROVIDER": "dns"},
			cluster.Detection{Profile: "production", Provider: "dns", Reasons: []string{
				k8s, "FOUNDATION_PROVIDER=dns: provider set explicitly (detected: k8s)"}}},
		{"explicit auto is detection", map[string]string{"FOUNDATION_SEEDS": "s:1", "FOUNDATION_PROVIDER": "auto"},
			cluster.Detection{Profile: "development", Provider: "static", Reasons: []string{seeds}}},
		{"both explicit", map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "FOUNDATION_PROFILE": "development", "FOUNDATION_PROVIDER": "static"},
			cluster.Detection{Profile: "development", Provider: "static", Reasons: []string{
				"FOUNDATION_PROFILE=development: profile set explicitly (detected: production)",
				"FOUNDATION_PROVIDER=static: provider set explicitly (detected: k8s)"}}},
		{"unknown explicit values pass through", map[string]string{"FOUNDATION_PROFILE": "staging", "FOUNDATION_PROVIDER": "zk"},
			cluster.Detection{Profile: "staging", Provider: "zk", Reasons: []string{
				"FOUNDATION_PROFILE=staging: profile set explicitly (detected: development)",
				"FOUNDATION_PROVIDER=zk: provider set explicitly (detected: mdns)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cluster.Detect(cfgEnv(tc.env)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Detect() = %#v\nwant %#v", got, tc.want)
			}
		})
	}
	if got := cluster.Detect(nil); got.Profile != cluster.ProfileDevelopment || got.Provider != cluster.ProviderMDNS {
		t.Errorf("Detect(nil) = %+v, want development and mdns", got)
	}
}

func TestResolveProvider(t *testing.T) {
	k8s := cluster.Detection{Profile: "production", Provider: "k8s"}
	for _, tc := range []struct {
		provider string
		d        cluster.Detection
		want     string
	}{
		{"auto", k8s, "k8s"},
		{"", k8s, "k8s"},
		{"static", k8s, "static"},
		{"consul", cluster.Detection{}, "consul"},
		{"auto", cluster.Detection{}, "mdns"},
		{"auto", cluster.Detection{Provider: "auto"}, "mdns"},
		{"kubernetes", cluster.Detection{}, "k8s"},
	} {
		c := cluster.Config{Provider: tc.provider}
		if got := c.ResolveProvider(tc.d); got != tc.want {
			t.Errorf("Config{Provider: %q}.ResolveProvider(%+v) = %q, want %q", tc.provider, tc.d, got, tc.want)
		}
	}
}

// TestAutoSelectionOrder: auto prefers kubernetes, then consul, then dns,
// then etcd, then mdns in the development profile, then static.
func TestAutoSelectionOrder(t *testing.T) {
	all := map[string]string{
		"KUBERNETES_SERVICE_HOST": "10.0.0.1",
		"CONSUL_HTTP_ADDR":        "127.0.0.1:8500",
		"FOUNDATION_DNS_NAME":     "members.example",
		"ETCD_ENDPOINTS":          "http://127.0.0.1:2379",
	}
	order := []string{"KUBERNETES_SERVICE_HOST", "CONSUL_HTTP_ADDR", "FOUNDATION_DNS_NAME", "ETCD_ENDPOINTS"}
	want := []string{"k8s", "consul", "dns", "etcd"}
	for i := range order {
		env := map[string]string{}
		for _, k := range order[i:] { // the i-th and every later one are set
			env[k] = all[k]
		}
		d := cluster.Detect(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		for _, profile := range []cluster.Profile{"", cluster.ProfileDevelopment, cluster.ProfileProduction} {
			c := cluster.Config{Provider: "auto", Profile: profile}
			if got := c.ResolveProvider(d); got != want[i] {
				t.Errorf("%v set, profile %q: auto chose %q, want %q (reasons %v)", order[i:], profile, got, want[i], d.Reasons)
			}
		}
		if len(d.Reasons) == 0 {
			t.Errorf("%v: no reason given", order[i:])
		}
	}
	none := cluster.Detect(func(string) (string, bool) { return "", false })
	for profile, want := range map[cluster.Profile]string{"": "mdns", cluster.ProfileDevelopment: "mdns",
		cluster.ProfileProduction: "static", cluster.ProfileEnterprise: "static"} {
		c := cluster.Config{Provider: "auto", Profile: profile}
		if got := c.ResolveProvider(none); got != want {
			t.Errorf("nothing set, profile %q: auto chose %q, want %q", profile, got, want)
		}
	}
}

// Detect and LoadConfig agree: what Detect found through a variable, the
// configuration holds, so the resolved provider has what it needs.
func TestDetectAndLoadConfigAgree(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		check func(cluster.Config) bool
	}{
		{map[string]string{"FOUNDATION_SEEDS": "127.0.0.1:7350"}, func(c cluster.Config) bool { return len(c.Seeds) == 1 }},
		{map[string]string{"FOUNDATION_DNS_NAME": "members.local"}, func(c cluster.Config) bool { return c.DNS.Name == "members.local" }},
		{map[string]string{"ETCD_ENDPOINTS": "http://etcd:2379"}, func(c cluster.Config) bool { return len(c.Etcd.Endpoints) == 1 }},
		{map[string]string{"CONSUL_HTTP_ADDR": "consul:8500"}, func(c cluster.Config) bool { return c.Consul.Address == "consul:8500" }},
	} {
		tc.env["FOUNDATION_SECRET"] = cfgSecret
		env := cfgEnv(tc.env)
		d := cluster.Detect(env)
		c, err := cluster.LoadConfig("", env, func(c *cluster.Config) {
			if c.Profile == "" {
				c.Profile = d.Profile
			}
			c.Provider = c.ResolveProvider(d) // explicit, so Validate checks what the provider needs
		})
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if c.Profile != d.Profile || c.Provider != d.Provider || !tc.check(c) {
			t.Errorf("%v: config %+v does not match detection %+v", tc.env, c, d)
		}
	}
}
