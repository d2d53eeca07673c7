package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// side builds a view: members "a".."e" (a oldest, lowest address), with the
// ones named in down Unreachable.
func side(n int, down string) []Member {
	t0 := time.Unix(1000, 0)
	var out []Member
	for i := 0; i < n; i++ {
		id := string(rune('a' + i))
		m := Member{ID: id, ClusterAddress: fmt.Sprintf("10.0.0.%d:7351", i+1), Started: t0.Add(time.Duration(i) * time.Second), Status: Up}
		if strings.Contains(down, id) {
			m.Status = Unreachable
		}
		out = append(out, m)
	}
	return out
}

func TestResolveTable(t *testing.T) {
	type want struct {
		survive bool
		act     action
	}
	keep, downSelf, nothing := want{true, actDownOthers}, want{false, actDownSelf}, want{true, actKeep}
	cases := []struct {
		name     string
		cfg      ResolverConfig
		self     string
		n        int
		down     string
		lease    leaseState
		want     want
		acqDelay time.Duration
	}{
		{"nothing unreachable", ResolverConfig{}, "a", 3, "", leaseState{}, nothing, 0},
		// keep-majority
		{"majority 3 of 5 keeps", ResolverConfig{Strategy: KeepMajority}, "a", 5, "de", leaseState{}, keep, 0},
		{"minority 2 of 5 downs itself", ResolverConfig{Strategy: KeepMajority}, "d", 5, "abc", leaseState{}, downSelf, 0},
		{"isolated 1 of 3 downs itself", ResolverConfig{}, "c", 3, "ab", leaseState{}, downSelf, 0},
		{"2 of 3 keeps", ResolverConfig{}, "a", 3, "c", leaseState{}, keep, 0},
		{"tie with the lowest address keeps", ResolverConfig{}, "b", 4, "cd", leaseState{}, keep, 0},
		{"tie without the lowest address downs", ResolverConfig{}, "c", 4, "ab", leaseState{}, downSelf, 0},
		{"2-member cluster: the lowest keeps", ResolverConfig{}, "a", 2, "b", leaseState{}, keep, 0},
		{"2-member cluster: the other downs", ResolverConfig{}, "b", 2, "a", leaseState{}, downSelf, 0},
		// static-quorum
		{"quorum 3 reached", ResolverConfig{Strategy: StaticQuorum, QuorumSize: 3}, "a", 5, "de", leaseState{}, keep, 0},
		{"quorum 3 missed", ResolverConfig{Strategy: StaticQuorum, QuorumSize: 3}, "d", 5, "abc", leaseState{}, downSelf, 0},
		{"quorum 3 missed by both sides of 2+2", ResolverConfig{Strategy: StaticQuorum, QuorumSize: 3}, "a", 4, "cd", leaseState{}, downSelf, 0},
		// keep-oldest
		{"oldest here keeps", ResolverConfig{Strategy: KeepOldest}, "b", 5, "cde", leaseState{}, keep, 0},
		{"oldest there downs", ResolverConfig{Strategy: KeepOldest}, "d", 5, "abc", leaseState{}, downSelf, 0},
		{"oldest alone here downs itself", ResolverConfig{Strategy: KeepOldest}, "a", 3, "bc", leaseState{}, downSelf, 0},
		{"oldest alone there: this side keeps", ResolverConfig{Strategy: KeepOldest}, "b", 3, "a", leaseState{}, keep, 0},
		{"oldest alone survives when allowed", ResolverConfig{Strategy: KeepOldest, OldestSurvivesAlone: true}, "a", 3, "bc", leaseState{}, keep, 0},
		{"oldest alone there, allowed: this side downs", ResolverConfig{Strategy: KeepOldest, OldestSurvivesAlone: true}, "b", 3, "a", leaseState{}, downSelf, 0},
		// down-all
		{"down-all downs the majority too", ResolverConfig{Strategy: DownAll}, "a", 5, "e", leaseState{}, downSelf, 0},
		// lease-majority
		{"lease: majority tries at once", ResolverConfig{Strategy: LeaseMajority, AcquireDelay: 2 * time.Second}, "a", 5, "de", leaseState{}, want{true, actAcquire}, 0},
		{"lease: minority tries after the delay", ResolverConfig{Strategy: LeaseMajority, AcquireDelay: 2 * time.Second}, "d", 5, "abc", leaseState{}, want{false, actAcquire}, 2 * time.Second},
		{"lease held keeps", ResolverConfig{Strategy: LeaseMajority}, "d", 5, "abc", leaseState{tried: true, held: true}, keep, 0},
		{"lease lost downs", ResolverConfig{Strategy: LeaseMajority}, "a", 5, "de", leaseState{tried: true}, downSelf, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := resolve(tc.cfg, tc.self, side(tc.n, tc.down), tc.lease)
			if d.survive != tc.want.survive || d.act != tc.want.act {
				t.Fatalf("got survive=%v act=%v (%s); want survive=%v act=%v", d.survive, d.act, d.reason, tc.want.survive, tc.want.act)
			}
			if d.act == actAcquire && d.delay != tc.acqDelay {
				t.Fatalf("acquire delay %v, want %v", d.delay, tc.acqDelay)
			}
			if d.act != actKeep && d.reason == "" {
				t.Fatal("a decision without a reason")
			}
		})
	}
}

// Both sides of every split decide consistently: at most one side
// survives, for every strategy but lease-majority (decided by the lease).
func TestResolveAtMostOneSideSurvives(t *testing.T) {
	for _, s := range []ResolverConfig{{Strategy: KeepMajority}, {Strategy: StaticQuorum, QuorumSize: 3}, {Strategy: KeepOldest},
		{Strategy: KeepOldest, OldestSurvivesAlone: true}, {Strategy: DownAll}} {
		for n := 2; n <= 6; n++ {
			for mask := 1; mask < 1<<n-1; mask++ { // every split into two non-empty sides
				var a, b string
				for i := 0; i < n; i++ {
					if mask&(1<<i) != 0 {
						a += string(rune('a' + i))
					} else {
						b += string(rune('a' + i))
					}
				}
				da := resolve(s, a[:1], side(n, b), leaseState{})
				db := resolve(s, b[:1], side(n, a), leaseState{})
				if da.survive && db.survive {
					t.Fatalf("%v: split %s|%s: both sides survive", s, a, b)
				}
			}
		}
	}
}

func TestResolverConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  ResolverConfig
		want string
	}{
		{ResolverConfig{StableAfter: time.Second}, ""},
		{ResolverConfig{}, "StableAfter"},
		{ResolverConfig{Strategy: "majority", StableAfter: time.Second}, "Strategy"},
		{ResolverConfig{Strategy: StaticQuorum, StableAfter: time.Second}, "QuorumSize"},
		{ResolverConfig{Strategy: KeepMajority, QuorumSize: 2, StableAfter: time.Second}, "QuorumSize"},
		{ResolverConfig{Strategy: LeaseMajority, StableAfter: time.Second}, "Lease"},
		{ResolverConfig{AcquireDelay: -1, StableAfter: time.Second}, "AcquireDelay"},
	}
	for _, tc := range cases {
		var errs []error
		tc.cfg.validate(&errs)
		err := errors.Join(errs...)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.cfg, err)
			}
			continue
		}
		if !errors.Is(err, ErrMembershipConfig) || !strings.Contains(err.Error(), "SplitBrain."+tc.want) {
			t.Errorf("%+v: %v, want an error naming SplitBrain.%s", tc.cfg, err, tc.want)
		}
	}
}
