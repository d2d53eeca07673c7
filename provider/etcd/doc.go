// Package etcd is a discovery back-end that keeps the member list in etcd
// (v3 API): each member writes its record under a key held by a lease it
// keeps alive, and watches the keys of its cluster.
//
// # What goes into etcd
//
// A member with id "m1" of cluster "shop" registers, with the default
// prefix, the key
//
//	/foundation/shop/members/m1
//
// whose value is the JSON record
//
//	{"id":"m1","address":"10.0.0.1:7000","cluster":"shop","kinds":["cart"],"version":"v1","auth":"…"}
//
// attached to a lease of Config.LeaseTTL (10s by default) that the client
// renews every third of the TTL. "auth" is present only when Config.Secret
// is set (provider.Sign of the other fields); peers then drop records that
// do not verify. etcdctl get --prefix /foundation/shop/members/ lists a
// cluster.
//
// # Registering, watching, leaving
//
// Start grants the lease, writes the record, reads every key under the
// cluster's members prefix and watches the prefix from the revision after
// that read, so that no change falls between the read and the watch. Each
// change of the member set is reported to update, from one goroutine.
//
// A member never gives up its registration while it runs. When its lease
// is lost — etcd restarted without its data, a partition longer than the
// TTL (etcd expired the lease, and the client stops renewing after a TTL
// without an answer), an operator's revoke — it registers again under a new
// lease, and reads and watches anew. When the watch ends (etcd restarted or
// lost its leader, the history the watch needed was compacted) it reads
// and watches anew. While that fails it retries, pausing from
// Config.RetryMin, doubling up to Config.RetryMax, and logs one warning
// when the trouble starts and one info line when it is over. (proto.actor's
// etcd provider did not re-register after a lost lease, so a member that
// lived through a network blip stayed invisible to its peers.)
//
// Stop ends the Provider's goroutine first, so that nothing registers the
// member again, then revokes its lease, which deletes the key: the peers'
// watches report the deletion at once. A member that crashes instead
// disappears when its lease expires, at most LeaseTTL later.
//
// # Goroutines and connections
//
// A started Provider owns one etcd client (a gRPC connection to the
// endpoints, with the goroutines of its keep-alive and watch streams) and
// one goroutine that keeps the member set and calls update. Stop ends the
// goroutine, then closes the client. The client's own logs go to
// Config.Logger at error level only.
//
// # Testing
//
// Package etcdtest starts a real etcd server (the etcd binary, apt-get
// install etcd-server) on loopback ports for tests, restarts it with or
// without its data, and puts a proxy in front of it that can cut members
// off.
package etcd
