// Package dnstest runs a real DNS server on 127.0.0.1 for tests of DNS
// discovery, with records a test changes while the server runs and faults
// it injects.
//
// A Server answers over UDP and TCP on the same port (Addr). It is
// authoritative for every name it was given records for and answers NXDOMAIN
// for any other; a name it knows but without records of the asked type gets
// an empty NOERROR answer. SRV answers carry the targets' A and AAAA records
// in the additional section unless SetAdditional(false) was called. A UDP
// answer larger than the query allows (512 bytes, or the query's EDNS0 size)
// is truncated with the TC bit set, as a real server does, so that clients
// retry over TCP.
//
// Fail makes every answer carry an error code (SERVFAIL, REFUSED, …), Drop
// makes the server read queries and never answer, and Heal undoes both.
// Queries counts the queries received, answered or not, and Dropped those
// left unanswered, so that a test can wait for a client's next query, or
// for a client to be stuck waiting, instead of sleeping.
//
// Close stops both listeners and waits for every goroutine the Server
// started, so tests that run goleak stay clean.
package dnstest
