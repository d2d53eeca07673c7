package k8stest_test

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/foundation-go/foundation/provider/k8s/k8stest"
)

// ExamplePod creates a member's pod in a fake cluster and lists the pods
// the member selector finds.
func ExamplePod() {
	ctx := context.Background()
	cs := k8stest.NewClientset()
	pod := k8stest.Pod("shop-0", "3f0c-0", "10.0.0.10", k8stest.PortName, 7350, true)
	if _, err := cs.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	list, err := cs.CoreV1().Pods(k8stest.Namespace).List(ctx, metav1.ListOptions{LabelSelector: k8stest.Selector})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range list.Items {
		fmt.Println(p.Name, p.UID, p.Status.PodIP, p.Spec.Containers[0].Ports[0].Name, p.Spec.Containers[0].Ports[0].ContainerPort)
	}
	// Output:
	// shop-0 3f0c-0 10.0.0.10 foundation 7350
}
