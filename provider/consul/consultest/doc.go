// Package consultest is an in-process stand-in for the part of a Consul
// agent's HTTP API that the consul provider uses, for tests: service
// registration and deregistration, TTL check updates, and blocking health
// queries. It serves plain HTTP on 127.0.0.1 and needs no consul binary.
//
// # What it models
//
// A registration carries at most one check, a TTL check. A check not
// updated within its TTL turns critical (Expired counts these) and drops
// out of ?passing health results; a service whose check stays critical for
// its DeregisterCriticalServiceAfter — at least one minute, as in Consul,
// unless Config.DeregisterCriticalAfter overrides it — is removed. Updating
// an unknown check answers the 500 "CheckID … does not have associated
// TTL" of a real agent; deregistering an unknown service answers 404.
//
// The X-Consul-Index grows at every change of a registration or of a
// check's status; a renewal that keeps the status is not a change, so a
// steady cluster's blocking queries wait their full wait time. A query with
// index=N blocks while the index is at most N, until a change or its wait
// (default 5m, at most 10m) elapses, as an agent's does.
//
// # Faults
//
// Fail makes requests to an endpoint (a path prefix, so one member's check
// can be singled out) answer an error status, a number of times or until
// ClearFaults. Slow delays every request; a request abandoned by its client
// during the delay has no effect. Restart forgets everything, starts the
// index again and drops client connections, as restarting a state-less
// agent (consul agent -dev) would; SetIndex moves the index (backwards, as
// restoring a snapshot would) without dropping anything. Requests counts
// requests by path prefix, so a test can tell blocking queries from
// polling, and Waiting lists the indexes the blocked queries wait on, so a
// test can tell when every watcher is blocked, and on what.
//
// # Goroutines
//
// A Server owns the httptest.Server's goroutines and one goroutine that
// expires checks; Close ends blocked handlers at once and waits for all of
// them.
package consultest
