package federation_test

import (
	"fmt"

	"github.com/foundation-go/foundation/federation"
)

// Routes is pure: the route table of a spoke in a hub-spoke federation,
// before and after the hub loses its link to one spoke.
func ExampleRoutes() {
	topo := federation.Topology{Kind: federation.HubSpoke, Clusters: []string{"hub", "web", "ai"}, Hub: "hub"}
	up := map[federation.Link]bool{
		federation.NewLink("hub", "web"): true,
		federation.NewLink("hub", "ai"):  true,
	}
	fmt.Println(federation.Routes(topo, "web", up))
	delete(up, federation.NewLink("hub", "ai"))
	fmt.Println(federation.Routes(topo, "web", up))
	// Output:
	// map[ai:hub hub:hub]
	// map[hub:hub]
}
