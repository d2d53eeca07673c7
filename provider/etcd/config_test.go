package etcd

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/provider"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{Endpoints: []string{"127.0.0.1:2379"}}.withDefaults()
	if c.Prefix != DefaultPrefix || c.LeaseTTL != DefaultLeaseTTL || c.DialTimeout != DefaultDialTimeout ||
		c.StartRetries != DefaultStartRetries || c.RetryMin != DefaultRetryMin || c.RetryMax != DefaultRetryMax || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
	if got := (Config{Prefix: "/x"}).withDefaults().Prefix; got != "/x/" {
		t.Errorf("Prefix /x: %q; want /x/", got)
	}
	if got := (Config{StartRetries: -1}).withDefaults().StartRetries; got != 0 {
		t.Errorf("StartRetries -1: %d; want 0 (no retry)", got)
	}
	if got := (Config{RetryMin: time.Minute}).withDefaults().RetryMax; got != time.Minute {
		t.Errorf("RetryMax with RetryMin 1m: %v; want 1m", got)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := []string{"http://127.0.0.1:2379"}
	for _, tc := range []struct {
		cfg  Config
		want string // in the message; empty: valid
	}{
		{Config{Endpoints: ok}, ""},
		{Config{Endpoints: []string{"https://etcd.example:2379", "10.0.0.1:2379", "[::1]:2379", "unix:///run/etcd.sock"}}, ""},
		{Config{}, "Config.Endpoints is empty"},
		{Config{Endpoints: []string{}}, "Config.Endpoints is empty"},
		{Config{Endpoints: []string{""}}, "Config.Endpoints[0]"},
		{Config{Endpoints: []string{"http://127.0.0.1:2379", "etcd"}}, "Config.Endpoints[1]"},
		{Config{Endpoints: []string{"ftp://h:1"}}, `scheme "ftp"`},
		{Config{Endpoints: []string{"http://"}}, "no host"},
		{Config{Endpoints: []string{"http://h:1/v3"}}, "path"},
		{Config{Endpoints: ok, LeaseTTL: 500 * time.Millisecond}, "Config.LeaseTTL 500ms"},
		{Config{Endpoints: ok, LeaseTTL: 1500 * time.Millisecond}, "whole seconds"},
		{Config{Endpoints: ok, LeaseTTL: -time.Second}, "Config.LeaseTTL"},
		{Config{Endpoints: ok, LeaseTTL: 2 * time.Hour}, "Config.LeaseTTL"},
		{Config{Endpoints: ok, LeaseTTL: time.Second}, ""},
		{Config{Endpoints: ok, DialTimeout: time.Millisecond}, "Config.DialTimeout"},
		{Config{Endpoints: ok, StartRetries: MaxStartRetries + 1}, "Config.StartRetries"},
		{Config{Endpoints: ok, StartRetries: -5}, ""},
		{Config{Endpoints: ok, RetryMin: -time.Second}, "Config.RetryMin"},
		{Config{Endpoints: ok, RetryMin: time.Second, RetryMax: time.Millisecond * 500}, "Config.RetryMax 500ms"},
		{Config{Endpoints: ok, RetryMax: time.Hour}, "Config.RetryMax"},
		{Config{Endpoints: ok, Prefix: "a\x00b"}, "Config.Prefix"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v; want valid", tc.cfg, err)
			}
			continue
		}
		if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want provider.ErrInvalidConfig mentioning %q", tc.cfg, err, tc.want)
		}
		if _, nerr := New(tc.cfg); !errors.Is(nerr, provider.ErrInvalidConfig) {
			t.Errorf("New(%+v): %v; want provider.ErrInvalidConfig", tc.cfg, nerr)
		}
	}
}

func TestNewCopiesTheConfig(t *testing.T) {
	cfg := Config{Endpoints: []string{"127.0.0.1:2379"}, Secret: []byte("secret")}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Endpoints[0] = "changed:1"
	cfg.Secret[0] = 'X'
	if p.cfg.Endpoints[0] != "127.0.0.1:2379" || string(p.cfg.Secret) != "secret" {
		t.Fatalf("the Provider shares the caller's slices: %v %q", p.cfg.Endpoints, p.cfg.Secret)
	}
}
