package actor

import (
	"context"
	"testing"
	"time"
)

// The engine's inbound stream table is found: an engine whose layout
// changed fails here instead of silently losing the shutdown guard.
func TestReaderStreamsFound(t *testing.T) {
	s, err := NewSystem(WithRemote("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	}()
	if _, ok := readerStreams(s.remote); !ok {
		t.Fatal("the engine's endpointReaderConnections table was not found")
	}
}
