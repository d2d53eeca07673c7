package router_test

import (
	"errors"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/router"
)

func depths(ds ...int) []int { return ds }

func fill(n, depth int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = depth
	}
	return out
}

func TestDefaultResizer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		r         router.DefaultResizer
		mailboxes []int
		want      int
	}{
		{"empty pool grows to Lower", router.DefaultResizer{}, nil, 1},
		{"all busy: +ceil(20%)", router.DefaultResizer{}, fill(4, 1), 5},
		{"all busy, 5: +1", router.DefaultResizer{}, fill(5, 3), 6},
		{"all busy at Upper stays", router.DefaultResizer{}, fill(10, 7), 10},
		{"growth capped at Upper", router.DefaultResizer{}, fill(9, 1), 10},
		{"some busy, above the backoff threshold: same", router.DefaultResizer{}, depths(1, 1, 0, 0, 0, 0), 6},
		{"few busy, below the backoff threshold: -1", router.DefaultResizer{}, depths(1, 0, 0, 0, 0, 0), 5},
		{"idle 10: -floor(10%) = -1", router.DefaultResizer{}, fill(10, 0), 9},
		{"idle 20: -2", router.DefaultResizer{Upper: 30}, fill(20, 0), 18},
		{"idle 1 stays at Lower", router.DefaultResizer{}, fill(1, 0), 1},
		{"below Lower after crashes: back to Lower", router.DefaultResizer{Lower: 3, Upper: 5}, fill(1, 0), 3},
		{"pressure threshold", router.DefaultResizer{PressureThreshold: 5}, depths(4, 5, 6), 3},
		{"pressure threshold, all at it", router.DefaultResizer{PressureThreshold: 5}, depths(5, 5, 9), 4},
		{"unknown depths are no pressure", router.DefaultResizer{}, depths(-1, -1), 1},
		{"rampup 100%", router.DefaultResizer{RampupRate: 1, Upper: 20}, fill(4, 2), 8},
		{"rampup Off", router.DefaultResizer{RampupRate: router.Off}, fill(4, 2), 4},
		{"backoff Off", router.DefaultResizer{BackoffThreshold: router.Off}, fill(6, 0), 6},
		{"backoff rate Off", router.DefaultResizer{BackoffRate: router.Off}, fill(6, 0), 6},
		{"bounds 2..4, idle 4", router.DefaultResizer{Lower: 2, Upper: 4}, fill(4, 0), 3},
	} {
		got, next := tc.r.Resize(router.Observation{Mailboxes: tc.mailboxes})
		if got != tc.want {
			t.Errorf("%s: Resize(%v) = %d; want %d", tc.name, tc.mailboxes, got, tc.want)
		}
		if next != tc.r {
			t.Errorf("%s: DefaultResizer has no state; next = %#v", tc.name, next)
		}
	}
}

func TestResizerValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     interface{ Validate() error }
		field string // named in the message; "" for valid
	}{
		{"default zero value", router.DefaultResizer{}, ""},
		{"Off rates", router.DefaultResizer{RampupRate: router.Off, BackoffRate: router.Off}, ""},
		{"Lower < 0", router.DefaultResizer{Lower: -1}, "DefaultResizer.Lower"},
		{"Upper < Lower", router.DefaultResizer{Lower: 5, Upper: 3}, "DefaultResizer.Upper"},
		{"Upper < 0", router.DefaultResizer{Upper: -2}, "DefaultResizer.Upper"},
		{"PressureThreshold < 0", router.DefaultResizer{PressureThreshold: -1}, "DefaultResizer.PressureThreshold"},
		{"BackoffThreshold > 1", router.DefaultResizer{BackoffThreshold: 1.5}, "DefaultResizer.BackoffThreshold"},
		{"BackoffRate negative, not Off", router.DefaultResizer{BackoffRate: -0.5}, "DefaultResizer.BackoffRate"},
		{"RampupRate NaN", router.DefaultResizer{RampupRate: math.NaN()}, "DefaultResizer.RampupRate"},
		{"MessagesPerResize < 0", router.DefaultResizer{MessagesPerResize: -1}, "DefaultResizer.MessagesPerResize"},
		{"optimal zero value", router.OptimalSizeExploringResizer{}, ""},
		{"optimal Upper < Lower", router.OptimalSizeExploringResizer{Lower: 4, Upper: 2}, "OptimalSizeExploringResizer.Upper"},
		{"optimal ActionInterval < 0", router.OptimalSizeExploringResizer{ActionInterval: -time.Second}, "OptimalSizeExploringResizer.ActionInterval"},
		{"optimal DownsizeRatio > 1", router.OptimalSizeExploringResizer{DownsizeRatio: 2}, "OptimalSizeExploringResizer.DownsizeRatio"},
		{"optimal WeightOfLatestMetric > 1", router.OptimalSizeExploringResizer{WeightOfLatestMetric: 1.1}, "OptimalSizeExploringResizer.WeightOfLatestMetric"},
		{"optimal ExplorationProbability > 1", router.OptimalSizeExploringResizer{ExplorationProbability: 3}, "OptimalSizeExploringResizer.ExplorationProbability"},
		{"optimal NumAdjacentSizes < 0", router.OptimalSizeExploringResizer{NumAdjacentSizes: -1}, "OptimalSizeExploringResizer.NumAdjacentSizes"},
	} {
		err := tc.r.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: Validate = %v; want nil", tc.name, err)
		case tc.field != "" && (!errors.Is(err, router.ErrInvalidResizer) || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("%s: Validate = %v; want ErrInvalidResizer naming %s", tc.name, err, tc.field)
		}
	}
}

func TestResizerBounds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r      interface{ Bounds() (int, int) }
		lo, hi int
	}{
		{"default", router.DefaultResizer{}, 1, 10},
		{"Upper follows a high Lower", router.DefaultResizer{Lower: 12}, 12, 12},
		{"optimal default", router.OptimalSizeExploringResizer{}, 1, 30},
		{"optimal set", router.OptimalSizeExploringResizer{Lower: 2, Upper: 5}, 2, 5},
	} {
		if lo, hi := tc.r.Bounds(); lo != tc.lo || hi != tc.hi {
			t.Errorf("%s: Bounds = %d, %d; want %d, %d", tc.name, lo, hi, tc.lo, tc.hi)
		}
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// step is one consultation of a resizer and the size it must answer.
type step struct {
	at        time.Duration // since t0
	mailboxes []int
	routed    uint64
	want      int
}

// run feeds steps to r and checks each answer; it returns the last resizer.
func run(t *testing.T, r router.Resizer, steps []step) router.Resizer {
	t.Helper()
	for i, s := range steps {
		obs := router.Observation{Now: t0.Add(s.at), Mailboxes: s.mailboxes, Routed: s.routed}
		got, next := r.Resize(obs)
		// Pure: the same resizer and observation give the same answer.
		if again, _ := r.Resize(obs); again != got {
			t.Fatalf("step %d: Resize is not pure: %d then %d", i, got, again)
		}
		if got != s.want {
			t.Fatalf("step %d (t+%v, %v, routed %d): size %d; want %d", i, s.at, s.mailboxes, s.routed, got, s.want)
		}
		r = next
	}
	return r
}

func TestOptimalSizeExploringResizerOptimizes(t *testing.T) {
	r := router.OptimalSizeExploringResizer{
		ActionInterval:         10 * time.Second,
		ExplorationProbability: router.Off, // optimize only
	}
	last := run(t, r, []step{
		{0, fill(4, 5), 0, 4},                   // first check: nothing recorded yet
		{5 * time.Second, fill(4, 5), 500, 4},   // before ActionInterval: no action
		{10 * time.Second, fill(4, 5), 1000, 4}, // 1000 processed in 10 s at size 4: 10 ms each; only size known
		{20 * time.Second, fill(6, 5), 3000, 6}, // at 6: 2000 routed, queues +10: 1990 in 10 s; best is the current
		{30 * time.Second, fill(8, 5), 4000, 7}, // at 8: 990 in 10 s; best is 6: half way down, rounded away
	}).(router.OptimalSizeExploringResizer)
	want := map[int]time.Duration{
		4: 10 * time.Millisecond,
		6: 10 * time.Second / 1990,
		8: 10 * time.Second / 990,
	}
	if got := last.PerformanceLog(); !maps.Equal(got, want) {
		t.Fatalf("PerformanceLog = %v; want %v", got, want)
	}
	if got := r.PerformanceLog(); len(got) != 0 {
		t.Fatalf("the first resizer changed: %v", got)
	}
}

func TestOptimalSizeExploringResizerMovingAverage(t *testing.T) {
	r := router.OptimalSizeExploringResizer{ActionInterval: time.Second, ExplorationProbability: router.Off, WeightOfLatestMetric: 0.25}
	last := run(t, r, []step{
		{0, fill(2, 1), 0, 2},
		{time.Second, fill(2, 1), 100, 2},          // 10 ms per message
		{2 * time.Second, fill(2, 1), 100 + 50, 2}, // 20 ms: 0.75×10 + 0.25×20 = 12.5 ms
	}).(router.OptimalSizeExploringResizer)
	if got := last.PerformanceLog()[2]; got != 12500*time.Microsecond {
		t.Fatalf("moving average %v; want 12.5ms", got)
	}
}

func TestOptimalSizeExploringResizerDownsizesWhenUnderutilized(t *testing.T) {
	r := router.OptimalSizeExploringResizer{
		ActionInterval:                time.Second,
		DownsizeAfterUnderutilizedFor: time.Minute,
	}
	run(t, r, []step{
		{0, depths(5, 0, 0, 0), 0, 4},                 // streak starts: 1 busy
		{30 * time.Second, depths(2, 3, 0, 0), 10, 4}, // 2 busy at most
		{59 * time.Second, fill(4, 0), 20, 4},         // not a minute yet
		{60 * time.Second, fill(4, 0), 20, 1},         // int(2 × 0.8) = 1
		{61 * time.Second, fill(1, 3), 30, 1},         // fully utilized: the streak ends
		{122 * time.Second, depths(0), 30, 1},         // a new streak starts now
		{200 * time.Second, depths(0, 0, 0), 30, 1},   // 78 s idle, 0 busy at most: down to Lower
	})
	// A fully utilized check in the middle resets the streak.
	run(t, r, []step{
		{0, depths(5, 0), 0, 2},
		{50 * time.Second, depths(1, 1), 10, 2},
		{100 * time.Second, depths(0, 0), 10, 2}, // the streak started at 100 s
		{159 * time.Second, depths(0, 0), 10, 2},
		{160 * time.Second, depths(0, 0), 10, 1},
	})
}

func TestOptimalSizeExploringResizerExplores(t *testing.T) {
	for _, tc := range []struct {
		name   string
		r      router.OptimalSizeExploringResizer
		lo, hi int // range of the answer at size 20
	}{
		{"up", router.OptimalSizeExploringResizer{ExplorationProbability: 1, ChanceOfScalingDownWhenFull: router.Off, ExploreStepSize: 0.5}, 21, 29},
		{"down", router.OptimalSizeExploringResizer{ExplorationProbability: 1, ChanceOfScalingDownWhenFull: 1, ExploreStepSize: 0.5}, 11, 19},
		{"small step is 1", router.OptimalSizeExploringResizer{ExplorationProbability: 1, ChanceOfScalingDownWhenFull: router.Off}, 21, 21},
	} {
		for seed := uint64(0); seed < 20; seed++ {
			r := tc.r
			r.Seed = seed
			r.ActionInterval = time.Second
			first, _ := r.Resize(router.Observation{Now: t0, Mailboxes: fill(20, 2)})
			_, r1 := r.Resize(router.Observation{Now: t0, Mailboxes: fill(20, 2)})
			obs := router.Observation{Now: t0.Add(time.Second), Mailboxes: fill(20, 2), Routed: 1000}
			got, _ := r1.Resize(obs)
			if first != 20 || got < tc.lo || got > tc.hi {
				t.Fatalf("%s, seed %d: sizes %d then %d; want 20 then %d..%d", tc.name, seed, first, got, tc.lo, tc.hi)
			}
			if again, _ := r1.Resize(obs); again != got {
				t.Fatalf("%s, seed %d: the same seed explored differently: %d, %d", tc.name, seed, got, again)
			}
		}
	}
}

func TestOptimalSizeExploringResizerKeepsBounds(t *testing.T) {
	r := router.OptimalSizeExploringResizer{Lower: 2, Upper: 4, ActionInterval: time.Hour}
	run(t, r, []step{
		{0, nil, 0, 2},                 // first check, empty pool
		{time.Second, depths(0), 0, 2}, // between actions: still kept within bounds
		{time.Minute, fill(6, 1), 0, 4},
	})
}
