package k8s

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/k8s/k8stest"
)

func testSelection(t *testing.T, portName, port string) selection {
	t.Helper()
	sel, err := labels.Parse(k8stest.Selector)
	if err != nil {
		t.Fatal(err)
	}
	return selection{namespace: k8stest.Namespace, selector: sel, portName: portName, port: port}
}

func names(ms []provider.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID + "=" + m.Address
	}
	return out
}

func TestMembersSelectsServingPods(t *testing.T) {
	pod := func(name string, ready bool, change func(*corev1.Pod)) *corev1.Pod {
		p := k8stest.Pod(name, "uid-"+name, "10.0.0."+name[len(name)-1:], k8stest.PortName, 7350, ready)
		if change != nil {
			change(p)
		}
		return p
	}
	now := metav1.NewTime(time.Unix(1700000000, 0))
	pods := []*corev1.Pod{
		pod("ready1", true, nil),
		pod("notready2", false, nil),
		pod("noip3", true, func(p *corev1.Pod) { p.Status.PodIP = "" }),
		pod("pending4", true, func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }),
		pod("deleting5", true, func(p *corev1.Pod) { p.DeletionTimestamp = &now }),
		pod("othernamespace6", true, func(p *corev1.Pod) { p.Namespace = "other" }),
		pod("otherapp7", true, func(p *corev1.Pod) { p.Labels = map[string]string{k8stest.PartOfLabel: "other"} }),
		pod("noport8", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "http" }),
		pod("nocondition9", true, func(p *corev1.Pod) { p.Status.Conditions = nil }),
		pod("sidecar0", true, func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports[0].Name = "metrics"
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "second",
				Ports: []corev1.ContainerPort{{Name: k8stest.PortName, ContainerPort: 9000}}})
		}),
	}
	members, noPort := testSelection(t, k8stest.PortName, "").members(pods)
	want := []string{"uid-ready1=10.0.0.1:7350", "uid-sidecar0=10.0.0.0:9000"}
	if got := names(members); !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
	if len(noPort) != 1 || noPort[0].Name != "noport8" {
		t.Errorf("noPort = %v, want the pod noport8", noPort)
	}

	// Without a port name every serving pod is dialled on the given port,
	// whatever its container ports.
	members, noPort = testSelection(t, "", "7000").members(pods)
	want = []string{"uid-noport8=10.0.0.8:7000", "uid-ready1=10.0.0.1:7000", "uid-sidecar0=10.0.0.0:7000"}
	if got := names(members); !slices.Equal(got, want) || len(noPort) != 0 {
		t.Errorf("members = %v, noPort %v; want %v and none", got, noPort, want)
	}
}

func TestMembersOrderAndFields(t *testing.T) {
	var pods []*corev1.Pod
	for i := 5; i >= 1; i-- {
		p := k8stest.Pod(fmt.Sprintf("p%d", i), fmt.Sprintf("u%d", i), fmt.Sprintf("10.0.0.%d", i), k8stest.PortName, 7350, true)
		pods = append(pods, p)
	}
	pods[0].Status.PodIP = "fd00::5" // IPv6 is bracketed
	pods[1].Annotations = map[string]string{AnnotationCluster: "shop", AnnotationKinds: " cart, user ,,", AnnotationVersion: "v1.2.0"}
	pods[2].Labels[AnnotationCluster] = "from-label"
	pods[2].Labels[AnnotationVersion] = "v0.9"
	pods[3].Labels[AnnotationCluster] = "from-label"
	pods[3].Annotations = map[string]string{AnnotationCluster: "from-annotation"}

	members, _ := testSelection(t, k8stest.PortName, "").members(pods)
	want := []provider.Member{
		{ID: "u1", Address: "10.0.0.1:7350"},
		{ID: "u2", Address: "10.0.0.2:7350", Cluster: "from-annotation"},
		{ID: "u3", Address: "10.0.0.3:7350", Cluster: "from-label", Version: "v0.9"},
		{ID: "u4", Address: "10.0.0.4:7350", Cluster: "shop", Kinds: []string{"cart", "user"}, Version: "v1.2.0"},
		{ID: "u5", Address: "[fd00::5]:7350"},
	}
	if !sameMembers(members, want) {
		t.Errorf("members =\n%+v\nwant\n%+v", members, want)
	}
	slices.Reverse(pods)
	again, _ := testSelection(t, k8stest.PortName, "").members(pods)
	if !sameMembers(again, members) {
		t.Errorf("members depend on the order of the pods:\n%+v\n%+v", again, members)
	}
}

func TestSameMembers(t *testing.T) {
	a := []provider.Member{{ID: "1", Address: "a:1", Kinds: []string{"x"}}}
	for _, b := range [][]provider.Member{
		nil,
		{{ID: "2", Address: "a:1", Kinds: []string{"x"}}},
		{{ID: "1", Address: "a:2", Kinds: []string{"x"}}},
		{{ID: "1", Address: "a:1", Kinds: []string{"y"}}},
		{{ID: "1", Address: "a:1", Kinds: []string{"x"}, Cluster: "c"}},
		{{ID: "1", Address: "a:1", Kinds: []string{"x"}, Version: "v"}},
	} {
		if sameMembers(a, b) {
			t.Errorf("sameMembers(%+v, %+v) = true", a, b)
		}
	}
	if !sameMembers(a, []provider.Member{{ID: "1", Address: "a:1", Kinds: []string{"x"}}}) || !sameMembers(nil, []provider.Member{}) {
		t.Error("equal sets reported different")
	}
}
