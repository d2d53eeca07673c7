package actor_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"

	"github.com/foundation-go/foundation/actor"
)

type seq struct{ from, n int }

// TestMailboxKeepsEverySendersOrder: four senders flood one actor at once;
// every message arrives, and each sender's messages arrive in the order
// they were sent.
func TestMailboxKeepsEverySendersOrder(t *testing.T) {
	s := start(t)
	const senders, each = 4, 50_000
	var last [senders]int
	var got atomic.Int64
	var bad atomic.Value
	pid, err := s.Spawn(func(c actor.Context) {
		m, ok := c.Message().(seq)
		if !ok {
			return
		}
		if m.n != last[m.from]+1 && bad.Load() == nil {
			bad.Store(m)
		}
		last[m.from] = m.n
		got.Add(1)
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for f := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; n <= each; n++ {
				s.Tell(pid, seq{f, n})
			}
		}()
	}
	wg.Wait()
	eventually(t, 10*time.Second, func() bool { return got.Load() == senders*each }, "every message handled")
	if m := bad.Load(); m != nil {
		t.Fatalf("out of order: %+v", m)
	}
}

// TestKillOvertakesAQueue: a kill is handled before the user messages
// queued ahead of it, as in the engine's own mailbox.
func TestKillOvertakesAQueue(t *testing.T) {
	s := start(t)
	release := make(chan struct{})
	var handled atomic.Int64
	pid, err := s.Spawn(func(c actor.Context) {
		if _, ok := c.Message().(seq); ok {
			if handled.Add(1) == 1 {
				<-release
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	const queued = 100_000
	for n := range queued {
		s.Tell(pid, seq{0, n})
	}
	eventually(t, 5*time.Second, func() bool { return handled.Load() == 1 }, "the first message is being handled")
	if err := s.Kill(pid); err != nil {
		t.Fatal(err)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Wait(ctx, pid); err != nil {
		t.Fatal(err)
	}
	if n := handled.Load(); n >= queued/2 {
		t.Fatalf("%d of %d queued messages handled before the kill took effect", n, queued)
	}
}

// batch is a proto.actor MessageBatch.
type batch struct{ msgs []any }

func (b batch) GetMessages() []any { return b.msgs }

var _ pa.MessageBatch = batch{}

// TestMessageBatchIsUnpacked: as with the engine's mailbox, a MessageBatch
// delivers its messages one by one, then itself.
func TestMessageBatchIsUnpacked(t *testing.T) {
	s := start(t)
	got := make(chan any, 8)
	pid, err := s.Spawn(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string, batch:
			got <- m
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Tell(pid, batch{msgs: []any{"a", "b"}})
	for _, want := range []string{"a", "b", "batch"} {
		select {
		case m := <-got:
			if _, isBatch := m.(batch); (want == "batch") != isBatch || (!isBatch && m != want) {
				t.Fatalf("got %v, want %s", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s never arrived", want)
		}
	}
}

// TestMailboxAfterABurstStaysUsable: a burst larger than the recycled
// buffer, then single messages, are all handled.
func TestMailboxAfterABurstStaysUsable(t *testing.T) {
	s := start(t)
	var got atomic.Int64
	pid, err := s.Spawn(func(c actor.Context) {
		if _, ok := c.Message().(seq); ok {
			got.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for round := range 3 {
		n := 20_000
		if round > 0 {
			n = 1
		}
		for i := range n {
			s.Tell(pid, seq{0, i})
		}
		total += int64(n)
		eventually(t, 5*time.Second, func() bool { return got.Load() == total }, "the burst handled")
	}
}
