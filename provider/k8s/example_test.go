package k8s_test

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/k8s"
	"github.com/foundation-go/foundation/provider/k8s/k8stest"
)

// Example watches the member pods of a fake cluster: shop-0 is ready,
// shop-1 is starting; when shop-1's readiness probe passes it becomes a
// member. In a pod, Client would be k8s.InClusterClient()'s and Namespace
// would default to the pod's own.
func Example() {
	ctx := context.Background()
	cs := k8stest.NewClientset(
		k8stest.Pod("shop-0", "3f0c-0", "10.0.0.10", "foundation", 7350, true),
		k8stest.Pod("shop-1", "3f0c-1", "10.0.0.11", "foundation", 7350, false),
	)
	p, err := k8s.New(k8s.Config{
		Client:        cs,
		Namespace:     "default",
		LabelSelector: "app.kubernetes.io/part-of=foundation",
		PortName:      "foundation",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	sets := make(chan []provider.Member, 8)
	self := provider.Member{ID: "m0", Address: "10.0.0.10:7350"}
	if err := p.Start(ctx, self, func(ms []provider.Member) { sets <- ms }); err != nil {
		fmt.Println(err)
		return
	}
	show(<-sets)

	pods := cs.CoreV1().Pods("default")
	pod, _ := pods.Get(ctx, "shop-1", metav1.GetOptions{})
	_, _ = pods.UpdateStatus(ctx, k8stest.SetReady(pod, true), metav1.UpdateOptions{})
	show(<-sets)

	stopCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	fmt.Println(p.Stop(stopCtx))
	// Output:
	// members: 3f0c-0@10.0.0.10:7350
	// members: 3f0c-0@10.0.0.10:7350 3f0c-1@10.0.0.11:7350
	// <nil>
}

func show(members []provider.Member) {
	fmt.Print("members:")
	for _, m := range members {
		fmt.Printf(" %s@%s", m.ID, m.Address)
	}
	fmt.Println()
}

// ExampleConfig_Validate shows the errors a bad configuration gets.
func ExampleConfig_Validate() {
	cs := k8stest.NewClientset()
	fmt.Println(k8s.Config{Client: cs}.Validate())
	fmt.Println(k8s.Config{Client: cs, LabelSelector: "app in (shop"}.Validate())
	fmt.Println(k8s.Config{Client: cs, LabelSelector: "app=shop", PortName: "Foundation"}.Validate())
	fmt.Println(k8s.Config{Client: cs, LabelSelector: "app=shop", PortName: "foundation"}.Validate())
	// Output:
	// provider: invalid configuration: k8s: Config.LabelSelector is empty: want a label selector such as "app.kubernetes.io/part-of=foundation" (an empty one would select every pod)
	// provider: invalid configuration: k8s: Config.LabelSelector "app in (shop": want kubectl selector syntax: unable to parse requirement: found '', expected: ',' or ')'
	// provider: invalid configuration: k8s: Config.PortName "Foundation": want at most 15 lower-case letters, digits and '-', with a letter: must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)
	// <nil>
}
