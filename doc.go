// Package foundation starts a Foundation node in one call: configuration
// (the profile's preset, a YAML file, FOUNDATION_* environment variables and
// options in code, in that order of precedence), environment detection
// (Kubernetes, Consul, DNS, etcd, a seed list, or a laptop with mDNS), the
// actor system with remoting (mutual TLS when configured), discovery and
// cluster membership.
//
//	node, err := foundation.Start(ctx)
//	if err != nil { ... }
//	defer node.Stop(ctx)
//
// The node's System spawns processes (package actor); its Membership is the
// live view of the cluster (package cluster). examples/node is a complete
// program.
package foundation
