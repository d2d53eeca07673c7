package provharness

import (
	"strconv"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/provider/k8s/k8stest"
	"k8s.io/apimachinery/pkg/runtime"
)

// startK8s serves a Kubernetes API from client-go's fake clientset, holding
// one Ready pod per member (pod IP 127.0.0.1, the member's port as the named
// container port).
func startK8s(ports []int) (*Backend, error) {
	var pods []runtime.Object
	for i, p := range ports {
		name := "member-" + strconv.Itoa(i)
		pods = append(pods, k8stest.Pod(name, "uid-"+name, "127.0.0.1", k8stest.PortName, int32(p), true))
	}
	cs := k8stest.NewClientset(pods...)
	return &Backend{
		Name: "k8s",
		Configure: func(_ int, c *cluster.Config) {
			c.Provider = "kubernetes"
			c.Kubernetes.Namespace = k8stest.Namespace
			c.Kubernetes.LabelSelector = k8stest.Selector
			c.Kubernetes.PortName = k8stest.PortName
		},
		Options: func(int) []foundation.Option { return []foundation.Option{foundation.WithKubernetesClient(cs)} },
		Close:   func() {},
	}, nil
}
