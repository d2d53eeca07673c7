// Package lease gives the lease-majority split-brain strategy its
// distributed lease (cluster.Lease): a key in etcd held by an etcd lease, or
// a Kubernetes coordination.k8s.io/v1 Lease object. Both expire by
// themselves after their TTL, so that a later partition can be decided
// again.
//
// foundation.Start builds the configured one (split_brain.lease.backend);
// programs that build a cluster.Membership themselves construct one here.
package lease
