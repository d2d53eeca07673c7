package mdns

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/provider"
)

func TestConfigDefaults(t *testing.T) {
	var zero Config
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	d := zero.withDefaults()
	if d.Service != "_foundation._tcp" || d.Domain != "local." || d.AnnounceInterval != time.Second || d.ExpireAfter != 3*time.Second || d.Logger == nil {
		t.Fatalf("defaults = %+v", d)
	}
	slow := Config{AnnounceInterval: 2 * time.Second}
	if err := slow.Validate(); err != nil || slow.withDefaults().ExpireAfter != 6*time.Second {
		t.Fatalf("AnnounceInterval 2s: %v, ExpireAfter %v, want 3×2s", err, slow.withDefaults().ExpireAfter)
	}
	if zero.Service != "" || zero.Logger != nil {
		t.Fatal("Validate or withDefaults changed the caller's Config")
	}
}

func TestNewCopiesConfig(t *testing.T) {
	cfg := Config{Interfaces: []string{"lo"}, Secret: []byte("abc")}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Interfaces[0] = "eth0"
	cfg.Secret[0] = 'x'
	if p.cfg.Interfaces[0] != "lo" || string(p.cfg.Secret) != "abc" {
		t.Fatalf("New kept the caller's slices: %+v", p.cfg)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // in the message
	}{
		{Config{Service: "foundation"}, "Config.Service"},
		{Config{Service: "_foundation"}, "Config.Service"},
		{Config{Service: "_foundation._sctp"}, "Config.Service"},
		{Config{Service: "_sixteen-letters1._tcp"}, "Config.Service"},
		{Config{Service: "_a!._tcp"}, "Config.Service"},
		{Config{Service: "__._tcp"}, "Config.Service"},
		{Config{Domain: "bad domain"}, "Config.Domain"},
		{Config{Domain: "."}, "Config.Domain"},
		{Config{Domain: "a..b"}, "Config.Domain"},
		{Config{Domain: strings.Repeat("a", 64) + ".local."}, "Config.Domain"},
		{Config{Interfaces: []string{"lo", ""}}, "Config.Interfaces[1]"},
		{Config{Interfaces: []string{"lo", "lo"}}, `Config.Interfaces[1] "lo" is listed twice`},
		{Config{AnnounceInterval: time.Millisecond}, "Config.AnnounceInterval 1ms: want 10ms..10m0s"},
		{Config{AnnounceInterval: -time.Second}, "Config.AnnounceInterval"},
		{Config{AnnounceInterval: 11 * time.Minute}, "Config.AnnounceInterval"},
		{Config{ExpireAfter: time.Second}, "Config.ExpireAfter 1s: want 2×AnnounceInterval (2s)..1h0m0s"},
		{Config{ExpireAfter: -time.Second}, "Config.ExpireAfter"},
		{Config{ExpireAfter: 2 * time.Hour}, "Config.ExpireAfter"},
		{Config{AnnounceInterval: time.Second, ExpireAfter: 1500 * time.Millisecond}, "Config.ExpireAfter"},
	} {
		err := tc.cfg.Validate()
		if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidConfig mentioning %q", tc.cfg, err, tc.want)
		}
		if _, err2 := New(tc.cfg); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("New(%+v) = %v, want %v", tc.cfg, err2, err)
		}
	}
	for _, good := range []Config{
		{Service: "_x._udp", Domain: "example.org"},
		{Service: "_a-b-c._tcp.", Domain: "local"},
		{AnnounceInterval: 10 * time.Millisecond, ExpireAfter: 20 * time.Millisecond},
	} {
		if err := good.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", good, err)
		}
	}
	if _, err := New(Config{}, WithMaxMembers(0)); !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), "WithMaxMembers(0)") {
		t.Errorf("WithMaxMembers(0): %v", err)
	}
}

// TestStartRejects: Start refuses bad arguments before it opens a socket.
// Every provider here names an interface that does not exist, so even a
// Start that wrongly went on could not send a packet.
func TestStartRejects(t *testing.T) {
	ctx := context.Background()
	nop := func([]provider.Member) {}
	good := member("a", "dev", 7001, "k")
	long := make([]string, 60)
	for i := range long {
		long[i] = strings.Repeat("k", 150) + string(rune('a'+i%26))
	}
	for _, tc := range []struct {
		name   string
		self   func(m *provider.Member)
		update func([]provider.Member)
		want   string
	}{
		{"nil update", nil, nil, "update must not be nil"},
		{"empty id", func(m *provider.Member) { m.ID = "" }, nop, "self.ID"},
		{"long id", func(m *provider.Member) { m.ID = strings.Repeat("i", 64) }, nop, "self.ID"},
		{"NUL in cluster", func(m *provider.Member) { m.Cluster = "a\x00b" }, nop, "self.Cluster"},
		{"no port", func(m *provider.Member) { m.Address = "127.0.0.1" }, nop, "self.Address"},
		{"port 0", func(m *provider.Member) { m.Address = "127.0.0.1:0" }, nop, "self.Address"},
		{"port name", func(m *provider.Member) { m.Address = "127.0.0.1:http" }, nop, "self.Address"},
		{"unspecified", func(m *provider.Member) { m.Address = "0.0.0.0:7001" }, nop, "unspecified"},
		{"empty kind", func(m *provider.Member) { m.Kinds = []string{"a", ""} }, nop, "self.Kinds[1]"},
		{"comma in kind", func(m *provider.Member) { m.Kinds = []string{"a,b"} }, nop, "self.Kinds[0]"},
		{"long kind", func(m *provider.Member) { m.Kinds = []string{strings.Repeat("k", 201)} }, nop, "self.Kinds[0]"},
		{"long version", func(m *provider.Member) { m.Version = strings.Repeat("v", 250) }, nop, "TXT version="},
		{"announcement too big", func(m *provider.Member) { m.Kinds = long }, nop, "more than the 9000 mDNS allows"},
		// Valid selves get as far as the interface.
		{"missing interface", nil, nop, `Config.Interfaces: "no-such-if0": no such interface`},
		{"host name that resolves", func(m *provider.Member) { m.Address = "localhost:7001" }, nop, "no such interface"},
		{"IPv6 address", func(m *provider.Member) { m.Address = "[::1]:7001" }, nop, "no such interface"},
		{"id with dots, spaces, UTF-8", func(m *provider.Member) { m.ID = `a.b c\d"ü` }, nop, "no such interface"},
		{"63-byte id", func(m *provider.Member) { m.ID = strings.Repeat("i", 63) }, nop, "no such interface"},
	} {
		p, err := New(Config{Interfaces: []string{"no-such-if0"}})
		if err != nil {
			t.Fatal(err)
		}
		self := good
		if tc.self != nil {
			tc.self(&self)
		}
		err = p.Start(ctx, self, tc.update)
		if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Start = %v, want ErrInvalidConfig mentioning %q", tc.name, err, tc.want)
		}
		if err := p.Stop(ctx); err != nil {
			t.Errorf("%s: Stop = %v", tc.name, err)
		}
	}
}

func TestLifecycleWithoutNetwork(t *testing.T) {
	p, err := New(Config{Interfaces: []string{"no-such-if0"}})
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Start(canceled, member("a", "dev", 1), func([]provider.Member) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start(canceled ctx) = %v", err)
	}
	for range 2 {
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("Stop of an unstarted provider = %v", err)
		}
	}
	if err := p.Start(context.Background(), member("a", "dev", 1), func([]provider.Member) {}); !errors.Is(err, provider.ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}
	if !slices.Equal(p.cfg.Interfaces, []string{"no-such-if0"}) {
		t.Fatal("config changed")
	}
}
