package actor_test

import (
	"context"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"

	"github.com/foundation-go/foundation/actor"
)

type echoServer struct{ actor.ServerBase }

func (echoServer) HandleCall(_ actor.Process, req any) (any, error) { return req, nil }

func BenchmarkCallLocal(b *testing.B) {
	s, _ := actor.NewSystem()
	_ = s.Start(context.Background())
	defer s.Stop(context.Background())
	pid, _ := s.Spawn(echoServer{})
	ctx := context.Background()
	req := &struct{}{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := actor.Call[*struct{}](ctx, s, pid, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestFutureProtoActor(b *testing.B) {
	sys := pa.NewActorSystem()
	defer sys.Shutdown()
	pid := sys.Root.Spawn(pa.PropsFromFunc(func(c pa.Context) {
		if m, ok := c.Message().(*struct{}); ok {
			c.Respond(m)
		}
	}))
	req := &struct{}{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sys.Root.RequestFuture(pid, req, 5e9).Result(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTellLocal(b *testing.B) {
	s, _ := actor.NewSystem()
	_ = s.Start(context.Background())
	defer s.Stop(context.Background())
	done := make(chan struct{})
	n := 0
	pid, _ := s.Spawn(func(c actor.Context) {
		if _, ok := c.Message().(int); ok {
			n++
			if n == b.N {
				close(done)
			}
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Tell(pid, 1)
	}
	<-done
}

func BenchmarkTellProtoActor(b *testing.B) {
	sys := pa.NewActorSystem()
	defer sys.Shutdown()
	done := make(chan struct{})
	n := 0
	pid := sys.Root.Spawn(pa.PropsFromFunc(func(c pa.Context) {
		if _, ok := c.Message().(int); ok {
			n++
			if n == b.N {
				close(done)
			}
		}
	}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sys.Root.Send(pid, 1)
	}
	<-done
}

// BenchmarkCallLocalDeadline is BenchmarkCallLocal with a 5s deadline made
// per call, as RequestFuture(…, 5s) has one.
func BenchmarkCallLocalDeadline(b *testing.B) {
	s, _ := actor.NewSystem()
	_ = s.Start(context.Background())
	defer s.Stop(context.Background())
	pid, _ := s.Spawn(echoServer{})
	req := &struct{}{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := actor.Call[*struct{}](ctx, s, pid, req); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}
