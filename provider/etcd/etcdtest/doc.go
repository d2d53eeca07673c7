// Package etcdtest runs a real etcd server for tests: one member on
// 127.0.0.1 with free client and peer ports and a data directory of its
// own, tuned to elect itself in a fraction of a second.
//
// Start(t) starts one (and skips the test with a message when the etcd
// binary is missing: apt-get install etcd-server, or set
// FOUNDATION_ETCD_BIN) and kills it when the test ends. Server.Stop and
// Server.Restart stop it and start it again on the same ports, with its
// data or, with WipeData, without — which loses every lease, as a real
// etcd restored from nothing would. NewProxy puts a TCP proxy in front of
// a Server whose Partition cuts every client off until Heal.
//
// Readiness is polled (the server's /health endpoint) with a deadline; no
// function of this package sleeps for a fixed time.
package etcdtest
