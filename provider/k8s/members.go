package k8s

import (
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/foundation-go/foundation/provider"
)

// Pod annotations (or labels, for the keys whose values a label can hold)
// that fill a member's fields. A pod without them is reported with those
// fields empty, which the cluster layer learns in its join handshake.
const (
	// AnnotationCluster is the cluster name of the member the pod runs,
	// read from the annotation or, when there is none, the label with this
	// key.
	AnnotationCluster = "foundation.io/cluster"
	// AnnotationKinds lists the grain kinds the member hosts, separated by
	// commas ("cart,user"); an annotation only, as a label value cannot
	// hold commas.
	AnnotationKinds = "foundation.io/kinds"
	// AnnotationVersion is the member's Foundation version, read from the
	// annotation or, when there is none, the label with this key.
	AnnotationVersion = "foundation.io/version"
)

// selection is what decides which pods are members and where they listen.
type selection struct {
	namespace string
	selector  labels.Selector
	// portName, when not empty, names the container port dialled; pods
	// without it are skipped.
	portName string
	// port is dialled on every pod when portName is empty.
	port string
}

// members returns the members among pods, ordered by ID, and the pods that
// would be members but lack the container port named s.portName. It is
// pure: the same pods give the same result whatever their order.
func (s selection) members(pods []*corev1.Pod) (members []provider.Member, noPort []*corev1.Pod) {
	for _, pod := range pods {
		if !s.selected(pod) || !serving(pod) {
			continue
		}
		port := s.port
		if s.portName != "" {
			p, ok := namedPort(pod, s.portName)
			if !ok {
				noPort = append(noPort, pod)
				continue
			}
			port = strconv.Itoa(int(p))
		}
		members = append(members, member(pod, port))
	}
	slices.SortFunc(members, func(a, b provider.Member) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(noPort, func(a, b *corev1.Pod) int { return strings.Compare(string(a.UID), string(b.UID)) })
	return members, noPort
}

// selected reports whether pod is in the namespace and matches the
// selector. The API server filters both already; this also holds against a
// server (or a fake) that does not filter watches.
func (s selection) selected(pod *corev1.Pod) bool {
	return pod.Namespace == s.namespace && s.selector.Matches(labels.Set(pod.Labels))
}

// serving reports whether pod can take traffic: Running, Ready, not being
// deleted, with an IP.
func serving(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// namedPort returns the container port named name, searching the pod's
// containers in order.
func namedPort(pod *corev1.Pod, name string) (int32, bool) {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name && p.ContainerPort > 0 {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// member is the provider.Member pod stands for, dialled on port.
func member(pod *corev1.Pod, port string) provider.Member {
	m := provider.Member{
		ID:      string(pod.UID),
		Address: net.JoinHostPort(pod.Status.PodIP, port),
		Cluster: metaValue(pod, AnnotationCluster),
		Version: metaValue(pod, AnnotationVersion),
	}
	for _, k := range strings.Split(pod.Annotations[AnnotationKinds], ",") {
		if k = strings.TrimSpace(k); k != "" {
			m.Kinds = append(m.Kinds, k)
		}
	}
	return m
}

// metaValue returns pod's annotation key, or its label key when the
// annotation is absent or empty.
func metaValue(pod *corev1.Pod, key string) string {
	if v := strings.TrimSpace(pod.Annotations[key]); v != "" {
		return v
	}
	return pod.Labels[key]
}

// sameMembers reports whether a and b, both ordered by ID, are the same
// members with the same fields.
func sameMembers(a, b []provider.Member) bool {
	return slices.EqualFunc(a, b, func(x, y provider.Member) bool {
		return x.ID == y.ID && x.Address == y.Address && x.Cluster == y.Cluster &&
			x.Version == y.Version && x.Auth == y.Auth && slices.Equal(x.Kinds, y.Kinds)
	})
}
