package cluster

import "errors"

// Errors returned by this package. Compare with errors.Is: the errors
// actually returned wrap these and name the field or key concerned.
var (
	// ErrInvalidConfig: a configuration value is missing, malformed or out of
	// range — in a Config given to Validate, in a configuration file (syntax
	// error, unknown key, value of the wrong type) or in a FOUNDATION_*
	// environment variable. The message names the YAML key (or the variable)
	// and what is allowed, e.g.
	//
	//	cluster: invalid config: probe_interval: 0s must be > 0
	//
	// Validate and LoadConfig report every problem they find at once
	// (errors.Join), one per line.
	ErrInvalidConfig = errors.New("cluster: invalid config")
	// ErrConfigFile: the configuration file given to LoadConfig could not be
	// read. The error also wraps the operating system's error, so
	// errors.Is(err, fs.ErrNotExist) tells a missing file.
	ErrConfigFile = errors.New("cluster: cannot read config file")
	// ErrMembershipConfig: a MembershipConfig field is unusable; the message
	// names it.
	ErrMembershipConfig = errors.New("cluster: invalid membership configuration")
	// ErrMembershipStopped: Start after Stop, or Dial after Stop.
	ErrMembershipStopped = errors.New("cluster: membership stopped")

	// Errors of Membership.Dial, the member-to-member streams of the
	// cluster port. Only ErrHandshake and a failed dial of a live member
	// (a timeout) leave the member's state unknown; the others say the
	// stream was not opened and why.

	// ErrUnknownMember: no member with that id is in the view.
	ErrUnknownMember = errors.New("cluster: no such member in the view")
	// ErrMemberGone: the member's cluster port refuses connections (its
	// process is gone) or another run of a member answers there. The
	// membership removes it at once.
	ErrMemberGone = errors.New("cluster: member is gone")
	// ErrMemberLeaving: the member is leaving the cluster gracefully.
	ErrMemberLeaving = errors.New("cluster: member is leaving")
	// ErrNoHandler: the member does not serve that protocol (yet: layers
	// register their protocols as they start).
	ErrNoHandler = errors.New("cluster: member does not serve the protocol")
	// ErrHandshake: the stream's handshake failed: another cluster, a wrong
	// secret, a malformed or oversized handshake message, or a timeout.
	ErrHandshake = errors.New("cluster: stream handshake failed")
)
