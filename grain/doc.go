// Package grain runs virtual actors ("grains"): actors addressed by
// (kind, identity) that nobody starts or finds by hand. The first call to an
// identity activates it on the member its kind's placement chooses; later
// calls from any member reach that one activation, one message at a time;
// an idle activation passivates (Kind.IdleTimeout, 60s by default) and the
// next call activates it again.
//
// # Declaring and calling
//
// A kind is a name, a factory and a placement:
//
//	node, _ := foundation.Start(ctx, foundation.WithGrains(grain.Kind{
//		Name: "account",
//		New:  func(id string) grain.Grain { return &Account{} },
//	}))
//	bal, err := grain.Get[*Balance](node.Grains, "account", "alice").Call(ctx, &Deposit{Amount: 5})
//
// A Grain implements Receive; it may also implement Activator
// (OnActivate: load state; an error fails the call with
// ErrActivationFailed) and Deactivator (OnDeactivate: save state). Messages
// that cross members are protobuf messages; calls within a member pass any
// value. Ref.Call honours its ctx (Config.CallTimeout when the ctx has no
// deadline) and retries across membership changes within it. Headers put on
// the ctx with actor.WithHeaders (a request id, a trace context) reach the
// grain through Context.Header, on whichever member it runs.
//
// # Placement
//
// Partitioned (the default) hashes identities over the members hosting the
// kind (rendezvous hashing: a join or leave moves only the identities it
// wins or held). Singleton puts the kind on the oldest member hosting it.
// Role partitions over members whose labels match Kind.Role. Replicated runs
// an activation per hosting member (Ref.Broadcast reaches all), Local one on
// the caller. PreferLocal and LeastLoaded choose a member once (the caller's,
// or the least loaded) and keep the activation there: an owner member per
// identity records where in a directory.
//
// # One activation per identity
//
// Before a new activation of a Partitioned, Singleton or Role identity
// starts, its member claims the identity from every other host of the kind:
// a host whose view no longer places the identity with it deactivates its
// activation (OnDeactivate returns) and only then answers; a host that
// still believes the identity is its own answers "conflict", and the call
// retries until the views agree. When the membership changes, each member
// deactivates what its view now places elsewhere. A stable cluster therefore
// runs at most one activation per identity, and a moved identity's old
// activation finishes OnDeactivate before the new one starts.
//
// # Transport and failover
//
// Grain traffic uses its own TCP connections between members (the address
// is the member label AddressLabel), authenticated with the cluster secret,
// and over mutual TLS when Config.TLS is set (foundation.Start sets it from
// the tls.* configuration). When a member crashes its connections drop, and a reconnect that is
// refused marks it down at once: its grains are placed elsewhere within
// milliseconds, before the membership's failure detector removes it. A
// member whose host merely stops answering is handled by the membership
// (unreachable, then removed).
package grain
