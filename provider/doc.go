// Package provider is Foundation's discovery interface: a back-end announces
// this member, watches the set of members and withdraws the announcement.
// That is all a back-end does; the cluster package turns member sets into a
// verified membership view with events, failure detection and admission.
//
// Back-ends live in sub-packages: static (a seed list) and mdns (zero-config
// multicast DNS for development machines).
package provider
