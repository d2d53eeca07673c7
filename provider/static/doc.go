// Package static is the simplest discovery back-end: a fixed list of seed
// addresses. It announces nothing and watches nothing; it reports one
// provider.Member per seed, with only Address set, and the cluster layer
// learns each member's id, kinds and version with its join handshake.
//
// Use it where the members' addresses are known in advance (a fixed set of
// hosts, a docker-compose file, tests). SetSeeds replaces the list at run
// time (a configuration reload) and reports the new set.
//
// A Provider starts no goroutines: Start and SetSeeds call update on the
// caller's goroutine, one call at a time.
package static
