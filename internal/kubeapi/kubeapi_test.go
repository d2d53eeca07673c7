package kubeapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/foundation-go/foundation/internal/kubeapi"
)

func TestMain(m *testing.M) { kubeapi.Main(m) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestServer: the server answers as system:masters through Config and
// through its kubeconfig; it reports the version it was built as; pods get
// their status only through the status subresource; a service account's
// token authenticates as that account; the API server stops and starts
// again with its objects; a Dialer refuses and cuts.
func TestServer(t *testing.T) {
	t0 := time.Now()
	srv := kubeapi.Start(t, kubeapi.Options{})
	t.Logf("etcd and kube-apiserver ready in %v", time.Since(t0).Round(time.Millisecond))
	cs, d := kubeapi.Client(t, srv.Config())
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver %s (%s)", v.GitVersion, v.GoVersion)
	if v.Major != "1" || v.GitVersion == "" || v.GitVersion[0] != 'v' {
		t.Errorf("server version %+v; want the version tools/kubeapi pins", v)
	}

	rc, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	fromFile, _ := kubeapi.Client(t, rc)
	ns := kubeapi.NewNamespace(t, fromFile)

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
	}
	got, err := kubeapi.CreatePod(ctx(t), cs, pod)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.0.0.1" {
		t.Fatalf("status %+v; want Running at 10.0.0.1", got.Status)
	}
	if err := kubeapi.SetPodStatus(ctx(t), cs, ns, "p", func(s *corev1.PodStatus) { s.PodIP = "10.0.0.2" }); err != nil {
		t.Fatal(err)
	}

	token, err := kubeapi.ServiceAccountToken(ctx(t), cs, ns, "member")
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	cfg.BearerToken = token
	sa, _ := kubeapi.Client(t, cfg)
	review, err := sa.AuthenticationV1().SelfSubjectReviews().Create(ctx(t), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo.Username; u != "system:serviceaccount:"+ns+":member" {
		t.Errorf("the token authenticates as %q", u)
	}
	if _, err := sa.CoreV1().Pods(ns).List(ctx(t), metav1.ListOptions{}); err == nil {
		t.Error("a service account without RBAC listed pods")
	}

	t0 = time.Now()
	if err := srv.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver stopped (SIGTERM) in %v", time.Since(t0).Round(time.Millisecond))
	if _, err := cs.CoreV1().Pods(ns).Get(ctx(t), "p", metav1.GetOptions{}); err == nil {
		t.Fatal("a request succeeded while the API server was stopped")
	}
	t0 = time.Now()
	if err := srv.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver ready again in %v", time.Since(t0).Round(time.Millisecond))
	if got, err := cs.CoreV1().Pods(ns).Get(ctx(t), "p", metav1.GetOptions{}); err != nil || got.Status.PodIP != "10.0.0.2" {
		t.Fatalf("after a restart: %v %v", got, err)
	}

	d.Refuse(true)
	d.Cut()
	if _, err := cs.CoreV1().Pods(ns).Get(ctx(t), "p", metav1.GetOptions{}); !errors.Is(err, kubeapi.ErrRefused) {
		t.Fatalf("while refused: %v; want ErrRefused", err)
	}
	d.Refuse(false)
	if _, err := cs.CoreV1().Pods(ns).Get(ctx(t), "p", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	// Stopped, it stays stopped: the API server alone does not start
	// without etcd; a second Stop does nothing.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.StartAPIServer(); !errors.Is(err, kubeapi.ErrEtcdStopped) {
		t.Fatalf("StartAPIServer after Stop: %v; want ErrEtcdStopped", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
}

// tb records what SkipUnlessCI does with a test instead of ending it.
type tb struct {
	testing.TB
	skipped, failed string
}

func (r *tb) Helper()                        {}
func (r *tb) Skip(args ...any)               { r.skipped = fmt.Sprint(args...) }
func (r *tb) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

// TestNotBuilt: without the binaries, StartServer says how to build them
// (ErrNotBuilt), and a test skips with that message, or fails with it when
// CI is set.
func TestNotBuilt(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(kubeapi.BinEnv, empty)
	_, err := kubeapi.BinDir()
	if !errors.Is(err, kubeapi.ErrNotBuilt) || !strings.Contains(err.Error(), "make kubeapi") || !strings.Contains(err.Error(), empty) {
		t.Fatalf("BinDir with no binaries: %v; want ErrNotBuilt naming `make kubeapi` and the directory", err)
	}
	if _, err := kubeapi.StartServer(t.TempDir(), kubeapi.Options{}); !errors.Is(err, kubeapi.ErrNotBuilt) {
		t.Fatalf("StartServer with no binaries: %v; want ErrNotBuilt", err)
	}

	t.Setenv("CI", "")
	r := &tb{TB: t}
	kubeapi.SkipUnlessCI(r, err)
	if r.skipped == "" || r.failed != "" || !strings.Contains(r.skipped, "internal/kubeapi") {
		t.Fatalf("without CI: skipped %q, failed %q; want skipped naming the harness", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &tb{TB: t}
	kubeapi.SkipUnlessCI(r, err)
	if r.failed == "" || r.skipped != "" || !strings.Contains(r.failed, "make kubeapi") {
		t.Fatalf("with CI: skipped %q, failed %q; want failed saying how to build it", r.skipped, r.failed)
	}
}

// TestBadInputs: a directory that is not there is ErrNoDir.
func TestBadInputs(t *testing.T) {
	missing := t.TempDir() + "/none"
	if _, err := kubeapi.StartServer(missing, kubeapi.Options{}); !errors.Is(err, kubeapi.ErrNoDir) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("StartServer in a missing directory: %v; want ErrNoDir naming it", err)
	}
}
