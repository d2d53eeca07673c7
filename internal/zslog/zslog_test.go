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
	l := New(zap.New(core), nil)
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
	New(nil, nil).Error("nothing happens")
}

func TestAdjustDemotes(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := New(zap.New(core), func(lvl zapcore.Level, msg string) zapcore.Level {
		if msg == "noise" {
			return zapcore.DebugLevel
		}
		return lvl
	})
	l.Error("noise")
	l.Error("real")
	if got := logs.All(); len(got) != 1 || got[0].Message != "real" {
		t.Fatalf("got %v", got)
	}
}
