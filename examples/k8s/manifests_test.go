package k8s_test

// The manifests of this directory against a real kube-apiserver
// (internal/kubeapi; `make kubeapi` builds it): they pass its validation,
// and the RBAC they grant is exactly what the k8s provider and the
// Kubernetes split-brain lease need.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/foundation-go/foundation/cluster/lease"
	"github.com/foundation-go/foundation/internal/kubeapi"
	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/k8s"
	"github.com/foundation-go/foundation/provider/k8s/k8stest"
)

func TestMain(m *testing.M) { kubeapi.Main(m) }

// wait bounds each wait on the API server.
const wait = 15 * time.Second

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

// manifests reads the objects of the YAML files, in order.
func manifests(t *testing.T, files ...string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if m != nil {
				objs = append(objs, &unstructured.Unstructured{Object: m})
			}
		}
	}
	return objs
}

// applier applies objects with server-side apply, as `kubectl apply
// --server-side` does, validating fields strictly (an unknown field is an
// error, not dropped).
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, srv *kubeapi.Server) *applier {
	t.Helper()
	cfg := srv.Config()
	d := kubeapi.NewDialer()
	t.Cleanup(d.Close)
	cfg.Dial = d.DialContext
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))}
}

// apply applies obj in namespace ns; dryRun makes it a server-side dry
// run (validated, admitted, not stored).
func (a *applier) apply(ctx context.Context, ns string, obj *unstructured.Unstructured, dryRun bool) error {
	gvk := obj.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: "foundation-test", FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = a.dyn.Resource(m.Resource).Namespace(ns).Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts)
	if err != nil {
		return errors.New(gvk.Kind + " " + obj.GetName() + ": " + err.Error())
	}
	return nil
}

func (a *applier) applyAll(t *testing.T, ns string, objs []*unstructured.Unstructured, dryRun bool) {
	t.Helper()
	for _, obj := range objs {
		if err := a.apply(ctx(t), ns, obj, dryRun); err != nil {
			t.Fatal(err)
		}
	}
}

// TestManifestsPassServerSideDryRun: every object of the directory passes
// the API server's validation and admission (server-side apply, dry run,
// strict fields), as `kubectl apply --server-side --dry-run=server` would
// check; and the check has teeth: a misspelt field is refused.
func TestManifestsPassServerSideDryRun(t *testing.T) {
	srv := kubeapi.Shared(t)
	admin, _ := kubeapi.Client(t, srv.Config())
	ns := kubeapi.NewNamespace(t, admin)
	a := newApplier(t, srv)
	objs := manifests(t, "rbac.yaml", "lease-rbac.yaml", "service.yaml", "deployment.yaml")
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	want := map[string]int{"ServiceAccount": 1, "Role": 2, "RoleBinding": 2, "Service": 1, "Deployment": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d objects of kind %s in the manifests; want %d (%v)", kinds[k], k, n, kinds)
		}
	}
	a.applyAll(t, ns, objs, true)
	// Nothing was stored.
	if _, err := admin.AppsV1().Deployments(ns).Get(ctx(t), "foundation", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after a dry run, the deployment: %v; want not found", err)
	}

	bad := objs[len(objs)-1].DeepCopy()
	if err := unstructured.SetNestedField(bad.Object, int64(3), "spec", "replicaz"); err != nil {
		t.Fatal(err)
	}
	if err := a.apply(ctx(t), ns, bad, true); err == nil || !strings.Contains(err.Error(), "replicaz") {
		t.Fatalf("a deployment with a misspelt field: %v; want a refusal naming it", err)
	}
}

// serviceAccount applies rbac.yaml (and the other files given) in a new
// namespace and returns it with a client authenticated as the service
// account "foundation", as a member pod's would be.
func serviceAccount(t *testing.T, srv *kubeapi.Server, a *applier, admin kubernetes.Interface, files ...string) (string, *kubernetes.Clientset) {
	t.Helper()
	ns := kubeapi.NewNamespace(t, admin)
	a.applyAll(t, ns, manifests(t, append([]string{"rbac.yaml"}, files...)...), false)
	token, err := kubeapi.ServiceAccountToken(ctx(t), admin, ns, "foundation")
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	cfg.BearerToken = token
	cs, _ := kubeapi.Client(t, cfg)
	return ns, cs
}

// may reports whether cs's user may verb resource (or
// "resource/subresource") in ns, as the API server decides it now.
func may(t *testing.T, cs kubernetes.Interface, ns, group, resource, name, verb string) bool {
	t.Helper()
	resource, sub, _ := strings.Cut(resource, "/")
	r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx(t), &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Group: group, Resource: resource, Subresource: sub, Name: name, Verb: verb,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

// awaitMay waits until the API server's authorizer (which follows RBAC
// objects through a watch) decides verb on pods as want.
func awaitMay(t *testing.T, cs kubernetes.Interface, ns, verb string, want bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for may(t, cs, ns, "", "pods", "", verb) != want {
		if time.Now().After(deadline) {
			t.Fatalf("may %s pods is not %v after %v", verb, want, wait)
		}
		time.Sleep(20 * time.Millisecond) // polling the authorizer
	}
}

// startProvider starts the k8s provider on cs in ns, as a member does.
func startProvider(t *testing.T, cs kubernetes.Interface, ns string, startTimeout time.Duration) (*k8s.Provider, chan []provider.Member, error) {
	t.Helper()
	p, err := k8s.New(k8s.Config{
		Client: cs, Namespace: ns, LabelSelector: "app.kubernetes.io/part-of=foundation", PortName: "foundation",
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, StartTimeout: startTimeout, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan []provider.Member, 16)
	err = p.Start(ctx(t), provider.Member{Address: "127.0.0.1:7351"}, func(ms []provider.Member) {
		select {
		case updates <- ms:
		default:
		}
	})
	if err == nil {
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
	}
	return p, updates, err
}

// TestRBACIsExactlyEnough applies rbac.yaml and runs the k8s provider as
// its service account: it lists and watches the member pods. The account
// may do nothing else with pods, nor anything elsewhere. With the Role
// short of list, or of watch, or without the RoleBinding, Start fails
// with an error naming the verb refused.
func TestRBACIsExactlyEnough(t *testing.T) {
	srv := kubeapi.Shared(t)
	admin, _ := kubeapi.Client(t, srv.Config())
	a := newApplier(t, srv)
	ns, sa := serviceAccount(t, srv, a, admin)

	p, updates, err := startProvider(t, sa, ns, wait)
	if err != nil {
		t.Fatalf("the provider as the service account of rbac.yaml: %v", err)
	}
	pod := k8stest.Pod("member-0", "", "10.0.0.1", "foundation", 7351, true)
	pod.Namespace = ns
	if _, err := kubeapi.CreatePod(ctx(t), admin, pod); err != nil {
		t.Fatal(err)
	}
	for seen := false; !seen; {
		select {
		case ms := <-updates:
			seen = len(ms) == 1 && ms[0].Address == "10.0.0.1:7351"
		case <-time.After(wait):
			t.Fatal("the provider never reported the member pod created after Start")
		}
	}
	if err := p.Stop(ctx(t)); err != nil {
		t.Fatal(err)
	}

	// Nothing more: the other verbs on pods, other resources, other
	// namespaces, the cluster.
	other := kubeapi.NewNamespace(t, admin)
	for _, c := range []struct{ ns, group, resource, verb string }{
		{ns, "", "pods", "get"}, {ns, "", "pods", "create"}, {ns, "", "pods", "update"}, {ns, "", "pods", "patch"},
		{ns, "", "pods", "delete"}, {ns, "", "pods/status", "update"}, {ns, "", "pods/exec", "create"},
		{ns, "", "secrets", "list"}, {ns, "", "configmaps", "list"}, {ns, "", "endpoints", "list"},
		{ns, "coordination.k8s.io", "leases", "get"}, {ns, "coordination.k8s.io", "leases", "create"},
		{other, "", "pods", "list"}, {other, "", "pods", "watch"}, {"", "", "pods", "list"}, {"", "", "nodes", "list"},
	} {
		if may(t, sa, c.ns, c.group, c.resource, "", c.verb) {
			t.Errorf("the service account may %s %s %q in namespace %q; want refused", c.verb, c.resource, c.group, c.ns)
		}
	}
	if _, err := sa.CoreV1().Pods(ns).Get(ctx(t), pod.Name, metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("get pod as the service account: %v; want forbidden", err)
	}

	// Each verb is needed: without it Start fails, naming it.
	role := manifests(t, "rbac.yaml")[1]
	for _, c := range []struct{ keep, refused string }{{"watch", "list"}, {"list", "watch"}} {
		r := role.DeepCopy()
		rules, _, _ := unstructured.NestedSlice(r.Object, "rules")
		rules[0].(map[string]any)["verbs"] = []any{c.keep}
		if err := unstructured.SetNestedSlice(r.Object, rules, "rules"); err != nil {
			t.Fatal(err)
		}
		if err := a.apply(ctx(t), ns, r, false); err != nil {
			t.Fatal(err)
		}
		awaitMay(t, sa, ns, c.refused, false)
		_, _, err := startProvider(t, sa, ns, time.Second)
		want := "forbids this member to " + c.refused + " pods"
		if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "rbac.yaml") {
			t.Errorf("Start with a Role without %s: %v; want ErrUnavailable saying %q and pointing at rbac.yaml", c.refused, err, want)
		}
		t.Logf("Role without %s: %v", c.refused, err)
	}

	// The Role back, the binding gone: refused at the first request.
	if err := a.apply(ctx(t), ns, role, false); err != nil {
		t.Fatal(err)
	}
	awaitMay(t, sa, ns, "watch", true)
	if err := admin.RbacV1().RoleBindings(ns).Delete(ctx(t), "foundation-pod-reader", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	awaitMay(t, sa, ns, "list", false)
	_, _, err = startProvider(t, sa, ns, time.Second)
	if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), "forbids this member to list pods") ||
		!strings.Contains(err.Error(), `cannot list resource "pods"`) || !strings.Contains(err.Error(), "system:serviceaccount:"+ns+":foundation") {
		t.Errorf("Start without the RoleBinding: %v; want ErrUnavailable naming the account and the verb list", err)
	}
	t.Logf("without the RoleBinding: %v", err)
}

// TestLeaseRBAC applies lease-rbac.yaml: the service account takes the
// split-brain lease (create), is refused it while another holds it (get)
// and takes it over once expired (update). A lease of another name, or no
// lease-rbac.yaml at all, is refused: lease.ErrUnavailable, naming the
// refusal.
func TestLeaseRBAC(t *testing.T) {
	srv := kubeapi.Shared(t)
	admin, _ := kubeapi.Client(t, srv.Config())
	a := newApplier(t, srv)
	ns, sa := serviceAccount(t, srv, a, admin, "lease-rbac.yaml")

	l, err := lease.NewKubernetes(sa, ns, "foundation-split-brain", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := l.Acquire(ctx(t), "side-a"); err != nil || !held {
		t.Fatalf("first Acquire as the service account: %v %v", held, err)
	}
	if held, err := l.Acquire(ctx(t), "side-b"); err != nil || held {
		t.Fatalf("Acquire while side-a holds it: %v %v; want refused", held, err)
	}
	deadline := time.Now().Add(wait)
	for {
		held, err := l.Acquire(ctx(t), "side-b")
		if err != nil {
			t.Fatal(err)
		}
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("side-b never took over the expired lease")
		}
		time.Sleep(50 * time.Millisecond) // polling the lease for its expiry
	}

	other, err := lease.NewKubernetes(sa, ns, "shop-split-brain", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := other.Acquire(ctx(t), "side-a"); held || !errors.Is(err, lease.ErrUnavailable) || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("a lease lease-rbac.yaml does not name: %v %v; want ErrUnavailable, forbidden", held, err)
	}

	ns2, sa2 := serviceAccount(t, srv, a, admin)
	l2, err := lease.NewKubernetes(sa2, ns2, "foundation-split-brain", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := l2.Acquire(ctx(t), "side-a"); held || !errors.Is(err, lease.ErrUnavailable) || !strings.Contains(err.Error(), `cannot get resource "leases"`) {
		t.Fatalf("without lease-rbac.yaml: %v %v; want ErrUnavailable naming get leases", held, err)
	}
}
