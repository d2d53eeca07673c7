package service

import "errors"

// Errors returned by this package. Compare them with errors.Is.
var (
	// ErrInvalid: a bad argument (an empty service name, a nil or remote
	// process, a ConsistentHash without a key function); the message names
	// it.
	ErrInvalid = errors.New("service: invalid argument")
	// ErrUnknownService: the service has no routable instance (none
	// registered, or all on members that are not Up, unhealthy, or gone).
	ErrUnknownService = errors.New("service: no such service")
	// ErrClosed: the Registry is stopped.
	ErrClosed = errors.New("service: registry closed")
)
