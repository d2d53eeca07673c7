package actor_test

import (
	"context"
	"runtime/metrics"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
)

// idle is a Server that does nothing.
type idle struct{ actor.ServerBase }

// goroutinesCreated is how many goroutines the process has started so far.
func goroutinesCreated(t *testing.T) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		// go.mod asks for a Go whose runtime has this metric.
		t.Fatalf("runtime/metrics has no /sched/goroutines-created:goroutines (kind %v)", s[0].Value.Kind())
	}
	return s[0].Value.Uint64()
}

// Stop walks the engine's process registry (1024 buckets of 32 shards)
// without a goroutine per shard: a system with a few processes stops with a
// few goroutines, not 130,000 (which took Stop seconds on a busy machine).
func TestStopWalksRegistryInPlace(t *testing.T) {
	s, err := actor.NewSystem(actor.WithLogger(zap.NewNop()), actor.WithRemote("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := s.Spawn(idle{}); err != nil {
			t.Fatal(err)
		}
	}
	spawned := goroutinesCreated(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := goroutinesCreated(t)
	if created, most := stopped-spawned, uint64(1000); created > most {
		t.Fatalf("Stop created %d goroutines; want at most %d", created, most)
	}
}
