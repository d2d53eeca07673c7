package pubsub

import "errors"

// Errors returned by this package. Compare them with errors.Is.
var (
	// ErrInvalid: a bad argument (an empty topic or group, one with '|',
	// a nil process or handler, a process on another member); the message
	// names it.
	ErrInvalid = errors.New("pubsub: invalid argument")
	// ErrClosed: the PubSub is stopped.
	ErrClosed = errors.New("pubsub: closed")
	// ErrNotSerializable: a message that must cross members is not a
	// protobuf message (or its type is unknown to the receiver, which then
	// drops it and logs why).
	ErrNotSerializable = errors.New("pubsub: message is not a protobuf message")
	// ErrTooLarge: a message is larger, serialized, than
	// Config.MaxMessageSize.
	ErrTooLarge = errors.New("pubsub: message too large")
	// ErrNoSubscribers: no member is known here to have a subscriber for
	// the topic (or, for PublishLocal and Direct, the member has none):
	// nothing was sent. Interest spreads by replication, so a subscriber
	// that has just subscribed on another member may not be known yet.
	// Publishers that do not care may ignore it.
	ErrNoSubscribers = errors.New("pubsub: no subscribers")
	// ErrUnknownMember: Direct names a member that is not Up in the view.
	ErrUnknownMember = errors.New("pubsub: no such member")
)
