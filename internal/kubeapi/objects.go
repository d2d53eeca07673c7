package kubeapi

import (
	"context"
	"fmt"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// NewNamespace creates a namespace with a fresh name starting with
// "test-" and returns its name. Tests share a server through namespaces of
// their own. The namespace is not deleted: without a controller manager a
// deleted namespace stays Terminating, and the server's data is thrown
// away when it stops.
func NewNamespace(t testing.TB, cs kubernetes.Interface) string {
	t.Helper()
	ctx, cancel := withTimeout()
	defer cancel()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubeapi: creating a namespace: %v", err)
	}
	return ns.Name
}

// CreatePod creates pod, then, when pod.Status has a phase, writes that
// status through the status subresource (the API server ignores the status
// of a created pod, and no kubelet is there to set it), and returns the pod
// as the server has it.
func CreatePod(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) (*corev1.Pod, error) {
	pods := cs.CoreV1().Pods(pod.Namespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubeapi: creating pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if pod.Status.Phase == "" {
		return created, nil
	}
	st := pod.Status.DeepCopy()
	if st.QOSClass == "" {
		st.QOSClass = created.Status.QOSClass // set by the server, and immutable
	}
	created.Status = *st
	updated, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubeapi: setting the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return updated, nil
}

// SetPodStatus changes the status of pod namespace/name with change, as a
// kubelet would, through the status subresource; it reads the pod again
// and retries when another writer changed it meanwhile.
func SetPodStatus(ctx context.Context, cs kubernetes.Interface, namespace, name string, change func(*corev1.PodStatus)) error {
	pods := cs.CoreV1().Pods(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(&pod.Status)
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("kubeapi: setting the status of pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// Running is a SetPodStatus change that makes a pod what a kubelet reports
// for a started container: phase Running with IP ip, and a Ready condition
// True or False as ready says (a readiness probe passing or not). Other
// fields of the status are kept.
func Running(ip string, ready bool) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.PodIP = ip
		s.PodIPs = []corev1.PodIP{{IP: ip}}
		Ready(ready)(s)
	}
}

// Ready is a SetPodStatus change that sets the pod's Ready condition to
// True or False, adding it when missing.
func Ready(ready bool) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		now := metav1.Now()
		for i, c := range s.Conditions {
			if c.Type == corev1.PodReady {
				if c.Status != status {
					s.Conditions[i].Status, s.Conditions[i].LastTransitionTime = status, now
				}
				return
			}
		}
		s.Conditions = append(s.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: status, LastTransitionTime: now})
	}
}

// ForceDelete deletes pod namespace/name with a zero grace period, as
// `kubectl delete --grace-period=0 --force` does: a pod with a node name
// is gone at once instead of staying Terminating for want of a kubelet.
func ForceDelete(ctx context.Context, cs kubernetes.Interface, namespace, name string) error {
	zero := int64(0)
	if err := cs.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		return fmt.Errorf("kubeapi: deleting pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// ServiceAccountToken creates the service account namespace/name unless it
// exists, and returns a token for it from the TokenRequest API: the token
// a pod running as that account would have mounted.
func ServiceAccountToken(ctx context.Context, cs kubernetes.Interface, namespace, name string) (string, error) {
	sas := cs.CoreV1().ServiceAccounts(namespace)
	if _, err := sas.Get(ctx, name, metav1.GetOptions{}); err != nil {
		if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			return "", fmt.Errorf("kubeapi: creating service account %s/%s: %w", namespace, name, err)
		}
	}
	hour := int64(3600)
	tr, err := sas.CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("kubeapi: a token for service account %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}
