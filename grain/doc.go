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
// ErrActivationFailed) and Deactivator (OnDeactivate: save state). A member
// that only calls a kind declares it without New; a member that hosts it
// gives New (and lists the kind in its member's kinds: foundation.Start
// does). Messages that cross members are protobuf messages; calls within a
// member pass any value unless Config.SerializeMessages is set (graintest
// sets it), which makes them pass through protobuf too, so that a message
// that could not cross members fails in a one-member test as it would in a
// cluster. Ref.Call honours its ctx (Config.CallTimeout when the ctx has no
// deadline). Headers put on the ctx with actor.WithHeaders (a request id, a
// trace context) reach the grain through Context.Header, on whichever
// member it runs.
//
// # Delivery: at most once
//
// A request that reached a grain's Receive is never run again by
// Foundation. Within its deadline a call retries on its own whatever
// happened before its request was sent — a topology change, views that do
// not agree yet, a passivated or moving activation, a member not ready —
// and surfaces nothing of it. Once the request was sent:
//
//   - the reply, or the error Receive returned (ErrRemote across members),
//     is returned;
//   - a panic in Receive is ErrActivationCrashed (the activation ended; the
//     next call activates the grain again);
//   - a lost connection, or the deadline passing before the answer, is
//     ErrOutcomeUnknown (with ErrTimeout for a deadline): Receive may or may
//     not have run. Retry only if the request is idempotent.
//
// Errors that say nothing was delivered (safe to retry): ErrUnknownKind,
// ErrNoMemberForKind, ErrInvalid, ErrNotSerializable of the request,
// ErrStopped, and ErrTimeout without ErrOutcomeUnknown. A Tell is at most
// once too.
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
// starts, its member claims the identity from every other member that may
// hold it — Unreachable ones included: a member whose view no longer keeps
// the identity deactivates its activation (OnDeactivate returns) and only
// then answers; a member that still keeps it answers "conflict", and one
// whose view differs (another view id) answers "stale": the call retries
// until the views agree. When the membership changes, each member
// deactivates what its view now places elsewhere. A stable cluster
// therefore runs at most one activation per identity, and a moved
// identity's old activation finishes OnDeactivate before the new one
// starts. The claim and move decisions are pure functions of the view
// (decide.go).
//
// Placement uses the Up members only; a claim still asks the Unreachable
// ones, so an identity of a member that stopped answering moves only once
// the membership removed it — after the split-brain resolver downed it
// (its own side fenced itself and deactivated its exclusive grains before
// that: cluster's Fenced and Downed) or its port refused a connection (its
// process is gone). A member that is not serving (joining, fenced or
// downed) activates no exclusive or sticky identity and deactivates those
// it has.
//
// # Transport and failover
//
// Grain traffic goes over ProtocolGrain streams of the members' cluster
// ports (cluster.Membership.Dial and Handle): authenticated by the cluster
// secret, over mutual TLS when configured, carried through
// cluster/clustertest's fault injector in tests. Writes have the call's
// deadline. When a member crashes its streams drop, and a reconnect that is
// refused makes the membership remove it at once: its grains are placed
// elsewhere within milliseconds, before SWIM would notice. A member whose
// host merely stops answering is removed by SWIM and the split-brain
// resolver (seconds; see cluster's profiles).
package grain
