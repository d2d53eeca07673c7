// Package dns is a discovery back-end that polls DNS: the members are
// whatever a DNS name resolves to, such as a Kubernetes headless service,
// a Consul DNS name or records a deployment tool maintains.
//
// # What is resolved
//
// Every Interval the Provider asks for the SRV records of Config.Name. When
// there are some, each target's addresses (from the answer's additional
// section, or else from A and AAAA queries for the target) with the
// record's port are members; priority and weight are ignored, and a target
// of "." or a port of 0 is skipped. When Name has no SRV records, its A and
// AAAA records are the members, each with Config.Port (by default the port
// of self's address, as when every member listens on the same port). For
// a Kubernetes headless service "foundation" in namespace "default":
//
//	foundation.default.svc.cluster.local.                   A    10.1.0.7, 10.1.2.9, …
//	_remoting._tcp.foundation.default.svc.cluster.local.    SRV  0 50 7000 10-1-0-7.foundation.default.svc.cluster.local., …
//
// Name the service ("foundation.default.svc.cluster.local") and members are
// its ready pods' addresses with Config.Port; name the SRV record of a named
// port ("_remoting._tcp.…") to take the port from DNS. Do not name the
// service itself when it has several ports and the DNS server answers SRV
// queries for it (CoreDNS does): every port of every pod would be a member.
//
// Members carry only Address: DNS knows nothing of a member's id, kinds or
// cluster, and the cluster layer learns and verifies them with its join
// handshake. The set is sorted by address, may contain self, and is
// reported only when it changed.
//
// # Which server is asked
//
// Config.Servers, in order; by default the nameservers of /etc/resolv.conf,
// or 127.0.0.1:53 when it cannot be read. Name is taken as fully qualified:
// resolv.conf's search domains are not applied. A server that does not
// answer within Timeout, or answers with an error code other than NXDOMAIN
// (SERVFAIL, REFUSED, …), is skipped for the next. Queries go over UDP with
// EDNS0 (4096 bytes) and again over TCP when the answer is truncated, so a
// large service is seen whole.
//
// # Empty answers and failures
//
// NXDOMAIN and empty answers are a valid, empty member set: nobody is ready
// yet. A lookup none of the servers answers usably is a failure: the last
// set is kept, the lookup is retried after RetryMin, doubling up to
// RetryMax (each wait shortened by up to half at random), and the episode is logged twice, a warning when it starts and
// an info when lookups work again. Start is stricter: when its first lookup
// fails 1+StartRetries times it returns an error wrapping
// provider.ErrUnavailable that names the name and the servers.
//
// # Goroutines
//
// A started Provider owns one goroutine, which polls and calls update; Stop
// cancels it, closing the connection of a query in flight, and waits for
// it. There is nothing to withdraw from DNS on Stop. Package dnstest runs a
// DNS server on 127.0.0.1 whose records tests change while a Provider
// polls it.
package dns
