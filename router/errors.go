package router

import "errors"

// Errors returned by this package. Compare them with errors.Is: the errors
// actually returned wrap these with the field, strategy or routee concerned.
// A Call or ScatterGather whose context ends first returns actor.ErrTimeout
// or actor.ErrCanceled, as actor.Call does; a routee's own error is
// returned as it is (actor.ErrNoProcess, actor.ErrBadReply, a handler's
// error).
var (
	// ErrNoRoutees: the routee set is empty (an empty Group, a Pool that was
	// stopped or whose supervisor gave up). Tell, Broadcast and every Call
	// return it at once.
	ErrNoRoutees = errors.New("router: no routees")
	// ErrNoKeyFunc: ConsistentHash was given a nil KeyFunc. New and NewPool
	// return it; pass a KeyFunc, or MessageKey for messages that implement
	// ConsistentHashable.
	ErrNoKeyFunc = errors.New("router: consistent hash has no key function")
	// ErrNoKey: the consistent hash KeyFunc found no key in the message.
	ErrNoKey = errors.New("router: message has no hash key")
	// ErrBadPick: a Strategy returned an index outside the routee slice.
	ErrBadPick = errors.New("router: strategy picked no routee")
	// ErrAllFailed: every routee tried by ScatterGather or TailChop answered
	// with an error; the errors are joined in the returned error.
	ErrAllFailed = errors.New("router: every routee failed")
	// ErrInvalid: an argument was malformed (nil system, nil routee source,
	// nil PID, negative interval...). The message names it and what is
	// allowed.
	ErrInvalid = errors.New("router: invalid argument")
	// ErrInvalidResizer: a resizer's or a PoolConfig's field is out of range
	// (bounds, rates, intervals). The message names the field and what is
	// allowed.
	ErrInvalidResizer = errors.New("router: invalid resizer")
	// ErrStopped: the Pool was stopped.
	ErrStopped = errors.New("router: pool stopped")
)
