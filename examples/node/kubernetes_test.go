package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/foundation-go/foundation/internal/kubeapi"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/provider/k8s"
	"github.com/foundation-go/foundation/provider/k8s/k8stest"
)

// TestKubernetesOneLine runs three examples/node processes on 127.0.0.1
// against a real kube-apiserver (internal/kubeapi), each configured with
// FOUNDATION_PROVIDER=kubernetes and nothing else about the cluster: no
// seeds, no namespace, no selector; with the production profile and a
// cluster secret, as deployment.yaml runs them. As in a pod, each has its pod's name
// and namespace from the downward API (POD_NAME, POD_NAMESPACE) and runs
// as the service account of examples/k8s/rbac.yaml; the in-cluster client
// is pointed at the test server by k8s.EnvKubeconfig (the one thing a pod
// gets from Kubernetes that a process here cannot). The test plays kubelet:
// it creates each member's pod, and marks it Running and Ready, with IP
// 127.0.0.1 and the container port named "foundation" at the process's
// cluster port, once the process listens (its readiness probe).
//
// One setting is there only because every "pod" here shares 127.0.0.1:
// FOUNDATION_K8S_PORT_NAME=foundation, so that each member is dialled at
// its own port. In a cluster, where pod IPs differ and every pod listens
// on the same cluster port, the default (each pod's IP with this member's
// cluster port) needs no setting at all.
//
// The three form one cluster; the oldest, which hosts the singleton, is
// killed with kill -9 and its pod deleted, and the singleton answers from
// the oldest survivor within a second; a member whose pod is deleted and
// which then gets SIGTERM, as Kubernetes does, leaves cleanly (peers see
// "left").
func TestKubernetesOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	srv := kubeapi.Shared(t)
	admin, _ := kubeapi.Client(t, srv.Config())
	ns := kubeapi.NewNamespace(t, admin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	applyRBAC(t, ctx, admin, ns)
	token, err := kubeapi.ServiceAccountToken(ctx, admin, ns, "foundation")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, token); err != nil {
		t.Fatal(err)
	}

	bin, ports, cports := buildNode(t, 3)
	procs := make([]*nodeproc.Proc, 3)
	ids := make([]string, 3)
	names := make([]string, 3)
	for i := range procs {
		names[i] = "foundation-" + strconv.Itoa(i)
		// The pod is scheduled (bound to a node; Pending, no IP) before its
		// container runs.
		pod := k8stest.Pod(names[i], "", "", k8stest.PortName, int32(cports[i]), false)
		pod.Namespace = ns
		pod.Spec.NodeName = "node-a"
		pod.Status = corev1.PodStatus{}
		if _, err := kubeapi.CreatePod(ctx, admin, pod); err != nil {
			t.Fatal(err)
		}
		env := []string{
			"FOUNDATION_PROVIDER=kubernetes",
			// What deployment.yaml sets besides: the production profile
			// (detected in a pod anyway) and its required cluster secret.
			"FOUNDATION_PROFILE=production",
			"FOUNDATION_SECRET=kubernetes-test-secret-0123",
			"FOUNDATION_K8S_PORT_NAME=" + k8stest.PortName, // every pod is at 127.0.0.1 (see above)
			"FOUNDATION_HOST=127.0.0.1",
			"FOUNDATION_PORT=" + strconv.Itoa(ports[i]),
			"FOUNDATION_CLUSTER_PORT=" + strconv.Itoa(cports[i]),
			// Pods have a host each; these three share one, so their
			// HTTP listeners (the profile's :7352) take free ports.
			"FOUNDATION_TELEMETRY_ADDRESS=127.0.0.1:0",
			"FOUNDATION_LOG_LEVEL=warn",
			k8s.EnvPodNamespace + "=" + ns,
			k8s.EnvPodName + "=" + names[i],
			k8s.EnvKubeconfig + "=" + kubeconfig,
		}
		var args []string
		if i == 2 {
			args = []string{"-drive", "singleton", "-drive-interval", "20ms"}
		}
		p, err := nodeproc.Start("node"+strconv.Itoa(i), bin, args, env, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill(); _ = p.Wait(5 * time.Second) })
		l, _, err := p.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		procs[i], ids[i] = p, nodeproc.Field(l, "id")
		// Listening: the readiness probe passes.
		if err := kubeapi.SetPodStatus(ctx, admin, ns, names[i], kubeapi.Running("127.0.0.1", true)); err != nil {
			t.Fatal(err)
		}
		// Started one after another, each once the previous is a member, so
		// that node0 is the oldest and hosts the singleton.
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members="+strconv.Itoa(i+1) }, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members=3" }, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	driver := procs[2]
	okCalls := 0
	if _, _, err := driver.WaitLine(0, func(l string) bool {
		if isCall(l) && nodeproc.Field(l, "ok") == "true" {
			okCalls++
		}
		return okCalls == 5
	}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, l := range driver.Lines() {
		if isCall(l) && (nodeproc.Field(l, "ok") != "true" || nodeproc.Field(l, "member") != ids[0]) {
			t.Fatalf("before the kill, want every call answered by the oldest member %s (node0); got %q", ids[0], l)
		}
	}

	// kill -9 the singleton's host; its pod goes.
	marks := []int{len(procs[0].Lines()), len(procs[1].Lines()), len(driver.Lines())}
	killed := time.Now()
	if err := procs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.ForceDelete(ctx, admin, ns, names[0]); err != nil {
		t.Fatal(err)
	}
	_, first, err := driver.WaitLine(marks[2], func(l string) bool {
		return isCall(l) && nodeproc.Field(l, "ok") == "true" && nodeproc.Field(l, "member") != ids[0]
	}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lines := driver.Lines()
	failover := time.Unix(0, callAt(t, lines[first])).Sub(killed)
	t.Logf("first call answered by a new member %v after kill -9: %s", failover.Round(time.Microsecond), lines[first])
	if failover > time.Second {
		t.Fatalf("singleton failover took %v after kill -9, want <= 1s", failover)
	}
	if got := nodeproc.Field(lines[first], "member"); got != ids[1] {
		t.Fatalf("singleton moved to %s, want the oldest survivor %s (node1)", got, ids[1])
	}
	for _, p := range procs[1:] {
		if _, _, err := p.WaitLine(0, func(l string) bool {
			return strings.HasPrefix(l, "event removed ") && nodeproc.Field(l, "id") == ids[0]
		}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// node1's activation answered the call above, but its line comes
	// through another pipe than node2's and may not be read yet.
	if _, _, err := procs[1].WaitLine(marks[1], func(l string) bool {
		return strings.HasPrefix(l, "grain activate kind=singleton ")
	}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	activations := 0
	for i, p := range procs[1:] {
		for _, l := range p.Lines()[marks[i+1]:] {
			if strings.HasPrefix(l, "grain activate kind=singleton ") {
				activations++
				if m := nodeproc.Field(l, "member"); m != ids[1] {
					t.Errorf("singleton activated on %s after the kill: %q", m, l)
				}
			}
		}
	}
	if activations != 1 {
		t.Fatalf("singleton activated %d times among the survivors after the kill, want 1", activations)
	}
	_ = procs[0].Wait(5 * time.Second)

	// Kubernetes deletes node1's pod (it is bound to a node, so it stays
	// Terminating meanwhile) and sends SIGTERM: node1 leaves cleanly.
	mark := len(driver.Lines())
	if err := admin.CoreV1().Pods(ns).Delete(ctx, names[1], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := procs[1].Terminate(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := driver.WaitLine(mark, func(l string) bool {
		if nodeproc.Field(l, "id") != ids[1] {
			return false
		}
		if strings.HasPrefix(l, "event unreachable ") || strings.HasPrefix(l, "event removed ") {
			t.Fatalf("graceful stop seen as %q", l)
		}
		return strings.HasPrefix(l, "event left ")
	}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := procs[1].Wait(5 * time.Second); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	stopped, _, err := procs[1].WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "stopped in ") }, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(stopped, "stopped in ")); err != nil || d > time.Second {
		t.Fatalf("graceful stop took %q", stopped)
	}
}

// applyRBAC creates the objects of examples/k8s/rbac.yaml in ns: the
// service account the members run as, and its Role and RoleBinding.
func applyRBAC(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "k8s", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := yaml.NewYAMLReader(bufio.NewReader(f))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("rbac.yaml: %v", err)
		}
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = cs.RbacV1().Roles(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = cs.RbacV1().RoleBindings(ns).Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("rbac.yaml: unexpected %T", obj)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
