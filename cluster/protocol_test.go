package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
)

func TestProtocolCompatible(t *testing.T) {
	for _, tc := range []struct {
		a, b int
		ok   bool
	}{{1, 1, true}, {1, 2, true}, {2, 1, true}, {0, 2, true}, {1, 3, false}, {3, 1, false}, {5, 4, true}, {0, 0, true}} {
		if got := cluster.ProtocolCompatible(tc.a, tc.b); got != tc.ok {
			t.Errorf("ProtocolCompatible(%d, %d) = %v", tc.a, tc.b, got)
		}
	}
}

// A cluster upgraded one protocol version at a time keeps its members; a
// member two versions ahead is refused, logged, and stays alone.
func TestMixedProtocolVersions(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	c := clustertest.Start(t, 3, clustertest.Options{
		Logger:   zap.New(core),
		Protocol: func(i int) int { return []int{1, 2, 1}[i] },
	})
	agree(t, c, 3, 5*time.Second)
	for _, m := range c.Member(0).Membership.View().Members {
		want := 1
		if m.ID == c.Member(1).Membership.Self().ID {
			want = 2
		}
		if m.Protocol != want {
			t.Fatalf("member %s announces protocol %d, want %d", m.ID, m.Protocol, want)
		}
	}

	cfg := membershipConfig("clustertest", "clustertest-secret")
	cfg.Self.Protocol = 3
	ahead, err := cluster.NewMembership(cfg, fixed{c.Member(0).ClusterAddress, c.Member(2).ClusterAddress})
	if err != nil {
		t.Fatal(err)
	}
	if err := ahead.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ahead.Stop(context.Background())
	clustertest.Eventually(t, func() bool {
		for _, e := range logs.FilterMessageSnippet("another protocol version").All() {
			if err, _ := e.ContextMap()["error"].(string); strings.Contains(err, "speaks protocol version 3, this member 1") {
				return true
			}
		}
		return false
	}, 5*time.Second, "the refusal is logged with the versions")
	for _, i := range []int{0, 2} {
		for _, x := range c.Member(i).Membership.Members() {
			if x.ID == ahead.Self().ID {
				t.Fatalf("a protocol-3 member admitted by a protocol-1 member")
			}
		}
	}
	if n := len(ahead.Members()); n > 2 {
		t.Fatalf("the protocol-3 member admitted protocol-1 members: %v", ahead.Members())
	}

	cfg.Self.Protocol = -1
	if _, err := cluster.NewMembership(cfg, fixed{}); err == nil {
		t.Fatal("a negative protocol version was accepted")
	}
}
