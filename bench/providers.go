package main

import (
	"fmt"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/provharness"
)

func init() {
	register("providers", "cluster formation through each discovery back-end in its harness (consul and k8s: in-house fakes, labelled _fake)", runProviders)
}

func runProviders(out *report) error {
	for _, name := range provharness.Names {
		var runs []float64
		for i := 0; i < 3; i++ {
			d, err := formationVia(name)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			runs = append(runs, ms(d))
		}
		out.figure("formation_ms_"+name+harnessLabel[name], median(runs), "ms")
	}
	return nil
}

// harnessLabel marks the figures measured against an in-house stand-in for
// the real back-end rather than the real one: the Consul agent API is
// consultest, the Kubernetes API client-go's fake clientset. DNS (a real
// DNS server on 127.0.0.1) and etcd (a real etcd) are real.
var harnessLabel = map[string]string{"consul": "_fake", "k8s": "_fake"}

// formationVia starts clusterSize nodes at once, discovering each other
// through back-end name, and returns the time until every node sees all.
// The back-end is started first and is not counted.
func formationVia(name string) (time.Duration, error) {
	ports, err := nodeproc.FreePorts(clusterSize)
	if err != nil {
		return 0, err
	}
	b, err := provharness.Start(name, ports)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	_, d, stop, err := startNodes(ports, nodeSetup{
		configure: b.Configure,
		options:   b.Options,
		ready:     seesMembers(clusterSize),
	})
	if err != nil {
		return 0, err
	}
	stop()
	return d, nil
}
