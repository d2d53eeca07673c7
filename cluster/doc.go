// Package cluster turns a Foundation process into a cluster member: it keeps
// a membership view fed by a discovery provider (package provider), detects
// failed members, admits only members that share the cluster's secret, and
// holds the member's configuration. The membership types document their own
// model; this overview covers configuration.
//
// # Configuration
//
// A Config is a plain, documented struct. Every field's zero value means "the
// default of the profile", and the field's comment says what that default is
// in each profile. Three profiles are built in, derived from one base so that
// their differences are explicit:
//
//   - development (the default): loopback only, a free port per member,
//     failure detection within half a second, no secret required, mDNS
//     discovery — a laptop cluster with zero configuration;
//   - production: every interface, port 7350, timings that ride out GC
//     pauses and network jitter (a crashed member is removed ≈7s after its
//     last heartbeat), a shared secret of at least 16 bytes required;
//   - enterprise: production with mutual TLS required and failure detection
//     about twice as fast (≈4s).
//
// Development, Production, Enterprise and Preset return the presets;
// Config.WithDefaults fills a partial Config from the preset of its profile;
// Config.Validate reports every problem at once, each wrapping
// ErrInvalidConfig and naming the YAML key and what is allowed:
//
//	cluster: invalid config: heartbeat_interval: 0s must be > 0
//
// No function of this package modifies a Config it is given.
//
// # Loading
//
// LoadConfig layers, from lowest to highest precedence: the preset, a YAML
// file (unknown keys are errors), FOUNDATION_* environment variables (see
// EnvVars), and an override function for options set in code. The profile is
// resolved first, since it chooses the preset. The environment is read
// through an injected lookup function — os.LookupEnv in a program, a map in a
// test — and never directly. docs/configuration.md lists every key, its
// variable and its default in each profile.
//
// # Detection
//
// Detect looks at the environment and suggests a profile and a discovery
// provider: Kubernetes, Consul, a DNS name, etcd, a seed list, or — when
// nothing is found — development with mDNS. Its Reasons say why. A Config
// whose Provider is auto resolves to the detected provider with
// Config.ResolveProvider; an override passed to LoadConfig can adopt the
// detected profile when neither the file nor the environment chose one (see
// ExampleDetect).
package cluster
