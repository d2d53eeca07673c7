package grain_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
)

// A 3+2 partition of all traffic (SWIM, grain calls, remoting) under
// keep-majority while every member keeps calling: the 2 side fences and
// downs itself, the 3 side removes it and takes its grains, and no
// singleton or partitioned identity is ever live on both sides — at any
// instant, not only at the end. After the heal the cluster re-forms and
// every identity is reachable again from every member.
func TestPartitionNeverRunsAnIdentityOnBothSides(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 5, func(int) []grain.Kind {
		return []grain.Kind{counterKind(reg, "single", grain.Singleton), counterKind(reg, "part", grain.Partitioned)}
	})
	c.WaitServing(t, 10*time.Second)
	const ids = 20
	key := func(i int) (string, string) {
		if i%4 == 0 {
			return "single", fmt.Sprintf("s%d", i)
		}
		return "part", fmt.Sprintf("p%d", i)
	}
	for i := 0; i < ids; i++ {
		kind, id := key(i)
		add(t, c.Host(i%5), kind, id)
	}

	// Every member calls every identity in a loop, through the partition.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for m := 0; m < 5; m++ {
		h := c.Host(m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				kind, id := key(i % ids)
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				_, err := grain.Get[*wrapperspb.StringValue](h, kind, id).Call(ctx, wrapperspb.Int64(1))
				cancel()
				if err != nil {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	t0 := time.Now()
	c.Split([]int{0, 1, 2}, []int{3, 4})
	eventually(t, func() bool {
		for i, m := range c.Running() {
			v := m.Membership.View()
			if i < 3 && (v.Self != cluster.Serving || len(v.Members) != 3) {
				return false
			}
			if i >= 3 && v.Self != cluster.Downed {
				return false
			}
		}
		return true
	}, 10*time.Second, "the 2 side downs itself and the 3 side removes it")
	t.Logf("split decided after %v", time.Since(t0))
	// The majority serves every identity.
	for i := 0; i < ids; i++ {
		kind, id := key(i)
		eventually(t, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := grain.Get[*wrapperspb.StringValue](c.Host(0), kind, id).Call(ctx, wrapperspb.Int64(1))
			return err == nil
		}, 5*time.Second, "the majority serves "+kind+"/"+id)
	}
	// The minority hosts nothing exclusive.
	for _, m := range []int{3, 4} {
		if n := c.Host(m).Activations(); n != 0 {
			t.Fatalf("downed member %d still has %d activations", m, n)
		}
	}
	c.Network.HealAll()
	c.WaitServing(t, 15*time.Second)
	c.WaitViews(t, 5, 5*time.Second)
	for i := 0; i < ids; i++ {
		kind, id := key(i)
		for m := 0; m < 5; m++ {
			eventually(t, func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_, err := grain.Get[*wrapperspb.StringValue](c.Host(m), kind, id).Call(ctx, wrapperspb.Int64(1))
				return err == nil
			}, 5*time.Second, fmt.Sprintf("member %d reaches %s/%s after the heal", m, kind, id))
		}
	}
	close(stop)
	wg.Wait()
	if n, which := reg.maxActive("single", "part"); n > 1 {
		t.Fatalf("%s was live %d times at once", which, n)
	}
	if d := reg.duplicates("single", "part"); len(d) > 0 {
		t.Fatalf("duplicates at rest: %v", d)
	}
	t.Logf("%d calls succeeded, %d failed (the minority's and the ones cut by the split)", ok.Load(), failed.Load())
}

// A grain that panics on a request: the caller gets ErrActivationCrashed
// once, the request is not run again, and the next call activates the grain
// once more — locally and from another member.
func TestPanicIsReportedOnceAndNotRetried(t *testing.T) {
	reg := newRegistry()
	var runs atomic.Int64
	c := startCluster(t, 2, func(int) []grain.Kind {
		return []grain.Kind{{Name: "p", Placement: grain.Partitioned, New: func(string) grain.Grain {
			return &panicky{counter: counter{reg: reg}, runs: &runs}
		}}}
	})
	c.WaitServing(t, 10*time.Second)
	for _, from := range []int{0, 1} { // one of the two calls is remote
		id := fmt.Sprintf("id%d", from)
		key := "p/" + id
		add(t, c.Host(0), "p", id) // activate it
		runs0 := runs.Load()
		_, err := grain.Get[*wrapperspb.Int64Value](c.Host(from), "p", id).Call(ctxT(t, 5*time.Second), wrapperspb.String("panic"))
		if !errors.Is(err, grain.ErrActivationCrashed) {
			t.Fatalf("from member %d: %v, want ErrActivationCrashed", from, err)
		}
		if errors.Is(err, grain.ErrOutcomeUnknown) {
			t.Fatalf("a crash is not an unknown outcome: %v", err)
		}
		if n := runs.Load() - runs0; n != 1 {
			t.Fatalf("the panicking request ran %d times", n)
		}
		crashed := reg.eventCount()
		add(t, c.Host(from), "p", id) // the next call works on a fresh activation
		// After the crash's deactivation, one activation: the crashed
		// request was not retried on it. (A move caused by a membership
		// flap before the crash is not the crash's doing: counted from the
		// crash on.)
		if n := reg.activationsSince(key, crashed); n != 1 {
			reg.mu.Lock()
			t.Fatalf("%d activations of %s after the crash, want 1; events: %v", n, key, reg.events)
		}
	}
}

type panicky struct {
	counter
	runs *atomic.Int64
}

func (p *panicky) Receive(ctx *grain.Context, msg any) (any, error) {
	if s, ok := msg.(*wrapperspb.StringValue); ok && s.Value == "panic" {
		p.runs.Add(1)
	}
	return p.counter.Receive(ctx, msg)
}

// With SerializeMessages (graintest's default), a message that could not
// cross members fails on the caller's own member too.
func TestSerializeMessagesFailsLocallyAsInACluster(t *testing.T) {
	reg := newRegistry()
	c := startCluster(t, 1, func(int) []grain.Kind {
		return []grain.Kind{{Name: "l", Placement: grain.Local, New: func(string) grain.Grain { return &counter{reg: reg} }}}
	})
	type notProto struct{ n int }
	_, err := grain.Get[any](c.Host(0), "l", "x").Call(ctxT(t, 2*time.Second), notProto{1})
	if !errors.Is(err, grain.ErrNotSerializable) {
		t.Fatalf("got %v, want ErrNotSerializable", err)
	}
	if err := grain.Get[any](c.Host(0), "l", "x").Tell(context.Background(), notProto{1}); !errors.Is(err, grain.ErrNotSerializable) {
		t.Fatalf("Tell: got %v, want ErrNotSerializable", err)
	}
}
