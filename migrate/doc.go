// Package migrate moves proto.actor cluster programs onto Foundation
// without rewriting their actors.
//
// GrainKind runs a proto.actor cluster.Kind — its Props, its cluster
// middleware, *cluster.ClusterInit on activation — as a Foundation grain
// kind: Foundation's membership, placement and one-activation-per-identity
// directory replace proto.actor's cluster provider and identity lookup, and
// the actor code stays as it was. Install registers a proto.actor Cluster
// on the member's actor system whose Request and RequestFuture call
// Foundation grains, so cluster.GetCluster(system).Request(...) and
// generated grain clients keep working, inside grains and out.
//
// What changes for the program: it starts with foundation.Start (with the
// kinds from GrainKind) instead of cluster.New(...).StartMember(), and the
// cluster is configured as Foundation's
// (docs/getting-started/migration-guide.md maps proto.actor's settings).
// Calls are at most once, as every grain call in Foundation (proto.actor's
// Request retries, which may run a request twice).
package migrate
