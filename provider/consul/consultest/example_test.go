package consultest_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/foundation-go/foundation/provider/consul/consultest"
)

// Example registers a service with a Server through the Consul API client,
// injects a fault, and watches a check expire.
func Example() {
	agent, err := consultest.New(consultest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer agent.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client, err := api.NewClient(&api.Config{Address: agent.Addr(), HttpClient: &http.Client{Transport: tr}})
	if err != nil {
		fmt.Println(err)
		return
	}

	err = client.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "web-1", Name: "web", Port: 80,
		Check: &api.AgentServiceCheck{TTL: "50ms", Status: api.HealthPassing},
	})
	fmt.Println("register:", err)
	entries, _, _ := client.Health().Service("web", "", true, nil)
	fmt.Println("passing:", len(entries))

	agent.Fail(consultest.EndpointCheckUpdate, http.StatusInternalServerError, 1)
	fmt.Println("renew:", client.Agent().UpdateTTL("service:web-1", "", api.HealthPassing))
	fmt.Println("renew:", client.Agent().UpdateTTL("service:web-1", "", api.HealthPassing))

	// Not renewed any more, the check expires after its TTL.
	for agent.Expired() == 0 {
		time.Sleep(time.Millisecond)
	}
	entries, _, _ = client.Health().Service("web", "", true, nil)
	fmt.Println("passing:", len(entries), agent.Services()[0].Status)
	fmt.Println("renewals:", agent.Requests(consultest.EndpointCheckUpdate))
	// Output:
	// register: <nil>
	// passing: 1
	// renew: Unexpected response code: 500 (consultest: injected 500 Internal Server Error)
	// renew: <nil>
	// passing: 0 critical
	// renewals: 2
}
