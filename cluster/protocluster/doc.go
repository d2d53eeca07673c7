// Package protocluster adapts Foundation discovery and membership to
// proto.actor's cluster: NewProvider turns any provider.Provider into a
// proto.actor cluster.ClusterProvider. Foundation's Membership runs beside
// the proto.actor member (same host and port number, over UDP), admits peers
// with the cluster secret, detects failures, and feeds proto.actor's member
// list with the verified view.
//
// proto.actor blocks a member id forever once it leaves its member list. A
// member that Foundation removed and later re-admits (a healed partition)
// is therefore given a fresh proto.actor id ("<id>~<n>") so that nobody is
// stranded.
package protocluster
