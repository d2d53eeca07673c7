// Package graintest starts in-process clusters whose members host grains,
// on cluster/clustertest: N members on 127.0.0.1 with free ports, each with
// a grain.Host, stopped when the test ends.
//
// Options.Kinds says which kinds each member declares (a kind with New is
// hosted there), Options.Labels gives members labels for Role placement, and
// Options.Config adjusts each member's grain timeouts. The returned Cluster
// is a clustertest.Cluster, so members can be stopped, killed, restarted and
// partitioned; Host(i) is member i's grain host and WaitViews waits until
// every running host sees the expected number of members.
package graintest
