// Package clustertest starts clusters of Foundation members inside one test
// process: each member has its own actor System with remoting on 127.0.0.1
// and a free port, and its own Membership; all of them find each other
// through a shared seed list.
//
// Membership datagrams pass through a Network that can cut (Partition),
// Heal, Delay or Drop the traffic between any two members. Members can be
// stopped gracefully (Stop), crashed (Kill) and started again at the same
// address under a new member id (Restart). Eventually polls a condition
// with a deadline instead of sleeping.
//
// Remote actor traffic (gRPC) is not cut by a Partition: the engine's
// endpoint writer retries a refused connection for ten seconds with sleeps
// and leaks the connections it opened, so cutting it would leak goroutines
// into every test.
package clustertest
