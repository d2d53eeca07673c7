package mdns

import (
	"slices"
	"testing"
	"time"

	"github.com/foundation-go/foundation/provider"
)

var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func TestViewObserveRemoveExpire(t *testing.T) {
	self := member("s", "dev", 1)
	v := newView(self, 2)
	if got := v.members(); !slices.EqualFunc(got, []provider.Member{self}, same) {
		t.Fatalf("members = %+v, want only self", got)
	}
	a, b, c := member("a", "dev", 2, "k"), member("b", "dev", 3), member("c", "dev", 4)

	step := func(what string, changed, wantChanged bool, wantIDs ...string) {
		t.Helper()
		if changed != wantChanged {
			t.Fatalf("%s: changed = %v, want %v", what, changed, wantChanged)
		}
		var ids []string
		for _, m := range v.members() {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, wantIDs) {
			t.Fatalf("%s: members %q, want %q", what, ids, wantIDs)
		}
	}
	ch, _ := v.observe(b, t0)
	step("new b", ch, true, "b", "s")
	ch, _ = v.observe(a, t0.Add(time.Second))
	step("new a", ch, true, "a", "b", "s")
	ch, full := v.observe(c, t0.Add(time.Second))
	step("c over the limit", ch || full, true, "a", "b", "s")
	if !full {
		t.Fatal("c over the limit: full = false")
	}
	ch, _ = v.observe(b, t0.Add(2*time.Second))
	step("b again, unchanged", ch, false, "a", "b", "s")
	a2 := a
	a2.Kinds = []string{"k", "l"}
	ch, _ = v.observe(a2, t0.Add(2*time.Second))
	step("a with new kinds", ch, true, "a", "b", "s")

	// Both last heard at t0+2s; expiry is strictly after ExpireAfter.
	step("expire at exactly ExpireAfter", v.expire(t0.Add(5*time.Second), 3*time.Second), false, "a", "b", "s")
	ch, _ = v.observe(b, t0.Add(4*time.Second))
	step("b heard again", ch, false, "a", "b", "s")
	step("expire a", v.expire(t0.Add(5*time.Second+1), 3*time.Second), true, "b", "s")
	step("remove b", v.remove("b"), true, "s")
	step("remove b again", v.remove("b"), false, "s")
	step("remove self", v.remove("s"), false, "s")
	ch, _ = v.observe(a, t0.Add(6*time.Second))
	step("a back", ch, true, "a", "s")
}

func TestViewMembersAreCopies(t *testing.T) {
	v := newView(member("s", "dev", 1, "x"), 10)
	v.observe(member("a", "dev", 2, "k"), t0)
	got := v.members()
	got[0].Kinds[0] = "changed"
	got[1].Kinds[0] = "changed"
	again := v.members()
	if again[0].Kinds[0] != "k" || again[1].Kinds[0] != "x" {
		t.Fatalf("changing a reported set changed the view: %+v", again)
	}
}

func TestJudge(t *testing.T) {
	secret := []byte("s3cret")
	self := member("s", "dev", 1)
	signed := func(m provider.Member, key []byte) provider.Member {
		m.Auth = provider.Sign(key, m)
		return m
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		m      provider.Member
		want   verdict
	}{
		{"peer, no secret", nil, member("a", "dev", 2), admit},
		{"peer with any auth, no secret", nil, signed(member("a", "dev", 2), []byte("other")), admit},
		{"self", nil, member("s", "dev", 9), fromSelf},
		{"other cluster", nil, member("a", "prod", 2), otherCluster},
		{"other cluster, signed", secret, signed(member("a", "prod", 2), secret), otherCluster},
		{"signed", secret, signed(member("a", "dev", 2), secret), admit},
		{"unsigned", secret, member("a", "dev", 2), badAuth},
		{"wrong secret", secret, signed(member("a", "dev", 2), []byte("other")), badAuth},
	} {
		if got := judge(self, tc.secret, tc.m); got != tc.want {
			t.Errorf("%s: judge = %v, want %v", tc.name, got, tc.want)
		}
	}
}
