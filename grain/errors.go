package grain

import "errors"

// Errors returned by this package. Compare them with errors.Is.
var (
	// ErrUnknownKind: the kind was never declared on this member
	// (Config.Kinds), or the member that received the call does not host it.
	ErrUnknownKind = errors.New("grain: unknown kind")
	// ErrNoMemberForKind: no member of the current view can host the kind
	// (none declares it, none matches its role, or a Local kind is not
	// hosted by the caller).
	ErrNoMemberForKind = errors.New("grain: no member hosts the kind")
	// ErrTimeout: the call's deadline passed (it also matches
	// context.DeadlineExceeded). A call whose context is canceled returns
	// an error matching context.Canceled instead, never ErrTimeout.
	ErrTimeout = errors.New("grain: call timed out")
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
// deadline: a topology change, a lost connection, a passivated activation.
type errRetry struct{ why string }

func (e *errRetry) Error() string { return "grain: retry: " + e.why }

func retry(why string) error { return &errRetry{why} }

func isRetry(err error) bool {
	var r *errRetry
	return errors.As(err, &r)
}
