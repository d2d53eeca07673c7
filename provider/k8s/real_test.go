package k8s_test

// Tests against a real kube-apiserver (internal/kubeapi; `make kubeapi`
// builds it). They skip when it is not built, and fail then when CI is set.

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/foundation-go/foundation/internal/kubeapi"
	"github.com/foundation-go/foundation/provider/k8s"
	"github.com/foundation-go/foundation/provider/k8s/k8stest"
)

// realWait bounds every wait for the provider to see a change made through
// the real server (milliseconds when idle; CI's machine may be loaded).
const realWait = 15 * time.Second

// realFixture is a provider started on a real API server, watching a
// namespace of its own.
type realFixture struct {
	srv    *kubeapi.Server
	admin  *kubernetes.Clientset // the test's own client
	ns     string
	p      *k8s.Provider
	rec    *recorder
	logs   *observer.ObservedLogs
	dialer *kubeapi.Dialer // the provider's connections
	lists  atomic.Int32    // list requests (not watches) the provider sent
}

// startReal starts a provider on srv in a new namespace (change, when not
// nil, edits its Config) and stops it when the test ends.
func startReal(t *testing.T, srv *kubeapi.Server, change func(*k8s.Config)) *realFixture {
	t.Helper()
	f := &realFixture{srv: srv, rec: newRecorder(t)}
	f.admin, _ = kubeapi.Client(t, srv.Config())
	f.ns = kubeapi.NewNamespace(t, f.admin)
	cfg := srv.Config()
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/pods") && req.URL.Query().Get("watch") != "true" {
				f.lists.Add(1)
			}
			return rt.RoundTrip(req)
		})
	}
	var client *kubernetes.Clientset
	client, f.dialer = kubeapi.Client(t, cfg)
	core, logs := observer.New(zapcore.DebugLevel)
	f.logs = logs
	kc := k8s.Config{
		Client:        client,
		Namespace:     f.ns,
		LabelSelector: k8stest.Selector,
		PortName:      k8stest.PortName,
		PodName:       "pod-self",
		RetryMin:      10 * time.Millisecond,
		RetryMax:      200 * time.Millisecond,
		StartTimeout:  realWait,
		Logger:        zap.New(core),
	}
	if change != nil {
		change(&kc)
	}
	p, err := k8s.New(kc)
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	ctx, cancel := context.WithTimeout(context.Background(), realWait)
	defer cancel()
	if err := p.Start(ctx, self, f.rec.update); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return f
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// pod returns a member pod of f's namespace as a test creates it: no
// status, so it is Pending with no IP until setStatus or create gives it
// one.
func (f *realFixture) pod(name string, port int32) *corev1.Pod {
	pod := k8stest.Pod(name, "", "", k8stest.PortName, port, false)
	pod.Namespace = f.ns
	pod.Status = corev1.PodStatus{}
	return pod
}

// create creates pod, then gives it, through the status subresource as a
// kubelet would, the phase Running, the IP ip and a Ready condition.
func (f *realFixture) create(t *testing.T, pod *corev1.Pod, ip string, ready bool) {
	t.Helper()
	pod = pod.DeepCopy()
	pod.Status = corev1.PodStatus{}
	ctx, cancel := context.WithTimeout(context.Background(), realWait)
	defer cancel()
	if _, err := kubeapi.CreatePod(ctx, f.admin, pod); err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.SetPodStatus(ctx, f.admin, pod.Namespace, pod.Name, kubeapi.Running(ip, ready)); err != nil {
		t.Fatal(err)
	}
}

func (f *realFixture) setStatus(t *testing.T, name string, change func(*corev1.PodStatus)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), realWait)
	defer cancel()
	if err := kubeapi.SetPodStatus(ctx, f.admin, f.ns, name, change); err != nil {
		t.Fatal(err)
	}
}

// remove deletes pod name with its default grace period, as `kubectl
// delete pod` does.
func (f *realFixture) remove(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), realWait)
	defer cancel()
	if err := f.admin.CoreV1().Pods(f.ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitAddrs waits until the provider's last set holds members at exactly
// addrs (ordered by member ID, which the server chose; so compared as
// sets).
func (f *realFixture) waitAddrs(t *testing.T, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.After(realWait)
	for {
		f.rec.mu.Lock()
		var got []string
		n := len(f.rec.sets)
		if n > 0 {
			for _, m := range f.rec.sets[n-1] {
				got = append(got, m[strings.Index(m, "=")+1:])
			}
		}
		changed := f.rec.changed
		f.rec.mu.Unlock()
		slices.Sort(got)
		if n > 0 && slices.Equal(got, want) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("member addresses %v after %v; want %v", got, realWait, want)
		}
	}
}

// podEvent is one event of a pod watch: its type and whether the pod had a
// deletion timestamp.
type podEvent struct {
	typ      watch.EventType
	deleting bool
}

// eventLog is a watch of its own on f's namespace, recording each pod's
// events as the server sends them.
type eventLog struct {
	mu     sync.Mutex
	events map[string][]podEvent
	change chan struct{}
}

func (f *realFixture) watchEvents(t *testing.T) *eventLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := f.admin.CoreV1().Pods(f.ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l := &eventLog{events: make(map[string][]podEvent), change: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			l.mu.Lock()
			l.events[pod.Name] = append(l.events[pod.Name], podEvent{ev.Type, pod.DeletionTimestamp != nil})
			close(l.change)
			l.change = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		w.Stop()
		cancel()
		<-done
	})
	return l
}

// waitLast waits until pod name's last event is want (its type, and
// whether the pod had a deletion timestamp), and returns its events.
func (l *eventLog) waitLast(t *testing.T, name string, want podEvent) []podEvent {
	t.Helper()
	deadline := time.After(realWait)
	for {
		l.mu.Lock()
		evs := slices.Clone(l.events[name])
		change := l.change
		l.mu.Unlock()
		if len(evs) > 0 && evs[len(evs)-1] == want {
			return evs
		}
		select {
		case <-change:
		case <-deadline:
			t.Fatalf("pod %s: events %v; want a last %v", name, evs, want)
		}
	}
}

// TestRealPodLifecycle follows pods through a real API server: a pod
// becomes a member only once a kubelet would have made it Running and Ready
// with an IP (written through the status subresource); a delete reaches the
// watch as MODIFIED with a deletion timestamp, then DELETED, and the member
// leaves at the first; a pod bound to a node stays Terminating after a
// graceful delete (no kubelet confirms it) and is not a member meanwhile.
func TestRealPodLifecycle(t *testing.T) {
	f := startReal(t, kubeapi.Shared(t), nil)
	f.waitAddrs(t)
	events := f.watchEvents(t)

	// Created: Pending, no IP. Then Running with an IP but not Ready.
	ctx, cancel := context.WithTimeout(context.Background(), realWait)
	defer cancel()
	created, err := kubeapi.CreatePod(ctx, f.admin, f.pod("a", 7350))
	if err != nil {
		t.Fatal(err)
	}
	if created.Status.Phase != corev1.PodPending || created.Status.PodIP != "" {
		t.Fatalf("a created pod is %s with IP %q; want Pending without an IP", created.Status.Phase, created.Status.PodIP)
	}
	f.setStatus(t, "a", kubeapi.Running("10.0.0.1", false))
	// Another pod made Ready shows that a, processed before it, is not a
	// member yet.
	f.create(t, f.pod("b", 7350), "10.0.0.2", true)
	f.waitAddrs(t, "10.0.0.2:7350")
	f.setStatus(t, "a", kubeapi.Ready(true))
	f.waitAddrs(t, "10.0.0.1:7350", "10.0.0.2:7350")

	// Not ready again, then ready: out, then in.
	f.setStatus(t, "b", kubeapi.Ready(false))
	f.waitAddrs(t, "10.0.0.1:7350")
	f.setStatus(t, "b", kubeapi.Ready(true))
	f.waitAddrs(t, "10.0.0.1:7350", "10.0.0.2:7350")

	// A pod on no node is deleted at once: MODIFIED (deletion timestamp),
	// then DELETED; the member leaves once.
	f.remove(t, "a")
	evs := events.waitLast(t, "a", podEvent{watch.Deleted, true})
	if n := len(evs); n < 2 || evs[n-2] != (podEvent{watch.Modified, true}) {
		t.Fatalf("pod a's events %v; want ... MODIFIED(deleting) DELETED", evs)
	}
	f.waitAddrs(t, "10.0.0.2:7350")

	// A pod bound to a node stays Terminating after a graceful delete:
	// not a member, whatever its status says.
	c := f.pod("c", 7351)
	c.Spec.NodeName = "node-1"
	f.create(t, c, "10.0.0.3", true)
	f.waitAddrs(t, "10.0.0.2:7350", "10.0.0.3:7351")
	f.remove(t, "c")
	f.waitAddrs(t, "10.0.0.2:7350")
	got, err := f.admin.CoreV1().Pods(f.ns).Get(ctx, "c", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("pod c after a graceful delete: %v (err %v); want it still there, Terminating", got, err)
	}
	events.waitLast(t, "c", podEvent{watch.Modified, true})
	f.setStatus(t, "c", func(s *corev1.PodStatus) { s.Message = "still running its preStop hook" })
	// Force-deleted, it goes (DELETED), and the member set does not
	// change: the recorder fails the test on a repeated set.
	if err := kubeapi.ForceDelete(ctx, f.admin, f.ns, "c"); err != nil {
		t.Fatal(err)
	}
	events.waitLast(t, "c", podEvent{watch.Deleted, true})
	f.create(t, f.pod("d", 7350), "10.0.0.4", true)
	f.waitAddrs(t, "10.0.0.2:7350", "10.0.0.4:7350")

	// Pods of another namespace, or not selected, never show up.
	other := k8stest.Pod("e", "", "", k8stest.PortName, 7350, true)
	other.Namespace = kubeapi.NewNamespace(t, f.admin)
	f.create(t, other, "10.0.0.5", true)
	unselected := f.pod("f", 7350)
	unselected.Labels = map[string]string{k8stest.PartOfLabel: "billing"}
	f.create(t, unselected, "10.0.0.6", true)
	f.remove(t, "d")
	f.waitAddrs(t, "10.0.0.2:7350")
}

// TestRealRelistAfterCompaction: the provider's watch is cut off; while it
// cannot reconnect, pods change and etcd compacts away the revisions the
// watch would resume from. Back, the watch fails with "too old resource
// version" (the server's watch cache is off here, so etcd itself answers,
// as a production server does to a watch that fell behind its cache), and
// the informer lists again: the member set is current, and a second list
// was sent.
func TestRealRelistAfterCompaction(t *testing.T) {
	t.Parallel() // a server of its own: its start and stop overlap the other's
	srv := kubeapi.Start(t, kubeapi.Options{NoWatchCache: true})
	f := startReal(t, srv, nil)
	f.create(t, f.pod("a", 7350), "10.0.0.1", true)
	f.create(t, f.pod("b", 7350), "10.0.0.2", true)
	f.waitAddrs(t, "10.0.0.1:7350", "10.0.0.2:7350")
	lists := f.lists.Load()
	ctx, cancel := context.WithTimeout(context.Background(), realWait)
	defer cancel()
	seen, err := f.admin.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	f.dialer.Refuse(true)
	f.dialer.Cut()
	f.remove(t, "a")
	f.create(t, f.pod("c", 7350), "10.0.0.3", true)
	compact(t, srv)
	// A watch from where the provider was is refused now: 410.
	w, err := f.admin.CoreV1().Pods(f.ns).Watch(ctx, metav1.ListOptions{ResourceVersion: seen.ResourceVersion})
	if err == nil {
		ev := <-w.ResultChan()
		w.Stop()
		if ev.Type != watch.Error {
			t.Fatalf("a watch from a compacted resource version gave %s %v; want an ERROR", ev.Type, ev.Object)
		}
		err = apierrors.FromObject(ev.Object)
	}
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("a watch from a compacted resource version: %v; want 410 Expired or Gone", err)
	}
	// The watch is failing (refused) before it may come back.
	deadline := time.After(realWait)
	for f.count(zapcore.WarnLevel, "failing") == 0 {
		select {
		case <-deadline:
			t.Fatal("the provider did not notice the cut")
		case <-time.After(10 * time.Millisecond): // polling the log observer
		}
	}
	f.dialer.Refuse(false)
	f.waitAddrs(t, "10.0.0.2:7350", "10.0.0.3:7350")
	if n := f.lists.Load(); n <= lists {
		t.Fatalf("%d lists before the compaction, %d after; want a new list", lists, n)
	}
	if n := f.count(zapcore.InfoLevel, "working again"); n != 1 {
		t.Errorf("%d recoveries logged; want 1", n)
	}
}

// compact compacts srv's etcd up to its current revision.
func compact(t *testing.T, srv *kubeapi.Server) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.EtcdEndpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), realWait)
	defer cancel()
	resp, err := cli.Get(ctx, "compact-probe")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
}

// TestRealServerRestart: the provider survives its API server going away
// (connections refused), and the API server and etcd restarting (every
// connection cut, the watch cache rebuilt); changes made after each come
// through.
func TestRealServerRestart(t *testing.T) {
	t.Parallel() // a server of its own: its start and stop overlap the other's
	srv := kubeapi.Start(t, kubeapi.Options{})
	f := startReal(t, srv, nil)
	f.create(t, f.pod("a", 7350), "10.0.0.1", true)
	f.create(t, f.pod("b", 7350), "10.0.0.2", true)
	f.waitAddrs(t, "10.0.0.1:7350", "10.0.0.2:7350")

	if err := srv.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(realWait)
	for f.count(zapcore.WarnLevel, "failing") == 0 {
		select {
		case <-deadline:
			t.Fatal("the provider did not notice the API server's stop")
		case <-time.After(10 * time.Millisecond): // polling the log observer
		}
	}
	if err := srv.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	f.remove(t, "a")
	f.create(t, f.pod("c", 7350), "10.0.0.3", true)
	f.waitAddrs(t, "10.0.0.2:7350", "10.0.0.3:7350")

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	f.remove(t, "b")
	f.waitAddrs(t, "10.0.0.3:7350")
	if n := f.count(zapcore.WarnLevel, "failing"); n < 1 {
		t.Errorf("%d outages logged", n)
	}
}

func (f *realFixture) count(level zapcore.Level, msg string) int {
	return f.logs.Filter(func(e observer.LoggedEntry) bool {
		return e.Level == level && strings.Contains(e.Message, msg)
	}).Len()
}
