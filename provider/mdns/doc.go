// Package mdns is a zero-configuration discovery back-end for development
// machines and single LANs: members announce themselves by multicast DNS
// (RFC 6762) as DNS-SD services (RFC 6763) and report each other.
//
// # What goes on the wire
//
// A member with id "m1" and address 10.0.0.1:7000 announces, in the default
// service _foundation._tcp.local.:
//
//	_foundation._tcp.local.     PTR  m1._foundation._tcp.local.
//	m1._foundation._tcp.local.  SRV  0 0 7000 m1.local.
//	m1._foundation._tcp.local.  TXT  "cluster=shop" "id=m1" "addr=10.0.0.1:7000"
//	                                 "kinds=cart,user" "version=v1" "auth=…"
//	m1.local.                   A    10.0.0.1
//
// The TXT record carries everything a peer reports; kinds too long for one
// TXT string continue in kinds2=, kinds3=, …, and auth= is present only when
// Config.Secret is set (provider.Sign of the announced fields). The records'
// TTL is ExpireAfter in whole seconds. Standard DNS-SD browsers (avahi-browse,
// dns-sd, grandcat/zeroconf) see a member as an ordinary service instance.
//
// # Announcing, expiring, leaving
//
// Start multicasts the announcement and a query; running peers answer the
// query at once, so a new member sees the others without waiting. Every
// AnnounceInterval each member announces again, and a peer not heard for
// ExpireAfter is dropped from the set — so a member that was expired (after
// lost packets, a suspended laptop) is seen again at its next announcement.
// Stop multicasts a goodbye (the same records with TTL 0) and peers drop the
// member at once. Only members whose cluster= equals self.Cluster are
// reported; with Config.Secret set, only those whose auth= verifies, and a
// goodbye must verify too.
//
// # Goroutines and sockets
//
// A started Provider owns one UDP socket bound to 224.0.0.251:5353 (shared,
// SO_REUSEADDR, with other mDNS sockets of the host), joined to the group on
// the configured interfaces, and two goroutines: one reads the socket, the
// other keeps the member set, announces, expires and calls update. Stop ends
// both and waits for them. Only IPv4 multicast is used; AAAA records are
// announced when self's host has IPv6 addresses.
//
// # grandcat/zeroconf
//
// The package speaks the same protocol as github.com/grandcat/zeroconf and is
// tested against it (its Resolver finds a Provider; a Provider reports a
// service registered with zeroconf.RegisterProxy and drops it on that
// server's goodbye), but does not use it at run time: zeroconf v1.0.0's
// Server never re-announces, and its probe goroutine outlives Shutdown by up
// to about 3.5 seconds with nothing to stop or wait for it; its Resolver
// reports each instance once per Browse and hides goodbyes (it deletes TTL 0
// records without telling the caller), so it cannot refresh or expire
// members.
//
// # Testing
//
// Multicast must not reach a real network from tests. This package's tests
// that send run each in a network namespace of its own (unshare -n, with lo
// given multicast and a 224.0.0.0/4 route), and skip with a message when not
// root or when unshare or ip is missing. Do the same in tests that start a
// Provider, and name the interface in Config.Interfaces.
package mdns
