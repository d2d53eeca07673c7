package cluster_test

import (
	"fmt"

	"github.com/foundation-go/foundation/cluster"
)

// A configuration checked before it ships: the production profile with a
// secret too short for comfort and members listening on every interface.
func ExampleCheckReadiness() {
	c := cluster.Production()
	c.Secret = "0123456789abcdef-short"
	c.Provider = cluster.ProviderStatic
	c.Seeds = []string{"10.0.0.1:7351"}
	r := cluster.CheckReadiness(c, cluster.ReadinessOptions{Members: 3, Throughput: 30000, PerMember: 20000})
	for _, f := range r.Findings {
		line := f.Severity.String() + " " + f.Area
		if f.Key != "" {
			line += " " + f.Key
		}
		fmt.Println(line)
	}
	fmt.Println("ready:", r.Ready(), "members needed:", r.MembersNeeded)
	// Output:
	// warning security secret
	// warning security tls
	// warning security telemetry.address
	// error capacity
	// info timing
	// ready: false members needed: 4
}
