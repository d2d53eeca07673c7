package main

import (
	"io"
	"log/slog"

	pa "github.com/asynkron/protoactor-go/actor"
)

// quietProtoActor configures a raw proto.actor system that logs nothing, so
// both sides of a comparison do the same work.
func quietProtoActor() []pa.ConfigOption {
	return []pa.ConfigOption{pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	})}
}
