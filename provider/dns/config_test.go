package dns

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/provider"
)

func TestValidate(t *testing.T) {
	ok := Config{Name: "svc.test"}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" when valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"all set", func(c *Config) {
			*c = Config{Name: "_remoting._tcp.foundation.default.svc.cluster.local.", Port: 65535, Interval: MinInterval,
				Servers: []string{"10.96.0.10:53", "[fd00::10]:5353", "dns.test:53"}, Timeout: MinTimeout,
				StartRetries: -1, RetryMin: time.Second, RetryMax: time.Second}
		}, ""},
		{"RetryMax defaults to RetryMin when longer", func(c *Config) { c.RetryMin = time.Hour }, ""},
		{"empty name", func(c *Config) { c.Name = "" }, "Config.Name"},
		{"root name", func(c *Config) { c.Name = "." }, "Config.Name"},
		{"name with a space", func(c *Config) { c.Name = "svc test" }, "Config.Name"},
		{"name with an empty label", func(c *Config) { c.Name = "svc..test" }, "Config.Name"},
		{"name too long", func(c *Config) { c.Name = strings.Repeat("a.", 130) }, "Config.Name"},
		{"negative port", func(c *Config) { c.Port = -1 }, "Config.Port"},
		{"port too large", func(c *Config) { c.Port = 65536 }, "Config.Port"},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, "Config.Interval"},
		{"interval too short", func(c *Config) { c.Interval = time.Millisecond }, "Config.Interval"},
		{"server without port", func(c *Config) { c.Servers = []string{"10.96.0.10"} }, "Config.Servers[0]"},
		{"server without host", func(c *Config) { c.Servers = []string{"127.0.0.1:53", ":53"} }, "Config.Servers[1]"},
		{"server port 0", func(c *Config) { c.Servers = []string{"127.0.0.1:0"} }, "Config.Servers[0]"},
		{"server port +53", func(c *Config) { c.Servers = []string{"127.0.0.1:+53"} }, "Config.Servers[0]"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Config.Timeout"},
		{"negative retry min", func(c *Config) { c.RetryMin = -time.Second }, "Config.RetryMin"},
		{"retry max below min", func(c *Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond }, "Config.RetryMax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			_, newErr := New(c)
			if tt.field == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate = %v, New = %v; want both nil", err, newErr)
				}
				return
			}
			if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate = %v; want ErrInvalidConfig naming %s", err, tt.field)
			}
			if newErr == nil || newErr.Error() != err.Error() {
				t.Fatalf("New = %v; want Validate's error", newErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{Name: "svc.test"}.withDefaults()
	if c.Interval != DefaultInterval || c.Timeout != DefaultTimeout || c.StartRetries != DefaultStartRetries ||
		c.RetryMin != DefaultRetryMin || c.RetryMax != DefaultRetryMax || c.Logger == nil || c.Servers != nil || c.Port != 0 {
		t.Errorf("defaults: %+v", c)
	}
	if c := (Config{StartRetries: -5}).withDefaults(); c.StartRetries != 0 {
		t.Errorf("StartRetries -5: %d retries, want none", c.StartRetries)
	}
	if c := (Config{RetryMin: time.Hour}).withDefaults(); c.RetryMax != time.Hour {
		t.Errorf("RetryMin 1h: RetryMax %v, want 1h", c.RetryMax)
	}
}

func TestNewCopiesTheConfig(t *testing.T) {
	servers := []string{"127.0.0.1:53"}
	cfg := Config{Name: "svc.test", Servers: servers}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	servers[0] = "10.0.0.1:53"
	cfg.Name = "other.test"
	if p.cfg.Servers[0] != "127.0.0.1:53" || p.cfg.Name != "svc.test" {
		t.Errorf("the Provider's config changed with the caller's: %+v", p.cfg)
	}
}

func TestSystemServers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"two servers", write("two", "search default.svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::10\noptions ndots:5\n"),
			[]string{"10.96.0.10:53", "[fd00::10]:53"}},
		{"no server", write("none", "search example.com\n"), []string{DefaultServer}},
		{"missing file", filepath.Join(dir, "missing"), []string{DefaultServer}},
	}
	for _, tt := range tests {
		if got := systemServers(tt.path); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
