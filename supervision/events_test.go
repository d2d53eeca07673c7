package supervision_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/supervision"
)

// TestStuckSubscriberDoesNotDelayRestarts: a subscription nobody reads
// neither delays the supervisor's start nor its restarts; the events it
// cannot hold are dropped and counted, and another subscription still gets
// every event, in order.
func TestStuckSubscriberDoesNotDelayRestarts(t *testing.T) {
	sys := start(t)
	stuck, err := supervision.Subscribe(sys, 1) // never read
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	const crashes = 20
	reader, err := supervision.Subscribe(sys, 2*crashes+1)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	sup, err := supervision.Start(bg(), sys, supervision.Spec{
		MaxRestarts: 2 * crashes, Period: time.Hour,
		Children: []supervision.ChildSpec{spec("w", nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range crashes {
		old := children(t, sup.WhichChildren)["w"]
		crash(sys, old)
		eventually(t, 5*time.Second, func() bool {
			pid := children(t, sup.WhichChildren)["w"]
			return pid != nil && pid.Id != old.Id
		}, fmt.Sprintf("restart %d", i+1))
	}
	// WhichChildren answered with the last restarted child, so every event
	// up to its ChildRestarted has been offered: 1 start + 2 per crash.
	const total = 1 + 2*crashes
	if n, want := stuck.Dropped(), uint64(total-1); n != want {
		t.Errorf("stuck subscription dropped %d events, want %d (buffer 1 of %d)", n, want, total)
	}
	if n := len(stuck.C()); n != 1 {
		t.Errorf("stuck subscription holds %d events, want 1", n)
	}
	if n := reader.Dropped(); n != 0 {
		t.Errorf("reading subscription dropped %d events", n)
	}
	got := make([]supervision.Event, 0, total)
	for len(got) < total {
		got = append(got, <-reader.C())
	}
	if _, ok := got[0].(supervision.ChildStarted); !ok {
		t.Fatalf("first event %T, want ChildStarted", got[0])
	}
	for i := 1; i < total; i += 2 {
		_, term := got[i].(supervision.ChildTerminated)
		_, rest := got[i+1].(supervision.ChildRestarted)
		if !term || !rest {
			t.Fatalf("events %d, %d: %T, %T; want ChildTerminated then ChildRestarted", i, i+1, got[i], got[i+1])
		}
	}
}

// TestSubscriptionClose: Close closes C after the buffered events, is
// idempotent, and a closed subscription receives nothing more.
func TestSubscriptionClose(t *testing.T) {
	sys := start(t)
	sub, err := supervision.Subscribe(sys, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{spec("a", nil)}}); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	sub.Close()
	var n int
	for range sub.C() {
		n++
	}
	if n != 1 {
		t.Fatalf("%d events read after Close, want the 1 buffered", n)
	}
	if _, err := supervision.Start(bg(), sys, supervision.Spec{Children: []supervision.ChildSpec{spec("b", nil)}}); err != nil {
		t.Fatal(err) // would panic with a send on the closed channel
	}
	if sub.Dropped() != 0 {
		t.Fatalf("a closed subscription counted %d drops", sub.Dropped())
	}
}

func TestSubscribeInvalid(t *testing.T) {
	if _, err := supervision.Subscribe(nil, 1); !errors.Is(err, supervision.ErrInvalidSpec) {
		t.Errorf("nil system: %v", err)
	}
	sys := start(t)
	if _, err := supervision.Subscribe(sys, -1); !errors.Is(err, supervision.ErrInvalidSpec) {
		t.Errorf("negative buffer: %v", err)
	}
	idle, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supervision.Subscribe(idle, 1); !errors.Is(err, actor.ErrStopped) {
		t.Errorf("system not started: %v", err)
	}
}
