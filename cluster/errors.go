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
	// ErrMembershipStopped: Start after Stop.
	ErrMembershipStopped = errors.New("cluster: membership stopped")
)
