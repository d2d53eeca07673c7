package supervision

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Compare them with errors.Is: the errors
// actually returned wrap these with the child, field or PID concerned. Calls
// to a supervisor that has exited return actor.ErrNoProcess.
var (
	// ErrInvalidSpec: a Spec, DynamicSpec or ChildSpec is malformed, or an
	// argument is (a nil system, a negative Subscribe buffer). The message
	// names the field and what is allowed.
	ErrInvalidSpec = errors.New("supervision: invalid spec")
	// ErrStartFailed: a child failed to start (its StartFunc returned an
	// error or panicked). The error is a *StartError naming the child and
	// wrapping the cause.
	ErrStartFailed = errors.New("supervision: child failed to start")
	// ErrNotFound: no child with that ID (or PID, for a Dynamic supervisor).
	ErrNotFound = errors.New("supervision: no such child")
	// ErrAlreadyStarted: StartChild with the ID of a running child.
	ErrAlreadyStarted = errors.New("supervision: child already started")
	// ErrAlreadyPresent: StartChild with the ID of a child that is not
	// running but whose spec is kept; use RestartChild or DeleteChild.
	ErrAlreadyPresent = errors.New("supervision: child spec already present")
	// ErrRunning: RestartChild or DeleteChild of a running child; call
	// TerminateChild first.
	ErrRunning = errors.New("supervision: child is running")
	// ErrRestarting: RestartChild or DeleteChild of a child whose delayed
	// restart is pending.
	ErrRestarting = errors.New("supervision: child is restarting")
	// ErrMaxChildren: a Dynamic supervisor already has MaxChildren children.
	ErrMaxChildren = errors.New("supervision: max children reached")
	// ErrUnsupported: an operation of a static supervisor sent to a Dynamic
	// one, or the other way round (see SupervisorAt and DynamicAt).
	ErrUnsupported = errors.New("supervision: operation not supported by this supervisor")
)

// StartError is the error of a child that failed to start, at Start (the
// children started before it were stopped again, in reverse order), at
// StartChild or RestartChild. It matches ErrStartFailed and unwraps to the
// cause.
type StartError struct {
	// ID is the child that failed.
	ID string
	// Err is why: the StartFunc's error, for a Server the Init error (see
	// actor.ErrInitFailed), or a nested supervisor's *StartError.
	Err error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("supervision: child %q failed to start: %v", e.ID, e.Err)
}

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

// Is makes a StartError match ErrStartFailed.
func (e *StartError) Is(target error) bool { return target == ErrStartFailed }
