package protocluster_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/protocluster"
	"github.com/foundation-go/foundation/provider/static"
)

// TestNewProviderRejectsBadConfig: a configuration proto.actor would turn
// into a panic at StartMember is an error from NewProvider, naming the
// field. (No proto.actor cluster runs here, so this test also runs under
// the race detector.)
func TestNewProviderRejectsBadConfig(t *testing.T) {
	seeds, err := static.New([]string{"127.0.0.1:7351"})
	if err != nil {
		t.Fatal(err)
	}
	good := cluster.MembershipConfig{Bind: "127.0.0.1:0", ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 60 * time.Millisecond,
		GossipInterval: 50 * time.Millisecond, SuspicionMultiplier: 3, SplitBrain: cluster.ResolverConfig{StableAfter: 250 * time.Millisecond}}
	if _, err := protocluster.NewProvider(seeds, good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name string
		p    *static.Provider
		edit func(*cluster.MembershipConfig)
		want string
	}{
		{"zero timing", seeds, func(c *cluster.MembershipConfig) { *c = cluster.MembershipConfig{} }, "ProbeInterval"},
		{"probe timeout above the interval", seeds, func(c *cluster.MembershipConfig) { c.ProbeTimeout = 150 * time.Millisecond }, "ProbeTimeout"},
		{"no cluster port", seeds, func(c *cluster.MembershipConfig) { c.Bind = "" }, "Bind"},
		{"negative expected", seeds, func(c *cluster.MembershipConfig) { c.Expected = -1 }, "Expected"},
		{"nil provider", nil, func(*cluster.MembershipConfig) {}, "provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			var err error
			if tc.p == nil {
				_, err = protocluster.NewProvider(nil, cfg)
			} else {
				_, err = protocluster.NewProvider(tc.p, cfg)
			}
			if !errors.Is(err, cluster.ErrMembershipConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want ErrMembershipConfig naming %s", err, tc.want)
			}
		})
	}
}
