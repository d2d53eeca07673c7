package cluster

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// mlLog carries memberlist's log lines ("[WARN] memberlist: ...") to zap at
// their level. Lines that SWIM prints in normal operation of a partition or
// a failure (a failed probe, a refuted suspicion) go to debug: the
// membership logs the outcome (unreachable, removed) itself. Packets from
// another cluster or with another secret are logged as rejected, at most
// once a minute.
type mlLog struct {
	log *zap.Logger
	now func() time.Time

	mu   sync.Mutex
	last time.Time
}

var mlLevels = []struct {
	prefix string
	level  zapcore.Level
}{
	{"[DEBUG]", zapcore.DebugLevel}, {"[INFO]", zapcore.InfoLevel}, {"[WARN]", zapcore.WarnLevel},
	{"[ERR]", zapcore.ErrorLevel}, {"[ERROR]", zapcore.ErrorLevel},
}

// mlRoutine are fragments of lines SWIM prints in normal operation.
var mlRoutine = []string{
	"Failed UDP ping", "Failed fallback ping", "Was able to connect to", "Suspect ", "Marking ",
	"Refuting a", "ignoring alive message", "Got ping for unexpected node", "Failed to send",
	"Push/Pull with", "Failed to receive", "Initiating push/pull sync", "Stream connection",
	"Failed to push local state", "Failed to read", "Failed to start stream", "Failed to write",
	"Error reading stream", "Failed to handle", "Failed fallback TCP ping",
}

func (w *mlLog) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	lvl := zapcore.InfoLevel
	for _, l := range mlLevels {
		if i := strings.Index(line, l.prefix); i >= 0 {
			lvl = l.level
			line = strings.TrimSpace(line[i+len(l.prefix):])
			break
		}
	}
	switch {
	case strings.Contains(line, "decrypt") || strings.Contains(line, "label"):
		now := w.now()
		w.mu.Lock()
		quiet := now.Sub(w.last) < time.Minute
		if !quiet {
			w.last = now
		}
		w.mu.Unlock()
		if quiet {
			return len(p), nil
		}
		w.log.Warn("membership: rejected a packet (another cluster or a wrong secret)", zap.String("swim", line))
		return len(p), nil
	default:
		for _, r := range mlRoutine {
			if strings.Contains(line, r) {
				lvl = zapcore.DebugLevel
				break
			}
		}
	}
	if ce := w.log.Check(lvl, "swim: "+line); ce != nil {
		ce.Write()
	}
	return len(p), nil
}
