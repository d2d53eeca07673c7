package actor_test

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/actor"
)

// TestEngineLogsGoToTheZapLogger: the engine's own log lines arrive in the
// logger given with WithLogger (named "protoactor", same core and level),
// and a normal start, some work and a stop log nothing at ERROR.
func TestEngineLogsGoToTheZapLogger(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := actor.NewSystem(actor.WithLogger(zap.New(core)), actor.WithRemote("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid, err := s.Spawn(func(actor.Context) {})
	if err != nil {
		t.Fatal(err)
	}
	s.Tell(pid, "hello")
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	engine := 0
	for _, e := range logs.All() {
		if e.LoggerName == "protoactor" {
			engine++
		}
		if e.Level >= zapcore.ErrorLevel {
			t.Errorf("%s logged at %v: %s %v", e.LoggerName, e.Level, e.Message, e.ContextMap())
		}
		if e.Level < zapcore.InfoLevel {
			t.Errorf("a %v line passed an Info-level core: %s", e.Level, e.Message)
		}
	}
	if engine == 0 {
		t.Fatalf("no engine line reached the zap logger; got %d lines: %v", logs.Len(), logs.All())
	}
}

// TestRemoteAddressInUseIsErrListen: Start on a port that is taken fails
// with ErrListen wrapping the system's error, and leaves nothing running.
func TestRemoteAddressInUseIsErrListen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s, err := actor.NewSystem(actor.WithLogger(zap.NewNop()), actor.WithRemote(taken.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if !errors.Is(err, actor.ErrListen) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start on a taken port: %v; want ErrListen wrapping EADDRINUSE", err)
	}
	_ = s.Stop(context.Background())
}
