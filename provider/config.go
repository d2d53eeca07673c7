package provider

import (
	"errors"
	"fmt"
)

// FieldError is one problem with one field of a back-end's Config. The
// Validate method of every back-end's Config reports each problem it finds
// as a *FieldError, several joined with errors.Join, so that a caller can
// tell them apart: New and Validate name the Go field ("Config.TTL"), the
// cluster configuration names its YAML key ("consul.ttl").
type FieldError struct {
	// Provider names the back-end: "mdns", "consul", "k8s", "dns" or "etcd".
	Provider string
	// Field is the Config field, with the index of a list element: "TTL",
	// "Interfaces[1]".
	Field string
	// Key is the field's YAML key within the back-end's section of a
	// cluster configuration (its yaml tag), with the same index: "ttl",
	// "interfaces[1]". Empty for a field that is set only in code (tagged
	// yaml:"-": a Logger, a client, a secret, retry and timeout knobs).
	Key string
	// Missing reports that the field is required and empty. A configuration
	// that holds the settings of back-ends it may not start (the cluster's,
	// with provider auto) leaves such problems to the one it starts.
	Missing bool
	// Problem is what is wrong and what is allowed, as it follows the
	// field's name: `5ms: want at least 10ms (zero: 10s)`.
	Problem string
}

// Error returns "provider: invalid configuration: <Provider>: Config.<Field>
// <Problem>".
func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s: Config.%s %s", ErrInvalidConfig, e.Provider, e.Field, e.Problem)
}

// Unwrap returns ErrInvalidConfig.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

// FieldErrors returns the FieldErrors in err, in order: those joined in it
// with errors.Join (at any depth), or the one it is or wraps. It returns
// none for an error of another kind.
func FieldErrors(err error) []*FieldError {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, FieldErrors(e)...)
		}
		return out
	}
	if fe := (*FieldError)(nil); errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return nil
}
