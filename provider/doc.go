// Package provider is Foundation's discovery interface: a back-end announces
// this member, watches the set of members and withdraws the announcement.
// That is all a back-end does; the cluster package turns member sets into a
// verified membership view with events, failure detection and admission.
//
// Back-ends live in sub-packages: static (a seed list), mdns (zero-config
// multicast DNS for development machines), consul (a Consul agent's catalog
// with TTL checks and blocking queries), k8s (a watch on labelled pods), dns
// (SRV or A records polled) and etcd (leased keys under a watched prefix).
// Each has a test server or fake in a sub-package of its own (consultest,
// k8stest, dnstest, etcdtest).
package provider
