package grain

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Compare them with errors.Is.
//
// A call is delivered at most once: a request that reached a grain's
// Receive is never run again by Foundation. Errors fall in two classes:
//
//   - Not delivered, safe to retry: ErrUnknownKind, ErrNoMemberForKind,
//     ErrInvalid, ErrNotSerializable (of the request), ErrStopped, and
//     ErrTimeout when it does not also match ErrOutcomeUnknown (the
//     deadline passed before the request was sent: no member to place it
//     on, or the views did not agree in time).
//   - Outcome unknown or handled: ErrOutcomeUnknown (the request was sent
//     and the connection was lost, or the deadline passed, before the
//     answer came: Receive may or may not have run), ErrActivationCrashed
//     (Receive panicked: it ran, partly), ErrRemote and any error Receive
//     returned (it ran), ErrActivationFailed (OnActivate failed: Receive
//     did not run, but OnActivate's effects happened), ErrBadReply (it ran).
//
// Within its deadline a call retries on its own everything that happened
// before its request was sent (a topology change, a passivated or moving
// activation, a member that is not ready): those never surface.
var (
	// ErrUnknownKind: the kind was never declared on this member
	// (Config.Kinds), or the member that received the call does not host it.
	ErrUnknownKind = errors.New("grain: unknown kind")
	// ErrNoMemberForKind: no member of the current view can host the kind
	// (none declares it, none matches its role, or a Local kind is not
	// hosted by the caller).
	ErrNoMemberForKind = errors.New("grain: no member hosts the kind")
	// ErrTimeout: the call's deadline passed (it also matches
	// context.DeadlineExceeded). When the request had been sent, the error
	// also matches ErrOutcomeUnknown. A call whose context is canceled
	// returns an error matching context.Canceled instead, never ErrTimeout.
	ErrTimeout = errors.New("grain: call timed out")
	// ErrOutcomeUnknown: the request was sent but no answer came (the
	// connection to the grain's member was lost, or the deadline passed):
	// the grain may or may not have handled it. It is not retried.
	ErrOutcomeUnknown = errors.New("grain: outcome unknown")
	// ErrActivationCrashed: the grain's Receive panicked on the request;
	// the activation ended (the next call activates it again). The request
	// is not retried.
	ErrActivationCrashed = errors.New("grain: activation crashed")
	// ErrActivationFailed: OnActivate returned an error, which is wrapped
	// (locally) or quoted (from another member).
	ErrActivationFailed = errors.New("grain: activation failed")
	// ErrInvalid: a bad argument or configuration; the message names it.
	ErrInvalid = errors.New("grain: invalid argument")
	// ErrNotSerializable: a message or reply that must cross members is not
	// a protobuf message.
	ErrNotSerializable = errors.New("grain: message is not a protobuf message")
	// ErrBadReply: the reply is not of the type the reference expects.
	ErrBadReply = errors.New("grain: reply of the wrong type")
	// ErrStopped: the host is stopped or stopping.
	ErrStopped = errors.New("grain: host stopped")
	// ErrRemote: the grain returned an error on another member; the message
	// carries its text.
	ErrRemote = errors.New("grain: remote grain error")
)

// errRetry marks transient failures that a call retries within its
// deadline because nothing was delivered: a topology change, a connection
// that could not be opened, a passivated activation.
type errRetry struct {
	why string
	err error // the cause, if any
}

func (e *errRetry) Error() string { return "grain: retry: " + e.why }

func (e *errRetry) Unwrap() error { return e.err }

func retry(why string) error { return &errRetry{why: why} }

// retryErr is a retry caused by err.
func retryErr(why string, err error) error { return &errRetry{why: why + ": " + err.Error(), err: err} }

func isRetry(err error) bool {
	var r *errRetry
	return errors.As(err, &r)
}

// errUnknownOutcome is ErrOutcomeUnknown with why.
func errUnknownOutcome(why string) error { return fmt.Errorf("%w: %s", ErrOutcomeUnknown, why) }
