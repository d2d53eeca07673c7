// Package service is the cluster's service registry and its load-balanced
// clients: Akka's Receptionist and Orleans' stateless workers, with the
// balancing of a service mesh.
//
// A node starts one Registry (foundation.Node.Services). A process registers
// as an instance of a named service on the member it runs on; every member
// discovers it within milliseconds and balances calls over the instances:
//
//	reg, err := node.Services.Register(ctx, "users", pid,
//		service.WithMetadata(map[string]string{"zone": "a"}),
//		service.WithCapabilities("read", "write"),
//		service.WithHealthCheck(func(ctx context.Context) error { return db.PingContext(ctx) }))
//	insts, err := node.Services.Discover("users", service.HasCapability("write"))
//	c, err := node.Services.Client("users", service.LeastInFlight())
//	user, err := service.Call[*pb.User](ctx, c, &pb.GetUser{Id: "42"})
//
// # Records
//
// The records live in a Store replicated to every member (NewStore: one
// last-writer-wins map per service in package crdt). Discover, Watch, the
// clients and Routees read this member's replica, through a snapshot rebuilt
// on change: no network, no lock, tens of nanoseconds. An instance leaves
// the listings when its process exits, on Deregister, when its health check
// fails (until it passes), when its member is not Up in this member's view
// (unreachable, leaving, downed: at once), and its record is deleted when
// its member leaves or is removed. A member downed by the split-brain
// resolver writes its records again when it comes back. Listings are this
// member's instances first, then the others', each sorted by process.
//
// # Balancing
//
// A Client picks an instance per message with a Balancer: RoundRobin,
// Random, LeastInFlight (fewest of this client's calls outstanding),
// PreferLocal (an instance on this member when there is one) and
// ConsistentHash (rendezvous hashing of a key from the message: an instance
// that comes or goes moves only its own share of keys). Client.Tell sends at
// most once. Call is at most once too: it tries another instance only when
// the first one's process was gone (actor.ErrNoProcess: nothing was
// delivered); a timeout, a handler's error or a crash while handling is
// returned, never retried. Registry.Routees gives a router (package router)
// the instances as its routees, following every change.
//
// Errors: ErrInvalid (an empty or malformed name, a nil or remote process,
// a ConsistentHash without a key function), ErrUnknownService (no routable
// instance), ErrClosed.
package service
