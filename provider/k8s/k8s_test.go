package k8s_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/k8s"
	"github.com/foundation-go/foundation/provider/k8s/k8stest"
)

// waitTimeout bounds every wait for the provider to see a change.
const waitTimeout = 5 * time.Second

var self = provider.Member{ID: "self", Address: "10.0.0.100:7350", Cluster: "foundation"}

// recorder is an update function that checks the provider's promises: never
// called concurrently, never with the set it reported last.
type recorder struct {
	t        *testing.T
	inUpdate atomic.Int32

	mu      sync.Mutex
	sets    [][]string // each update, as "id=address" strings
	changed chan struct{}
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, changed: make(chan struct{})}
}

func (r *recorder) update(ms []provider.Member) {
	if r.inUpdate.Add(1) != 1 {
		r.t.Error("update called concurrently")
	}
	defer r.inUpdate.Add(-1)
	set := make([]string, len(ms))
	for i, m := range ms {
		set[i] = m.ID + "=" + m.Address
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.sets); n > 0 && slices.Equal(r.sets[n-1], set) {
		r.t.Errorf("update %d repeats the set %v", n, set)
	}
	r.sets = append(r.sets, set)
	close(r.changed)
	r.changed = make(chan struct{})
}

// next returns a channel closed at the next update.
func (r *recorder) next() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// last returns the last set reported and how many updates there were.
func (r *recorder) last() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return nil, 0
	}
	return r.sets[len(r.sets)-1], len(r.sets)
}

// waitFor waits until the last set reported is want (as "id=address"
// strings, ordered by id).
func (r *recorder) waitFor(t *testing.T, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		var got []string
		if n := len(r.sets); n > 0 {
			got = r.sets[n-1]
		}
		changed := r.changed
		r.mu.Unlock()
		if got != nil && slices.Equal(got, want) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("members = %v after %v; want %v", got, waitTimeout, want)
		}
	}
}

// fixture is a started provider on a fake clientset.
type fixture struct {
	cs   *k8stest.Clientset
	p    *k8s.Provider
	rec  *recorder
	logs *observer.ObservedLogs
}

func testConfig(cs *k8stest.Clientset, log *zap.Logger) k8s.Config {
	return k8s.Config{
		Client:        cs,
		Namespace:     k8stest.Namespace,
		LabelSelector: k8stest.Selector,
		PortName:      k8stest.PortName,
		PodName:       "pod-self",
		RetryMin:      time.Millisecond,
		RetryMax:      10 * time.Millisecond,
		StartTimeout:  waitTimeout,
		Logger:        log,
	}
}

// start starts a provider on cs (change, when not nil, edits its Config),
// waits for its watch and stops it when the test ends.
func start(t *testing.T, cs *k8stest.Clientset, change func(*k8s.Config)) *fixture {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := testConfig(cs, zap.New(core))
	if change != nil {
		change(&cfg)
	}
	p, err := k8s.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{cs: cs, p: p, rec: newRecorder(t), logs: logs}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := p.Start(ctx, self, f.rec.update); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.stop(t) })
	if _, n := f.rec.last(); n != 1 {
		t.Fatalf("Start returned after %d updates; want 1", n)
	}
	if err := cs.WaitWatches(ctx, 1); err != nil {
		t.Fatalf("the provider's watch did not open: %v", err)
	}
	return f
}

// stop stops the provider, checking that it takes less than a second and
// closes its watch.
func (f *fixture) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t0 := time.Now()
	if err := f.p.Stop(ctx); err != nil {
		t.Errorf("Stop: %v after %v", err, time.Since(t0))
	}
	if n := f.cs.OpenWatches(); n != 0 {
		t.Errorf("%d watches open after Stop", n)
	}
}

func (f *fixture) create(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if _, err := f.cs.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) change(t *testing.T, name string, change func(*corev1.Pod)) {
	t.Helper()
	ctx := context.Background()
	pods := f.cs.CoreV1().Pods(k8stest.Namespace)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(pod)
	if _, err := pods.Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) delete(t *testing.T, name string) {
	t.Helper()
	if err := f.cs.CoreV1().Pods(k8stest.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// count returns how many logs at level contain msg.
func (f *fixture) count(level zapcore.Level, msg string) int {
	return f.logs.Filter(func(e observer.LoggedEntry) bool {
		return e.Level == level && strings.Contains(e.Message, msg)
	}).Len()
}

func TestStartReportsOnlyServingSelectedPods(t *testing.T) {
	now := metav1.Now()
	other := k8stest.Pod("other-ns", "u-other-ns", "10.0.1.1", k8stest.PortName, 7350, true)
	other.Namespace = "elsewhere"
	otherApp := k8stest.Pod("other-app", "u-other-app", "10.0.1.2", k8stest.PortName, 7350, true)
	otherApp.Labels = map[string]string{k8stest.PartOfLabel: "billing"}
	pending := k8stest.Pod("pending", "u-pending", "10.0.1.3", k8stest.PortName, 7350, true)
	pending.Status.Phase = corev1.PodPending
	deleting := k8stest.Pod("deleting", "u-deleting", "10.0.1.4", k8stest.PortName, 7350, true)
	deleting.DeletionTimestamp = &now
	deleting.Finalizers = []string{"example.com/hold"}
	cs := k8stest.NewClientset(
		k8stest.Pod("ready", "u-ready", "10.0.0.1", k8stest.PortName, 7350, true),
		k8stest.Pod("other-port", "u-other-port", "10.0.0.2", k8stest.PortName, 9000, true),
		k8stest.Pod("not-ready", "u-not-ready", "10.0.0.3", k8stest.PortName, 7350, false),
		k8stest.Pod("no-ip", "u-no-ip", "", k8stest.PortName, 7350, true),
		k8stest.Pod("no-port", "u-no-port", "10.0.0.5", "http", 8080, true),
		other, otherApp, pending, deleting,
	)
	f := start(t, cs, nil)
	got, _ := f.rec.last()
	want := []string{"u-other-port=10.0.0.2:9000", "u-ready=10.0.0.1:7350"}
	if !slices.Equal(got, want) {
		t.Fatalf("first update %v; want %v", got, want)
	}
	if n := f.count(zapcore.WarnLevel, "without the container port"); n != 1 {
		t.Errorf("%d warnings about the pod without the port; want 1", n)
	}
	if n := f.count(zapcore.InfoLevel, "not among them"); n != 1 {
		t.Errorf("%d notes that this member's pod is not selected; want 1", n)
	}
}

func TestEventsAreReflected(t *testing.T) {
	f := start(t, k8stest.NewClientset(), nil)
	f.rec.waitFor(t)

	f.create(t, k8stest.Pod("a", "u-a", "10.0.0.1", k8stest.PortName, 7350, true))
	f.rec.waitFor(t, "u-a=10.0.0.1:7350")

	f.change(t, "a", func(p *corev1.Pod) { k8stest.SetReady(p, false) })
	f.rec.waitFor(t)
	f.change(t, "a", func(p *corev1.Pod) { k8stest.SetReady(p, true) })
	f.rec.waitFor(t, "u-a=10.0.0.1:7350")

	// A pod scheduled but without an IP yet joins when it gets one.
	f.create(t, k8stest.Pod("b", "u-b", "", k8stest.PortName, 7350, true))
	f.change(t, "b", func(p *corev1.Pod) { p.Status.PodIP = "10.0.0.2" })
	f.rec.waitFor(t, "u-a=10.0.0.1:7350", "u-b=10.0.0.2:7350")

	// Renaming the port drops the pod (logged once however often it
	// changes); naming it again brings it back, with the new port number.
	f.change(t, "b", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "http" })
	f.rec.waitFor(t, "u-a=10.0.0.1:7350")
	f.change(t, "b", func(p *corev1.Pod) { p.Annotations = map[string]string{"touched": "1"} })
	f.change(t, "b", func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports[0].Name = k8stest.PortName
		p.Spec.Containers[0].Ports[0].ContainerPort = 7351
	})
	f.rec.waitFor(t, "u-a=10.0.0.1:7350", "u-b=10.0.0.2:7351")
	if n := f.count(zapcore.WarnLevel, "without the container port"); n != 1 {
		t.Errorf("%d warnings about the renamed port; want 1", n)
	}

	// Changes that do not touch the member set report nothing (recorder
	// fails on a repeated set); the next real change is reported.
	f.change(t, "a", func(p *corev1.Pod) { p.Annotations = map[string]string{"unrelated": "x"} })
	f.change(t, "a", func(p *corev1.Pod) { p.Labels["extra"] = "y" })
	f.change(t, "a", func(p *corev1.Pod) { p.Labels[k8stest.PartOfLabel] = "billing" })
	f.rec.waitFor(t, "u-b=10.0.0.2:7351")

	// Terminating, then gone.
	f.change(t, "b", func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now })
	f.rec.waitFor(t)
	f.create(t, k8stest.Pod("c", "u-c", "10.0.0.3", k8stest.PortName, 7350, true))
	f.rec.waitFor(t, "u-c=10.0.0.3:7350")
	f.delete(t, "c")
	f.rec.waitFor(t)

	// Pods of other namespaces never show up, even created while watching.
	other := k8stest.Pod("d", "u-d", "10.0.0.4", k8stest.PortName, 7350, true)
	other.Namespace = "elsewhere"
	f.create(t, other)
	f.create(t, k8stest.Pod("e", "u-e", "10.0.0.5", k8stest.PortName, 7350, true))
	f.rec.waitFor(t, "u-e=10.0.0.5:7350")
}

// TestSimultaneousChanges: several members failing at once are all seen
// (proto.actor's Kubernetes provider lost some of them).
func TestSimultaneousChanges(t *testing.T) {
	cs := k8stest.NewClientset(
		k8stest.Pod("m1", "u1", "10.0.0.1", k8stest.PortName, 7350, true),
		k8stest.Pod("m2", "u2", "10.0.0.2", k8stest.PortName, 7350, true),
		k8stest.Pod("m3", "u3", "10.0.0.3", k8stest.PortName, 7350, true),
	)
	f := start(t, cs, nil)
	f.rec.waitFor(t, "u1=10.0.0.1:7350", "u2=10.0.0.2:7350", "u3=10.0.0.3:7350")
	f.delete(t, "m1")
	f.delete(t, "m3")
	f.create(t, k8stest.Pod("m4", "u4", "10.0.0.4", k8stest.PortName, 7350, true))
	f.rec.waitFor(t, "u2=10.0.0.2:7350", "u4=10.0.0.4:7350")

	// Many at once: all ten join, then eight leave and one turns not ready.
	for i := range 10 {
		f.create(t, k8stest.Pod(fmt.Sprintf("n%d", i), fmt.Sprintf("v%d", i), fmt.Sprintf("10.0.1.%d", i), k8stest.PortName, 7350, true))
	}
	want := []string{"u2=10.0.0.2:7350", "u4=10.0.0.4:7350"}
	for i := range 10 {
		want = append(want, fmt.Sprintf("v%d=10.0.1.%d:7350", i, i))
	}
	f.rec.waitFor(t, want...)
	for i := range 8 {
		f.delete(t, fmt.Sprintf("n%d", i))
	}
	f.change(t, "m2", func(p *corev1.Pod) { k8stest.SetReady(p, false) })
	f.rec.waitFor(t, "u4=10.0.0.4:7350", "v8=10.0.1.8:7350", "v9=10.0.1.9:7350")
}

func TestDefaultPortIsSelfs(t *testing.T) {
	cs := k8stest.NewClientset(k8stest.Pod("a", "u-a", "10.0.0.1", "whatever", 9999, true))
	f := start(t, cs, func(c *k8s.Config) { c.PortName = "" })
	f.rec.waitFor(t, "u-a=10.0.0.1:7350")

	p, err := k8s.New(testConfig(cs, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(cs, nil)
	cfg.PortName = ""
	if p, err = k8s.New(cfg); err != nil {
		t.Fatal(err)
	}
	bad := provider.Member{ID: "x", Address: "10.0.0.100"}
	if err := p.Start(context.Background(), bad, func([]provider.Member) {}); !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), "self.Address") {
		t.Errorf("Start with a port-less self.Address: %v; want ErrInvalidConfig naming self.Address", err)
	}
}

func TestMemberFieldsFromAnnotations(t *testing.T) {
	pod := k8stest.Pod("a", "u-a", "10.0.0.1", k8stest.PortName, 7350, true)
	pod.Annotations = map[string]string{k8s.AnnotationCluster: "shop", k8s.AnnotationKinds: "cart,user", k8s.AnnotationVersion: "v1.0.0"}
	cs := k8stest.NewClientset(pod)
	core, _ := observer.New(zapcore.DebugLevel)
	p, err := k8s.New(testConfig(cs, zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	var got []provider.Member
	if err := p.Start(context.Background(), self, func(ms []provider.Member) { got = ms }); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := provider.Member{ID: "u-a", Address: "10.0.0.1:7350", Cluster: "shop", Kinds: []string{"cart", "user"}, Version: "v1.0.0"}
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Errorf("members %+v; want [%+v]", got, want)
	}
}

func TestStopIsQuickAndIdempotent(t *testing.T) {
	cs := k8stest.NewClientset(k8stest.Pod("pod-self", "u-self", "10.0.0.100", k8stest.PortName, 7350, true))
	f := start(t, cs, nil)
	if n := f.count(zapcore.InfoLevel, "watching member pods"); n != 1 {
		t.Errorf("%d start logs; want 1", n)
	}
	f.stop(t)
	f.stop(t)
	_, updates := f.rec.last()
	if err := f.p.Start(context.Background(), self, f.rec.update); !errors.Is(err, provider.ErrStopped) {
		t.Errorf("Start after Stop = %v; want ErrStopped", err)
	}
	f.create(t, k8stest.Pod("late", "u-late", "10.0.0.9", k8stest.PortName, 7350, true))
	if _, n := f.rec.last(); n != updates {
		t.Errorf("%d updates after Stop", n-updates)
	}

	// Never started: Stop is fine, Start then refused.
	p, err := k8s.New(testConfig(cs, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), self, f.rec.update); !errors.Is(err, provider.ErrStopped) {
		t.Errorf("Start after Stop = %v; want ErrStopped", err)
	}
}

func TestStartTwice(t *testing.T) {
	f := start(t, k8stest.NewClientset(), nil)
	if err := f.p.Start(context.Background(), self, f.rec.update); !errors.Is(err, k8s.ErrStarted) {
		t.Errorf("second Start = %v; want ErrStarted", err)
	}
	if err := f.p.Start(context.Background(), self, nil); !errors.Is(err, provider.ErrInvalidConfig) {
		t.Errorf("Start with a nil update = %v; want ErrInvalidConfig", err)
	}
}

// failLists makes every pod list fail with err while *on is true, counts
// the failures, and closes nth (when not nil) at the nth failure.
func failLists(cs *k8stest.Clientset, on *atomic.Bool, failures *atomic.Int32, err error, n int32, nth chan struct{}) {
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if on.Load() {
			if failures.Add(1) == n && nth != nil {
				close(nth)
			}
			return true, nil, err
		}
		return false, nil, nil
	})
}

func TestStartUnavailable(t *testing.T) {
	cs := k8stest.NewClientset(k8stest.Pod("a", "u-a", "10.0.0.1", k8stest.PortName, 7350, true))
	var on atomic.Bool
	var failures atomic.Int32
	on.Store(true)
	failLists(cs, &on, &failures, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("RBAC: no")), 0, nil)
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := testConfig(cs, zap.New(core))
	cfg.StartTimeout = 100 * time.Millisecond
	p, err := k8s.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	err = p.Start(context.Background(), self, func([]provider.Member) { t.Error("update after a failed Start") })
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Start = %v; want ErrUnavailable", err)
	}
	for _, s := range []string{`namespace "default"`, "the API server", "forbidden", "rbac.yaml"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Start error %q does not mention %q", err, s)
		}
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Start took %v with StartTimeout 100ms", d)
	}
	if failures.Load() < 3 {
		t.Errorf("%d list attempts; want retries", failures.Load())
	}
	if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Errorf("%d warnings for one outage; want 1: %v", n, logs.All())
	}

	// A failed Start may be retried; it recovers and says so once.
	on.Store(false)
	rec := newRecorder(t)
	if err := p.Start(context.Background(), self, rec.update); err != nil {
		t.Fatalf("Start after the outage: %v", err)
	}
	rec.waitFor(t, "u-a=10.0.0.1:7350")
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartRetriesAFailingList(t *testing.T) {
	cs := k8stest.NewClientset(k8stest.Pod("a", "u-a", "10.0.0.1", k8stest.PortName, 7350, true))
	var on atomic.Bool
	var failures atomic.Int32
	on.Store(true)
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures.Load() >= 5 {
			return false, nil, nil
		}
		failures.Add(1)
		return true, nil, errors.New("dial tcp 10.96.0.1:443: connect: connection refused")
	})
	f := start(t, cs, nil)
	f.rec.waitFor(t, "u-a=10.0.0.1:7350")
	if w, i := f.count(zapcore.WarnLevel, "failing"), f.count(zapcore.InfoLevel, "working again"); w != 1 || i != 1 {
		t.Errorf("%d warnings and %d recoveries logged for 5 failures; want 1 and 1", w, i)
	}
}

func TestStartGivesUpWithCtxOrStop(t *testing.T) {
	down := func() (k8s.Config, chan struct{}) {
		cs := k8stest.NewClientset()
		var on atomic.Bool
		var failures atomic.Int32
		on.Store(true)
		retrying := make(chan struct{})
		failLists(cs, &on, &failures, errors.New("connection refused"), 2, retrying)
		cfg := testConfig(cs, nil)
		cfg.StartTimeout = time.Minute
		return cfg, retrying
	}

	cfg, _ := down()
	p, err := k8s.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Start(ctx, self, func([]provider.Member) {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start with an expiring ctx = %v; want DeadlineExceeded", err)
	}

	cfg, retrying := down()
	if p, err = k8s.New(cfg); err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- p.Start(context.Background(), self, func([]provider.Member) {}) }()
	select {
	case <-retrying:
	case err := <-started:
		t.Fatalf("Start returned %v while the API server was down", err)
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), time.Second)
	defer stopCancel()
	if err := p.Stop(stopCtx); err != nil {
		t.Fatalf("Stop during Start: %v", err)
	}
	if err := <-started; !errors.Is(err, provider.ErrStopped) {
		t.Errorf("Start interrupted by Stop = %v; want ErrStopped", err)
	}
}

// TestWatchOutageLoggedOnce: a watch that keeps failing is retried with
// backoff, logged once when it starts failing and once when it recovers,
// and the member set is current again afterwards.
func TestWatchOutageLoggedOnce(t *testing.T) {
	cs := k8stest.NewClientset(k8stest.Pod("a", "u-a", "10.0.0.1", k8stest.PortName, 7350, true))
	var failing atomic.Bool
	var attempts atomic.Int32
	tenth := make(chan struct{})
	cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		if failing.Load() {
			if attempts.Add(1) == 10 {
				close(tenth)
			}
			return true, nil, errors.New("connection refused")
		}
		return false, nil, nil
	})
	f := start(t, cs, nil)
	f.rec.waitFor(t, "u-a=10.0.0.1:7350")

	failing.Store(true)
	cs.CloseWatches()
	select {
	case <-tenth:
	case <-time.After(waitTimeout):
		t.Fatalf("%d watch attempts in %v; want retries", attempts.Load(), waitTimeout)
	}
	if w := f.count(zapcore.WarnLevel, "failing"); w != 1 {
		t.Errorf("%d warnings after %d failed watches; want 1", w, attempts.Load())
	}

	// A pod that joins during the outage is seen once the watch is back.
	f.create(t, k8stest.Pod("b", "u-b", "10.0.0.2", k8stest.PortName, 7350, true))
	failing.Store(false)
	f.rec.waitFor(t, "u-a=10.0.0.1:7350", "u-b=10.0.0.2:7350")
	if w, i := f.count(zapcore.WarnLevel, "failing"), f.count(zapcore.InfoLevel, "working again"); w != 1 || i != 1 {
		t.Errorf("%d warnings and %d recoveries logged for one outage; want 1 and 1", w, i)
	}
}

// TestResyncReportsNothingNew: a resync re-delivers every pod; the set is
// re-computed but not reported, as it did not change.
func TestResyncReportsNothingNew(t *testing.T) {
	cs := k8stest.NewClientset(k8stest.Pod("a", "u-a", "10.0.0.1", k8stest.PortName, 7350, true))
	f := start(t, cs, func(c *k8s.Config) { c.ResyncPeriod = k8s.MinResyncPeriod })
	// The pod's Add event from the first list makes one such log; the
	// resync, a second.
	deadline := time.After(waitTimeout)
	for f.count(zapcore.DebugLevel, "member set unchanged") < 2 {
		select {
		case <-f.rec.next():
			t.Fatalf("update on resync: %v", f.rec.sets)
		case <-deadline:
			t.Fatal("no resync")
		case <-time.After(10 * time.Millisecond): // polling the log observer
		}
	}
	f.delete(t, "a")
	f.rec.waitFor(t)
	if _, n := f.rec.last(); n != 2 {
		t.Errorf("%d updates for one change; want 2", n)
	}
}

// TestStartUnreachableServer: a real client dialling a closed port; the
// error names the API server's address.
func TestStartUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	p, err := k8s.New(k8s.Config{
		Client: client, Namespace: "shop", LabelSelector: k8stest.Selector,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, StartTimeout: 100 * time.Millisecond,
		Logger: zap.New(core),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start(context.Background(), self, func([]provider.Member) {})
	if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), "http://"+addr) || !strings.Contains(err.Error(), `namespace "shop"`) {
		t.Fatalf("Start = %v; want ErrUnavailable naming http://%s and the namespace", err, addr)
	}
	if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Errorf("%d warnings; want 1", n)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
