package router_test

import (
	"testing"
	"time"

	"github.com/foundation-go/foundation/router"
)

// Whatever they observe, valid resizers answer a size within their bounds
// and never panic.
//
//	go test -fuzz FuzzResizersKeepBounds ./router/
func FuzzResizersKeepBounds(f *testing.F) {
	f.Add(uint8(1), uint8(10), []byte{0, 1, 2, 3}, uint64(100), int64(time.Second), 0.5)
	f.Add(uint8(3), uint8(3), []byte{}, uint64(0), int64(0), 0.0)
	f.Add(uint8(0), uint8(0), []byte{255, 255, 255}, uint64(1<<40), int64(time.Hour), 1.0)
	f.Add(uint8(2), uint8(40), []byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, uint64(7), int64(-time.Minute), 0.1)
	f.Fuzz(func(t *testing.T, lower, upper uint8, raw []byte, routed uint64, step int64, p float64) {
		mailboxes := make([]int, len(raw))
		for i, b := range raw {
			mailboxes[i] = int(b) - 16 // some unknown (< 0)
		}
		check := func(name string, r router.Resizer, lo, hi int) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range 4 {
				size, next := r.Resize(router.Observation{Now: now, Mailboxes: mailboxes, Routed: routed + uint64(i)*routed})
				if size < lo || size > hi {
					t.Fatalf("%s: size %d outside [%d, %d]", name, size, lo, hi)
				}
				r = next
				now = now.Add(time.Duration(step))
			}
		}
		d := router.DefaultResizer{Lower: int(lower), Upper: int(upper), BackoffThreshold: p, RampupRate: p}
		if d.Validate() == nil {
			lo, hi := d.Bounds()
			check("DefaultResizer", d, lo, hi)
		}
		o := router.OptimalSizeExploringResizer{Lower: int(lower), Upper: int(upper), ExplorationProbability: p, ChanceOfScalingDownWhenFull: p,
			ActionInterval: time.Second, DownsizeAfterUnderutilizedFor: time.Minute}
		if o.Validate() == nil {
			lo, hi := o.Bounds()
			check("OptimalSizeExploringResizer", o, lo, hi)
		}
	})
}
