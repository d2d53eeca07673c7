// Package cluster turns a Foundation process into a cluster member: it keeps
// a membership view fed by a discovery provider (package provider), detects
// failed members, admits only members that share the cluster's secret, and
// holds the member's configuration.
//
// # Membership
//
// A Membership is fed candidate addresses by a provider and keeps this
// member's view. Members talk to each other with small UDP datagrams on
// their remoting host and port number: every HeartbeatInterval each member
// sends a heartbeat, carrying its id, address, kinds, labels and version, to
// every member and candidate address. A heartbeat is also how a member joins:
// a valid heartbeat from an unknown id admits it (Joined). Every datagram
// carries an HMAC-SHA256 over the cluster name and body under the shared
// secret; a datagram of another cluster or with a wrong secret is dropped and
// the attempt logged (at most once a minute per source).
//
// Failure detection is a pure state machine (state.go) driven with the time
// as input: no heartbeat for SuspectAfter marks a member unreachable
// (MemberUnreachable), a heartbeat makes it reachable again, and RemoveAfter
// more removes it (Removed). A graceful Stop sends a leave (peers see Left,
// never unreachable). A new run at an address replaces the old id at once.
// A removed id that is heard from again (a healed partition) joins again;
// proto.actor's member list would block it forever, which
// cluster/protocluster works around. Events reach subscribers without ever
// blocking the membership (a full subscriber loses events, counted by
// Dropped).
//
// # Configuration
//
// A Config is a plain, documented struct. Every field's zero value means "the
// default of the profile", and the field's comment says what that default is
// in each profile. Three profiles are built in, derived from one base so that
// their differences are explicit:
//
//   - development (the default): loopback only, free ports, SWIM probes
//     every 100ms (60ms ack timeout, gossip every 50ms, suspicion
//     multiplier 3) and a split-brain decision after 250ms of stability, so
//     a crashed member is removed in about two thirds of a second; no
//     secret required; mDNS discovery — a laptop cluster with zero
//     configuration;
//   - production: every interface, port 7350 for actor remoting and 7351
//     for membership gossip and grain traffic, probes every 500ms (300ms
//     timeout, gossip every 200ms, multiplier 4) and 1.5s of stability,
//     timings that ride out GC pauses and network jitter (a crashed member
//     is removed ≈4s after it crashed, with up to 10 members), a shared
//     secret of at least 16 bytes required;
//   - enterprise: production with mutual TLS required and failure detection
//     about twice as fast: probes every 250ms (150ms timeout, gossip every
//     100ms) and 1s of stability (≈2.3s).
//
// In every profile the split-brain resolver keeps the majority side
// (keep-majority); static-quorum, keep-oldest, down-all and lease-majority
// are chosen with split_brain.strategy. A crashed member's removal takes
// about: the time until a peer probes it (one probe_interval), the SWIM
// suspicion timeout (suspicion_multiplier × log10(N) × probe_interval, with
// log10(N) at least 1), then split_brain.stable_after.
//
// Development, Production, Enterprise and Preset return the presets;
// Config.WithDefaults fills a partial Config from the preset of its profile;
// Config.Validate reports every problem at once, each wrapping
// ErrInvalidConfig and naming the YAML key and what is allowed:
//
//	cluster: invalid config: probe_interval: 0s must be > 0
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
