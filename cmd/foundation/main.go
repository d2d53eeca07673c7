// Command foundation is the operator's tool for a Foundation cluster. It
// talks to any member over the member's HTTP listener (telemetry.address)
// and checks configurations before they ship:
//
//	foundation members --addr 10.0.0.5:7352      # the view, from every member
//	foundation health --addr 10.0.0.5:7352       # the cluster health report
//	foundation traces --addr ...                 # recent traces
//	foundation trace 4bf92f3577b34da6a3ce929d0e0e4736 --addr ...
//	foundation inspect --addr ... [--member ID]  # processes and supervision tree
//	foundation check --config cluster.yaml --throughput 50000
//
// Tables are the default; -o json prints the member's JSON as it came.
// The address defaults to $FOUNDATION_ADDR, else 127.0.0.1:7352.
//
// Exit status: 0 on success; 1 when the command ran and found a problem
// (check: an error finding, or a warning with --strict; health: the
// cluster is unhealthy, or degraded with --strict); 2 on bad usage or when
// the member cannot be reached.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
