// Package provharness runs each discovery back-end in this process, on
// 127.0.0.1, for the cross-provider tests and the providers benchmark: a
// DNS server, a Consul agent API, an etcd server, a Kubernetes API (client-go's
// fake clientset).
package provharness

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/provider/consul/consultest"
	"github.com/foundation-go/foundation/provider/dns/dnstest"
)

// Backend is one discovery back-end serving the members on ports.
type Backend struct {
	// Name is the provider's configuration name.
	Name string
	// Configure points member i's configuration at the back-end.
	Configure func(i int, c *cluster.Config)
	// Options are extra foundation.Start options for member i.
	Options func(i int) []foundation.Option
	// Env is the same configuration as FOUNDATION_* environment variables,
	// for members run as separate processes; nil when the back-end lives
	// only in this process (k8s's fake API).
	Env func(i int) []string
	// Close stops the back-end.
	Close func()
}

// Names are the back-ends Start knows, in the order of the auto-selection.
var Names = []string{"k8s", "consul", "dns", "etcd"}

// Start starts back-end name for members listening on 127.0.0.1 at ports.
func Start(name string, ports []int) (*Backend, error) {
	switch name {
	case "dns":
		return startDNS(ports)
	case "consul":
		return startConsul(ports)
	case "etcd":
		return startEtcd(ports)
	case "k8s":
		return startK8s(ports)
	}
	return nil, fmt.Errorf("provharness: no back-end %q", name)
}

func none(int) []foundation.Option { return nil }

func startDNS(ports []int) (*Backend, error) {
	srv, err := dnstest.New()
	if err != nil {
		return nil, err
	}
	const name = "_foundation._tcp.members.test."
	var targets []dnstest.Target
	for i, p := range ports {
		host := "m" + strconv.Itoa(i) + ".members.test."
		srv.SetA(host, netip.MustParseAddr("127.0.0.1"))
		targets = append(targets, dnstest.Target{Host: host, Port: uint16(p)})
	}
	srv.SetSRV(name, targets)
	return &Backend{
		Name: "dns",
		Configure: func(_ int, c *cluster.Config) {
			c.Provider = "dns"
			c.DNS.Name = name
			c.DNS.Servers = []string{srv.Addr()}
			c.DNS.Interval = 100 * time.Millisecond
		},
		Env: func(int) []string {
			return []string{"FOUNDATION_PROVIDER=dns", "FOUNDATION_DNS_NAME=" + name,
				"FOUNDATION_DNS_SERVERS=" + srv.Addr(), "FOUNDATION_DNS_INTERVAL=100ms"}
		},
		Options: none,
		Close:   func() { _ = srv.Close() },
	}, nil
}

func startConsul([]int) (*Backend, error) {
	srv, err := consultest.New(consultest.Config{})
	if err != nil {
		return nil, err
	}
	return &Backend{
		Name: "consul",
		Configure: func(_ int, c *cluster.Config) {
			c.Provider = "consul"
			c.Consul.Address = srv.Addr()
		},
		Env: func(int) []string {
			return []string{"FOUNDATION_PROVIDER=consul", "FOUNDATION_CONSUL_ADDRESS=" + srv.Addr()}
		},
		Options: none,
		Close:   srv.Close,
	}, nil
}
