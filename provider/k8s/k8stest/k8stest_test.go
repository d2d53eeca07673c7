package k8stest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
)

func TestPod(t *testing.T) {
	p := Pod("m1", "u1", "10.0.0.1", PortName, 7350, true)
	sel, err := labels.Parse(Selector)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case p.Name != "m1" || p.UID != "u1" || p.Namespace != Namespace:
		t.Errorf("meta %+v", p.ObjectMeta)
	case !sel.Matches(labels.Set(p.Labels)):
		t.Errorf("labels %v do not match %s", p.Labels, Selector)
	case p.Status.Phase != corev1.PodRunning || p.Status.PodIP != "10.0.0.1":
		t.Errorf("status %+v", p.Status)
	case len(p.Spec.Containers) != 1 || len(p.Spec.Containers[0].Ports) != 1 ||
		p.Spec.Containers[0].Ports[0].Name != PortName || p.Spec.Containers[0].Ports[0].ContainerPort != 7350:
		t.Errorf("containers %+v", p.Spec.Containers)
	}
	if !ready(p) {
		t.Error("not ready")
	}
	if SetReady(p, false); ready(p) || len(p.Status.Conditions) != 1 {
		t.Errorf("SetReady(false): %+v", p.Status.Conditions)
	}
	if q := Pod("m2", "u2", "", PortName, 7350, false); ready(q) || q.Status.PodIP != "" || q.Status.PodIPs != nil {
		t.Errorf("unready pod without IP: %+v", q.Status)
	}
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestClientsetWatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs := NewClientset()
	pods := cs.CoreV1().Pods(Namespace)
	w, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.WaitWatches(ctx, 1); err != nil || cs.OpenWatches() != 1 {
		t.Fatalf("open watches %d, %v; want 1", cs.OpenWatches(), err)
	}

	// More events than the fake tracker's buffer, none read meanwhile.
	const n = 300
	for i := range n {
		if _, err := pods.Create(ctx, Pod(fmt.Sprintf("p%d", i), fmt.Sprint(i), "10.0.0.1", PortName, 7350, true), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cs.CloseWatches()
	got := 0
	for ev := range w.ResultChan() {
		if ev.Type != watch.Added {
			t.Fatalf("event %v", ev.Type)
		}
		got++
	}
	if got != n {
		t.Errorf("%d events before the watch closed; want %d", got, n)
	}
	if err := cs.WaitWatches(ctx, 0); err != nil {
		t.Fatal(err)
	}
	w.Stop()
	w.Stop()

	// Stopped by its consumer.
	w, err = pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	if _, ok := <-w.ResultChan(); ok || cs.OpenWatches() != 0 {
		t.Errorf("after Stop: channel open %v, %d watches open", ok, cs.OpenWatches())
	}

	short, cancelShort := context.WithTimeout(ctx, time.Millisecond)
	defer cancelShort()
	if err := cs.WaitWatches(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitWatches with no watch = %v; want DeadlineExceeded", err)
	}
}

// TestClientsetResourceVersions: a watch starts where a list ended, so no
// change in between is lost; from "0" it starts with the current pods; from
// a version older than the kept changes it fails as expired.
func TestClientsetResourceVersions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs := NewClientset(Pod("a", "ua", "10.0.0.1", PortName, 7350, true))
	pods := cs.CoreV1().Pods(Namespace)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.ResourceVersion != "1" || list.Items[0].ResourceVersion != "1" {
		t.Fatalf("list %+v, %v; want pod a at version 1", list, err)
	}
	if _, err := pods.Create(ctx, Pod("b", "ub", "10.0.0.2", PortName, 7350, true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := pods.Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pods.UpdateStatus(ctx, SetReady(a, false), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	other := Pod("c", "uc", "10.0.0.3", PortName, 7350, true)
	other.Namespace = "elsewhere"
	if _, err := cs.CoreV1().Pods("elsewhere").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ADDED b 2", "MODIFIED a 3", "DELETED b 4"}
	for i, exp := range want {
		ev := <-w.ResultChan()
		pod := ev.Object.(*corev1.Pod)
		if got := fmt.Sprintf("%s %s %s", ev.Type, pod.Name, pod.ResourceVersion); got != exp {
			t.Errorf("event %d: %s; want %s", i, got, exp)
		}
	}
	w.Stop()

	w, err = pods.Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-w.ResultChan(); ev.Type != watch.Added || ev.Object.(*corev1.Pod).Name != "a" {
		t.Errorf("first event from 0: %v %v; want pod a added", ev.Type, ev.Object)
	}
	w.Stop()

	for i := range MaxEvents {
		a.Annotations = map[string]string{"n": fmt.Sprint(i)}
		if _, err := pods.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if !apierrors.IsResourceExpired(err) {
		t.Errorf("watch from an old version: %v; want expired", err)
	}
	if cs.OpenWatches() != 0 {
		t.Errorf("%d watches open", cs.OpenWatches())
	}
}
