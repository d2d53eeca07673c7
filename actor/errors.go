package actor

import "errors"

// Errors returned by this package. Compare them with errors.Is: the errors
// actually returned wrap these with the PID, name or field concerned.
var (
	// ErrTimeout: a Call's context deadline passed before the reply arrived.
	// The returned error also matches context.DeadlineExceeded.
	ErrTimeout = errors.New("actor: timeout")
	// ErrCanceled: a Call's context was canceled before the reply arrived.
	// The returned error also matches context.Canceled.
	ErrCanceled = errors.New("actor: canceled")
	// ErrNoProcess: the target process is dead or was never known. Returned
	// promptly: a Call does not wait out its deadline for a dead process.
	ErrNoProcess = errors.New("actor: no such process")
	// ErrExited: the process received the call and exited before replying
	// (it crashed while handling it, or stopped with the reply deferred):
	// the call may have had effects. The error also matches ErrNoProcess
	// and wraps the crash (a *PanicError for a panic; use errors.As).
	ErrExited = errors.New("actor: process exited before replying")
	// ErrStopped: the System is stopping or stopped.
	ErrStopped = errors.New("actor: system stopped")
	// ErrNameTaken: Register or SpawnNamed with a name already in use.
	ErrNameTaken = errors.New("actor: name taken")
	// ErrBadReply: the reply to a Call is not of the type the caller asked for.
	ErrBadReply = errors.New("actor: reply of unexpected type")
	// ErrInvalid: an argument was malformed (nil PID, empty name, unknown
	// behaviour type...). The message names the argument and what is allowed.
	ErrInvalid = errors.New("actor: invalid argument")
	// ErrInitFailed: a Server's Init returned an error; Spawn wraps it.
	ErrInitFailed = errors.New("actor: init failed")
	// ErrUnhandled: a Server received a call its HandleCall does not handle.
	ErrUnhandled = errors.New("actor: unhandled call")
	// ErrRemote: the callee returned an error from another member; the
	// message carries the remote error's text.
	ErrRemote = errors.New("actor: remote error")
	// ErrNotLocal: Link, Monitor, Kill, Exit, ExitFrom, Register, Join or
	// WithLink was given the PID of a process on another member. Links,
	// monitors, names and groups are local to one System; the error is
	// returned at once, nothing is set up.
	ErrNotLocal = errors.New("actor: process is on another member")
	// ErrListen: Start could not listen on the WithRemote address (in use,
	// not an address of this host); the cause is wrapped too.
	ErrListen = errors.New("actor: cannot listen")
	// ErrNotSerializable: a message for a process on another member is not
	// a protobuf message (remoting carries only those). Call and Send
	// return it at once; nothing is sent.
	ErrNotSerializable = errors.New("actor: message is not a protobuf message")
)
