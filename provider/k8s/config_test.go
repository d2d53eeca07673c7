package k8s

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/foundation-go/foundation/provider"
)

func TestValidate(t *testing.T) {
	ok := Config{Client: fake.NewSimpleClientset(), LabelSelector: "app=shop"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", ok, err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no client", func(c *Config) { c.Client = nil }, "Config.Client"},
		{"no selector", func(c *Config) { c.LabelSelector = "" }, "Config.LabelSelector is empty"},
		{"blank selector", func(c *Config) { c.LabelSelector = "  " }, "Config.LabelSelector is empty"},
		{"bad selector", func(c *Config) { c.LabelSelector = "app in (shop" }, `Config.LabelSelector "app in (shop"`},
		{"bad namespace", func(c *Config) { c.Namespace = "Shop_NS" }, `Config.Namespace "Shop_NS"`},
		{"bad port name", func(c *Config) { c.PortName = "Foundation_Port" }, `Config.PortName "Foundation_Port"`},
		{"long port name", func(c *Config) { c.PortName = "foundation-members" }, `Config.PortName "foundation-members"`},
		{"negative resync", func(c *Config) { c.ResyncPeriod = -time.Second }, "Config.ResyncPeriod"},
		{"short resync", func(c *Config) { c.ResyncPeriod = time.Millisecond }, "Config.ResyncPeriod 1ms: want 0 (no resync) or at least 1s"},
		{"tiny retry", func(c *Config) { c.RetryMin = time.Microsecond }, "Config.RetryMin"},
		{"retry max below min", func(c *Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond }, "Config.RetryMax"},
		{"negative start timeout", func(c *Config) { c.StartTimeout = -1 }, "Config.StartTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.Validate()
			if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want ErrInvalidConfig naming %q", err, tc.want)
			}
			if _, err := New(c); !errors.Is(err, provider.ErrInvalidConfig) {
				t.Fatalf("New() = %v; want ErrInvalidConfig", err)
			}
		})
	}
	// A RetryMin above the default RetryMax raises the default.
	if err := (Config{Client: ok.Client, LabelSelector: "a", RetryMin: time.Minute}).Validate(); err != nil {
		t.Errorf("Validate with RetryMin 1m = %v", err)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "namespace")
	missing := filepath.Join(dir, "missing")
	if err := os.WriteFile(file, []byte("shop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	host := func() (string, error) { return "host-pod", nil }
	base := Config{Client: fake.NewSimpleClientset(), LabelSelector: "app=shop"}

	c, err := base.resolve(file, getenv, host)
	if err != nil || c.Namespace != "shop" || c.PodName != "host-pod" {
		t.Errorf("from the file: %q %q %v; want shop, host-pod", c.Namespace, c.PodName, err)
	}
	if c.RetryMin != DefaultRetryMin || c.RetryMax != DefaultRetryMax || c.StartTimeout != DefaultStartTimeout || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
	env[EnvPodNamespace], env[EnvPodName] = "from-env", "env-pod"
	c, err = base.resolve(missing, getenv, host)
	if err != nil || c.Namespace != "from-env" || c.PodName != "env-pod" {
		t.Errorf("from the environment: %q %q %v; want from-env, env-pod", c.Namespace, c.PodName, err)
	}
	explicit := base
	explicit.Namespace, explicit.PodName = "given", "given-pod"
	c, err = explicit.resolve(file, getenv, host)
	if err != nil || c.Namespace != "given" || c.PodName != "given-pod" {
		t.Errorf("explicit: %q %q %v; want given, given-pod", c.Namespace, c.PodName, err)
	}
	delete(env, EnvPodNamespace)
	_, err = base.resolve(missing, getenv, host)
	if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Namespace is empty") {
		t.Errorf("no namespace anywhere: %v; want ErrInvalidConfig naming Config.Namespace", err)
	}
	// The namespace is checked once resolved.
	if err := os.WriteFile(file, []byte("Not A Namespace"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = base.resolve(file, getenv, host); !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Namespace") {
		t.Errorf("bad namespace in the file: %v", err)
	}
}

func TestInClusterClientOutsideACluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	c, err := InClusterClient()
	if !errors.Is(err, provider.ErrUnavailable) || c != nil {
		t.Fatalf("InClusterClient() = %v, %v; want ErrUnavailable", c, err)
	}
}

func TestTransientAndBenign(t *testing.T) {
	for _, tc := range []struct {
		err               error
		transient, benign bool
	}{
		{errors.New("dial tcp 10.0.0.1:443: connect: connection refused"), true, false},
		{errTooManyRequests, true, false},
		{errForbidden, true, false},
		{errGone, false, true},
		{errExpired, false, true},
		{errTooLarge, false, true},
		{errBadRequest, false, false},
	} {
		if got := transient(tc.err); got != tc.transient {
			t.Errorf("transient(%v) = %v", tc.err, got)
		}
		if got := benign(tc.err); got != tc.benign {
			t.Errorf("benign(%v) = %v", tc.err, got)
		}
	}
}
