package consul

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/foundation-go/foundation/provider"
)

func TestNextIndex(t *testing.T) {
	for _, tc := range []struct{ prev, got, want uint64 }{
		{0, 0, 1}, // a zero index is never waited on
		{0, 7, 7}, // first answer
		{7, 7, 7}, // wait elapsed unchanged
		{7, 9, 9}, // a change
		{9, 3, 0}, // backwards: reset, the next query answers at once
		{9, 0, 0}, // backwards to zero: reset too
		{1, 0, 0}, // likewise
		{0, 1 << 63, 1 << 63},
	} {
		if got := nextIndex(tc.prev, tc.got); got != tc.want {
			t.Errorf("nextIndex(%d, %d) = %d; want %d", tc.prev, tc.got, got, tc.want)
		}
	}
}

func TestChunkKinds(t *testing.T) {
	if got := chunkKinds(nil); got != nil {
		t.Errorf("no kinds: %q", got)
	}
	if got := chunkKinds([]string{"a", "b"}); !slices.Equal(got, []string{"a,b"}) {
		t.Errorf("two kinds: %q", got)
	}
	var kinds []string
	for i := range 200 {
		kinds = append(kinds, fmt.Sprintf("k%05d", i))
	}
	chunks := chunkKinds(kinds)
	var back []string
	for _, c := range chunks {
		if len(c) > maxMetaValue {
			t.Errorf("chunk of %d bytes", len(c))
		}
		back = append(back, strings.Split(c, ",")...)
	}
	if !slices.Equal(back, kinds) {
		t.Errorf("kinds do not round-trip")
	}
	long := strings.Repeat("x", maxMetaValue)
	if got := chunkKinds([]string{"a", long, "b"}); !slices.Equal(got, []string{"a", long, "b"}) {
		t.Errorf("a kind of the maximum length: %d chunks", len(got))
	}
}

func TestAnnouncementRoundTrip(t *testing.T) {
	cfg := Config{Address: "127.0.0.1:8500", Service: "shop", Secret: []byte("s3cret")}.withDefaults()
	for _, addr := range []string{"10.0.0.1:7000", "[::ffff:10.0.0.1]:7000", "[fe80::1%eth0]:7000", "node-1.example:7000", "0.0.0.0:7000", "[::]:7000"} {
		self := provider.Member{ID: "m1", Address: addr, Cluster: "shop", Kinds: []string{"cart"}, Version: "v1"}
		a, err := newAnnouncement(cfg, self)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		svc := &api.AgentService{ID: a.reg.ID, Service: a.reg.Name, Address: a.reg.Address, Port: a.reg.Port, Meta: a.reg.Meta}
		reported, announced, ok := entryMember(&api.ServiceEntry{Node: &api.Node{Address: "192.0.2.9"}, Service: svc})
		if !ok {
			t.Fatalf("%s: entry not usable", addr)
		}
		if admit("shop", cfg.Secret, announced) != admitted {
			t.Errorf("%s: announced %+v does not verify", addr, announced)
		}
		want := a.self.Address
		if a.reg.Address == "" {
			want = "192.0.2.9:7000"
		}
		if reported.Address != want || reported.ID != "m1" || !slices.Equal(reported.Kinds, []string{"cart"}) {
			t.Errorf("%s: reported %+v; want address %s", addr, reported, want)
		}
		if admit("billing", cfg.Secret, announced) != otherCluster || admit("shop", []byte("other"), announced) != badAuth {
			t.Errorf("%s: admit does not tell clusters or secrets apart", addr)
		}
	}
}

func TestLostRegistration(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{api.StatusError{Code: 404, Body: "Unknown check ID"}, true},
		{api.StatusError{Code: 500, Body: `CheckID "service:x" does not have associated TTL`}, true},
		{fmt.Errorf("wrapped: %w", api.StatusError{Code: 404}), true},
		{api.StatusError{Code: 500, Body: "rpc error"}, false},
		{errors.New("connection refused"), false},
	} {
		if got := lostRegistration(tc.err); got != tc.want {
			t.Errorf("lostRegistration(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}
