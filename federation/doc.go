// Package federation links several clusters into one federation: a web
// tier, a processing tier and an AI tier, each its own cluster with its
// own discovery, membership, split-brain resolver and grains, calling each
// other's services. It takes from NATS superclusters (gateways between
// clusters) and leaf nodes (hub and spoke), and from Akka multi-data-center,
// with one configuration struct (or one YAML file, see ParseYAML) and a
// failover measured in hundreds of milliseconds.
//
// # Gateways and links
//
// In each cluster, members whose Config.Gateway is true (and whose member
// label LabelGateway is "true") are its gateways; run two or more. A
// gateway listens on Config.Listen and keeps a link to every gateway of
// every neighbouring cluster (the gateways of the cluster whose name sorts
// first dial, the others accept), so each pair of linked clusters has
// gateways×gateways links and the loss of one gateway leaves the links of
// the others carrying the traffic at once: nothing has to move. A link is
// mutual TLS (Config.TLS: both ends present a certificate signed by the
// CA) and then a handshake that proves the per-link secret
// (Remote.Secret) with HMAC-SHA256 over a fresh nonce from each side, so a
// recorded handshake cannot be replayed. A stranger — another CA's
// certificate, a cluster that is not a neighbour, a wrong secret — is
// refused; the refusing gateway logs its address and the reason at Warn,
// the dialling side gets ErrAuth.
//
// The other members of a cluster reach other clusters through a stream to
// each of their cluster's gateways (on the cluster port,
// cluster.ProtocolFederation: authenticated by the cluster's own secret).
//
// # Topologies and routes
//
// Topology says which clusters may link: Mesh (every pair), HubSpoke
// (every spoke with the hub; spoke to spoke goes through the hub) and
// Hierarchical (a tree; a route goes up to the common ancestor and down).
// The route table is Routes, a pure function of the topology and of which
// links are up: a shortest path over the up links, ties broken by name.
// Gateways recompute it whenever one of their links comes or goes and
// whenever another cluster announces its links.
//
// # The cluster registry
//
// Every heartbeat (Config.HeartbeatInterval, 100ms by default) each
// gateway announces its cluster — its name, its gateway, its exported
// services (Config.Exports: nothing is exported unless named) and its up
// links — to its links, which pass on what they know, and tells its own
// cluster's members which clusters it reaches and at what measured round
// trip. Clusters lists the registry as this member sees it.
//
// # Calls
//
// CallInCluster calls a service in a named cluster and SendToCluster sends
// to one; both are at most once: a request is never sent twice. A
// request that could not leave (no route, no gateway) is ErrUnreachable;
// one whose link died in flight is ErrLinkLost (outcome unknown). The
// global Call prefers this member's cluster when it has an instance, then
// the reachable clusters exporting the service by Remote.Priority and
// measured latency; it moves to the next cluster only on ErrUnreachable
// or ErrNotExported, when nothing was handled.
//
// Headers attached with actor.WithHeaders and the W3C trace context of
// ctx (traceparent) travel with the request and reach the handler as
// message headers, in every cluster on the way.
//
// # Failure and fallback
//
// Both ends of every link and stream ping each heartbeat; a link silent
// for Config.DownAfter heartbeats (3, so 300ms by default) is closed and
// routes are recomputed. A crashed cluster's links usually close at once
// (its ports refuse); a partitioned one's are down within DownAfter ×
// HeartbeatInterval. After that the global Call goes to the next cluster
// on its first try: the bound of a fallback is DownAfter × HeartbeatInterval
// plus one announcement interval for clusters more than one hop away
// (`go run ./bench federation`: 3.7 ms after a kill, 348 ms after a
// partition, with the defaults; see BENCHMARKS.md).
//
// # Grains
//
// Grains stay per cluster: a grain identity lives in the cluster whose
// grain layer placed it, each cluster has its own activations, and a
// grain.Ref never leaves its cluster. A grain of another cluster is reached
// by naming the cluster: CallGrain(ctx, f, cluster, kind, identity, msg)
// crosses to it as a call of its GrainService — which that cluster serves
// (ServeGrains on its members) and exports like any service — and is an
// ordinary grain call there, at most once.
package federation
