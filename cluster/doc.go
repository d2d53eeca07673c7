// Package cluster turns a Foundation process into a cluster member: it keeps
// a membership view (SWIM gossip, fed join candidates by a discovery
// provider), detects failed members, resolves network partitions, admits
// only members that share the cluster's secret, carries the authenticated
// member-to-member streams of the layers above on one cluster port, and
// holds the member's configuration.
//
// # Membership
//
// A Membership is SWIM gossip (github.com/hashicorp/memberlist): each member
// probes one other member per ProbeInterval, asks others to probe indirectly
// when the direct probe fails, and suspects before it condemns — a suspected
// member has a suspicion timeout (Lifeguard) to refute, and gossip spreads
// joins, suspicions, failures and leaves to every member within a few
// rounds. Membership is therefore transitive: a provider (package provider)
// only feeds candidate addresses, and one reachable candidate is enough to
// join; every member learns of every other through gossip. A member none of
// whose candidates answer forms a cluster of its own after JoinTimeout (at
// once when it has the lowest address among them, or has none).
//
// Everything between two members goes through one cluster port, TCP and UDP
// on one port number: SWIM's packets (UDP, encrypted and authenticated with
// a key derived from the cluster name and secret: a stranger's packets are
// dropped and logged) and streams (TCP), and the streams of the layers
// above, such as grain calls (Handle, Dial). Every stream opens with a
// challenge-response handshake proving the cluster secret (a recorded
// handshake cannot be replayed; a stranger can make a member allocate no
// more than 4 KiB) and runs over mutual TLS when configured. A connection
// the cluster port refuses means the member's process is gone: it is
// removed at once, in well under a second after a kill -9.
//
// On top of SWIM's verdicts the view keeps what Foundation places grains
// by (view.go, a pure state machine driven with the time as input):
// SWIM's declared failures make a member Unreachable (MemberUnreachable),
// and it stays in the view until it answers again (MemberReachable) or the
// split-brain resolver removes it (Removed). A graceful Stop announces the
// leave (peers see Left, never unreachable). A new run at a member's
// address replaces the old id. Every event carries the view's epoch. Events
// reach subscribers without ever blocking the membership (a full subscriber
// loses events, counted by Dropped); Await waits for a condition of the
// view, such as AtLeast(n) or HostingKind(kind, n).
//
// # Split brain
//
// When members stop answering, a side of a partition cannot tell a crash
// from a cut. Once the set of members it cannot reach has been stable for
// StableAfter, the resolver (resolver.go, a pure function) decides, with
// the strategy of ResolverConfig (Akka's): keep-majority (the default),
// static-quorum, keep-oldest, down-all, or lease-majority. The surviving
// side removes the others; the losing side downs itself (SelfStatus
// Downed): it hosts no exclusive grains, is not Ready, and keeps trying to
// rejoin, serving again once it reaches every member of its view.
//
// So that the two sides never both run an exclusive grain, a member that
// cannot see enough of the cluster to survive fences itself at once
// (Fenced), before the other side could have decided: when its own probes
// start failing (Lifeguard's local health) it probes every member directly,
// and if too few answer it stops its exclusive grains immediately. Fencing
// and downing oneself use these direct probes; downing others uses only
// SWIM's corroborated verdicts, so an asymmetric link (A cannot reach C,
// but B reaches both) downs nobody.
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
//     timeout, gossip every 200ms, multiplier 2) and 500ms of stability,
//     timings that ride out GC pauses and network jitter of up to about 2s
//     while a lost host is removed ≈2.5s after it vanished (with up to 10
//     members), a shared secret of at least 16 bytes required;
//   - enterprise: production with mutual TLS required and failure detection
//     about twice as fast: probes every 250ms (150ms timeout, gossip every
//     100ms, multiplier 2) and 500ms of stability (≈1.3s).
//
// In every profile the split-brain resolver keeps the majority side
// (keep-majority); static-quorum, keep-oldest, down-all and lease-majority
// are chosen with split_brain.strategy. A lost host's removal takes about:
// the time until a peer probes it (up to one probe_interval), the probe
// (one probe_interval with its indirect probes), the SWIM suspicion timeout
// (suspicion_multiplier × log10(N) × probe_interval, with log10(N) at least
// 1), then split_brain.stable_after. A killed process is removed as soon as
// a peer's connection to its port is refused.
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
// test — and never directly. docs/reference/configuration-options.md lists
// every key, its variable and its default in each profile.
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
