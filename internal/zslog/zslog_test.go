package zslog

import (
	"errors"
	"log/slog"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestRoutesIntoZapCore(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := New(zap.New(core))
	l.Debug("hidden")
	l.With("system", "s1").WithGroup("g").Info("hello", slog.Int("n", 3), slog.Any("err", errors.New("boom")))
	l.Error("bad")
	got := logs.All()
	if len(got) != 2 {
		t.Fatalf("want 2 entries (debug filtered by zap's level), got %d", len(got))
	}
	m := got[0].ContextMap()
	if got[0].Message != "hello" || m["system"] != "s1" || m["g.n"] != int64(3) || m["g.err"] != "boom" {
		t.Fatalf("unexpected entry %+v %v", got[0].Entry, m)
	}
	if got[0].LoggerName != "protoactor" || got[1].Level != zapcore.ErrorLevel {
		t.Fatalf("unexpected name/level %q %v", got[0].LoggerName, got[1].Level)
	}
}

func TestNilLoggerDiscards(t *testing.T) {
	New(nil).Error("nothing happens")
}
