package actor

import (
	"errors"
	"fmt"
)

type reasonKind uint8

const (
	kindNormal reasonKind = iota
	kindShutdown
	kindKilled
	kindNoProc
	kindError
)

// Reason is why a process exited, as an Erlang exit reason. The zero value
// is Normal. Compare with == for the named reasons, or use IsNormal / Err.
type Reason struct {
	kind reasonKind
	err  error
}

var (
	// Normal: the process finished its work. Linked processes are not affected.
	Normal = Reason{kind: kindNormal}
	// Shutdown: the process was asked to stop (by System.Stop, its parent or a
	// supervisor). Abnormal: it propagates over links.
	Shutdown = Reason{kind: kindShutdown}
	// Killed: the process was killed with System.Kill; it could not trap it.
	Killed = Reason{kind: kindKilled}
	// NoProc: the process did not exist when it was linked or monitored.
	NoProc = Reason{kind: kindNoProc}
)

// ErrorReason is an abnormal exit caused by err (a panic, a failed Init, an
// error returned by a handler). A nil err gives a generic error reason.
func ErrorReason(err error) Reason {
	if err == nil {
		err = errors.New("unknown error")
	}
	return Reason{kind: kindError, err: err}
}

// IsNormal reports whether r is Normal: the one reason that does not kill
// linked processes.
func (r Reason) IsNormal() bool { return r.kind == kindNormal }

// IsError reports whether r carries an error (see Err).
func (r Reason) IsError() bool { return r.kind == kindError }

// Err returns the cause of an error reason, or nil for the named reasons.
func (r Reason) Err() error { return r.err }

// Equal reports whether r and o are the same reason; error reasons are equal
// when their errors are equal.
func (r Reason) Equal(o Reason) bool { return r.kind == o.kind && r.err == o.err }

// String is "normal", "shutdown", "killed", "noproc" or "error: <cause>".
func (r Reason) String() string {
	switch r.kind {
	case kindNormal:
		return "normal"
	case kindShutdown:
		return "shutdown"
	case kindKilled:
		return "killed"
	case kindNoProc:
		return "noproc"
	default:
		return fmt.Sprintf("error: %v", r.err)
	}
}

// PanicError is the cause recorded when a handler panics: the reason is
// ErrorReason(&PanicError{...}). Match it with errors.As.
type PanicError struct {
	// Value is what the handler panicked with.
	Value any
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// Unwrap exposes a panicked error value to errors.Is / errors.As.
func (p *PanicError) Unwrap() error {
	if err, ok := p.Value.(error); ok {
		return err
	}
	return nil
}
