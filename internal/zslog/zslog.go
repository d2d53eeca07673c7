// Package zslog routes log/slog records into a zap core, so that proto.actor's
// slog output and Foundation's zap output share one format and one level.
package zslog

import (
	"context"
	"log/slog"
	"runtime"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Handler is a slog.Handler writing to a zapcore.Core.
type Handler struct {
	core   zapcore.Core
	adjust Adjust
	name   string
	fields []zapcore.Field
	groups []string
}

var _ slog.Handler = (*Handler)(nil)

// Adjust may change the level of a record before it is written (for
// example to demote the engine's shutdown noise); nil keeps every level.
type Adjust func(level zapcore.Level, msg string) zapcore.Level

// New returns a slog.Logger whose records go to l's core under the logger
// name "protoactor". A nil l discards everything.
func New(l *zap.Logger, adjust Adjust) *slog.Logger {
	if l == nil {
		l = zap.NewNop()
	}
	return slog.New(&Handler{core: l.Core(), adjust: adjust, name: "protoactor"})
}

// Level maps a slog level onto zap's.
func Level(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		return zapcore.InfoLevel
	default:
		return zapcore.DebugLevel
	}
}

// Enabled reports whether the zap core logs at the record's level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	if h.adjust != nil {
		return true // the level may change once the message is known
	}
	return h.core.Enabled(Level(l))
}

// Handle writes one record.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	lvl := Level(r.Level)
	if h.adjust != nil {
		lvl = h.adjust(lvl, r.Message)
	}
	ent := zapcore.Entry{
		Level:      lvl,
		Time:       r.Time,
		Message:    r.Message,
		LoggerName: h.name,
	}
	if r.PC != 0 {
		fs := runtime.CallersFrames([]uintptr{r.PC})
		f, _ := fs.Next()
		ent.Caller = zapcore.NewEntryCaller(f.PC, f.File, f.Line, f.PC != 0)
	}
	ce := h.core.Check(ent, nil)
	if ce == nil {
		return nil
	}
	fields := make([]zapcore.Field, 0, len(h.fields)+r.NumAttrs())
	fields = append(fields, h.fields...)
	r.Attrs(func(a slog.Attr) bool {
		fields = appendAttr(fields, h.groups, a)
		return true
	})
	ce.Write(fields...)
	return nil
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.fields = append([]zapcore.Field(nil), h.fields...)
	for _, a := range attrs {
		n.fields = appendAttr(n.fields, h.groups, a)
	}
	return &n
}

// WithGroup returns a handler whose attribute keys are prefixed with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.groups = append(append([]string(nil), h.groups...), name)
	return &n
}

func appendAttr(fields []zapcore.Field, groups []string, a slog.Attr) []zapcore.Field {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return fields
	}
	key := a.Key
	for i := len(groups) - 1; i >= 0; i-- {
		key = groups[i] + "." + key
	}
	switch a.Value.Kind() {
	case slog.KindGroup:
		sub := append(append([]string(nil), groups...), a.Key)
		for _, ga := range a.Value.Group() {
			fields = appendAttr(fields, sub, ga)
		}
		return fields
	case slog.KindString:
		return append(fields, zap.String(key, a.Value.String()))
	case slog.KindInt64:
		return append(fields, zap.Int64(key, a.Value.Int64()))
	case slog.KindUint64:
		return append(fields, zap.Uint64(key, a.Value.Uint64()))
	case slog.KindFloat64:
		return append(fields, zap.Float64(key, a.Value.Float64()))
	case slog.KindBool:
		return append(fields, zap.Bool(key, a.Value.Bool()))
	case slog.KindDuration:
		return append(fields, zap.Duration(key, a.Value.Duration()))
	case slog.KindTime:
		return append(fields, zap.Time(key, a.Value.Time()))
	default:
		if err, ok := a.Value.Any().(error); ok {
			return append(fields, zap.NamedError(key, err))
		}
		return append(fields, zap.Any(key, a.Value.Any()))
	}
}
