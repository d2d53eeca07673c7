package k8stest

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// What Pod gives every pod, and the provider/k8s settings that select it.
const (
	// Namespace is the namespace of Pod's pods.
	Namespace = "default"
	// PartOfLabel is the label Pod sets to PartOf; it is the label the
	// cluster package's default selector uses.
	PartOfLabel = "app.kubernetes.io/part-of"
	// PartOf is the value of PartOfLabel on Pod's pods: the default cluster
	// name.
	PartOf = "foundation"
	// Selector selects Pod's pods: k8s.Config.LabelSelector.
	Selector = PartOfLabel + "=" + PartOf
	// PortName is the conventional name of a member's container port:
	// k8s.Config.PortName.
	PortName = "foundation"
)

// Pod returns the pod of a member: in Namespace, labelled PartOfLabel=PartOf
// (so Selector selects it), with UID uid, one container "member" with the
// TCP container port portName:port, in phase Running with pod IP ip (empty:
// none assigned yet), and a PodReady condition True or False as ready says.
// Change the returned pod as a test needs (namespace, labels, annotations,
// deletion timestamp) before creating it.
func Pod(name, uid, ip, portName string, port int32, ready bool) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: Namespace,
			UID:       types.UID(uid),
			Labels:    map[string]string{PartOfLabel: PartOf},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "member",
			Image: "foundation-node",
			Ports: []corev1.ContainerPort{{Name: portName, ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
	if ip != "" {
		pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	return SetReady(pod, ready)
}

// SetReady sets pod's PodReady condition to True or False, adding it when
// missing, and returns pod.
func SetReady(pod *corev1.Pod, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			pod.Status.Conditions[i].Status = status
			return pod
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: status})
	return pod
}

// Clientset is client-go's fake clientset (k8s.io/client-go/kubernetes/fake)
// made to behave like an API server for pods, so that an informer misses
// nothing. Build it with NewClientset; use the embedded fake.Clientset as a
// kubernetes.Interface, and to create, update, patch and delete pods.
//
// Unlike the plain fake, it gives pods resource versions (one counter for
// every pod change) and lists them with the current one, and a pod watch
// starts at the resource version asked for: it first delivers the changes
// made since (so none is lost between an informer's list and its watch),
// or, from "" or "0", the current pods as Added. A watch from a version
// older than the last MaxEvents changes fails as expired (HTTP 410), as on a
// real server, and the informer lists again. Events are queued without
// bound, never dropped, and delivered in the order of the changes.
//
// Watches are filtered by namespace, not by label selector (the plain fake
// does not filter either): a consumer filters by labels itself. Pod changes
// made through DeleteCollection or directly on the Tracker are not seen by
// watches.
//
// Each pod watch has a goroutine that delivers its events; it ends when the
// watch is stopped, or after CloseWatches once its events are delivered.
type Clientset struct {
	*fake.Clientset

	mu      sync.Mutex
	rv      uint64             // resource version of the last pod change
	log     []logged           // the last MaxEvents pod changes, oldest first
	watches map[*podWatch]bool // open ones
	changed chan struct{}      // closed and replaced whenever a watch opens or ends
}

// MaxEvents is how many pod changes a Clientset keeps for watches that
// start at an older resource version.
const MaxEvents = 4096

// logged is one pod change.
type logged struct {
	rv        uint64
	namespace string
	event     watch.Event
}

var podsResource = corev1.SchemeGroupVersion.WithResource("pods")

// NewClientset returns a fake clientset holding objects; pods among them
// get resource versions in order.
func NewClientset(objects ...runtime.Object) *Clientset {
	c := &Clientset{
		Clientset: fake.NewSimpleClientset(),
		watches:   make(map[*podWatch]bool),
		changed:   make(chan struct{}),
	}
	for _, obj := range objects {
		obj = obj.DeepCopyObject()
		if pod, ok := obj.(*corev1.Pod); ok {
			c.rv++
			pod.ResourceVersion = strconv.FormatUint(c.rv, 10)
		}
		if err := c.Tracker().Add(obj); err != nil {
			panic(fmt.Sprintf("k8stest: adding %T: %v", obj, err))
		}
	}
	c.PrependReactor("*", "pods", c.change)
	c.PrependReactor("list", "pods", c.list)
	c.PrependWatchReactor("pods", c.watch)
	return c
}

// change applies a pod create, update, patch or delete to the tracker,
// stamps the pod with the next resource version and queues the event for
// the watches. Other verbs go on to the fake's own reactors.
func (c *Clientset) change(action k8stesting.Action) (bool, runtime.Object, error) {
	var name string
	var typ watch.EventType
	switch a := action.(type) {
	case k8stesting.CreateActionImpl:
		if a.GetSubresource() != "" {
			return false, nil, nil
		}
		m, err := meta.Accessor(a.GetObject())
		if err != nil {
			return true, nil, err
		}
		name, typ = m.GetName(), watch.Added
	case k8stesting.UpdateActionImpl:
		m, err := meta.Accessor(a.GetObject())
		if err != nil {
			return true, nil, err
		}
		name, typ = m.GetName(), watch.Modified
	case k8stesting.PatchActionImpl:
		name, typ = a.GetName(), watch.Modified
	case k8stesting.DeleteActionImpl:
		name, typ = a.GetName(), watch.Deleted
	default:
		return false, nil, nil
	}
	ns := action.GetNamespace()
	tracker := c.Tracker()

	c.mu.Lock()
	defer c.mu.Unlock()
	var gone runtime.Object
	if typ == watch.Deleted {
		obj, err := tracker.Get(podsResource, ns, name)
		if err != nil {
			return true, nil, err
		}
		gone = obj
	}
	if _, _, err := k8stesting.ObjectReaction(tracker)(action); err != nil {
		return true, nil, err
	}
	c.rv++
	rv := strconv.FormatUint(c.rv, 10)
	var pod *corev1.Pod
	if typ == watch.Deleted {
		pod = gone.(*corev1.Pod).DeepCopy()
		pod.ResourceVersion = rv
	} else {
		obj, err := tracker.Get(podsResource, ns, name)
		if err != nil {
			return true, nil, err
		}
		pod = obj.(*corev1.Pod).DeepCopy()
		pod.ResourceVersion = rv
		if err := tracker.Update(podsResource, pod.DeepCopy(), ns); err != nil {
			return true, nil, err
		}
	}
	ev := logged{rv: c.rv, namespace: ns, event: watch.Event{Type: typ, Object: pod}}
	if len(c.log) == MaxEvents {
		c.log[0] = logged{}
		c.log = c.log[1:]
	}
	c.log = append(c.log, ev)
	for w := range c.watches {
		if w.namespace == "" || w.namespace == ns {
			w.push(watch.Event{Type: typ, Object: pod.DeepCopy()})
		}
	}
	return true, pod.DeepCopy(), nil
}

// list lists pods with the current resource version.
func (c *Clientset) list(action k8stesting.Action) (bool, runtime.Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, obj, err := k8stesting.ObjectReaction(c.Tracker())(action)
	if err != nil {
		return true, nil, err
	}
	list, ok := obj.(*corev1.PodList)
	if !ok {
		return true, obj, nil
	}
	list.ResourceVersion = strconv.FormatUint(c.rv, 10)
	return true, list, nil
}

// watch opens a pod watch at the resource version asked for.
func (c *Clientset) watch(action k8stesting.Action) (bool, watch.Interface, error) {
	ns := action.GetNamespace()
	from := ""
	if wa, ok := action.(k8stesting.WatchAction); ok {
		from = wa.GetWatchRestrictions().ResourceVersion
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &podWatch{
		c:         c,
		namespace: ns,
		wake:      make(chan struct{}, 1),
		out:       make(chan watch.Event),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if from == "" || from == "0" {
		obj, err := c.Tracker().List(podsResource, corev1.SchemeGroupVersion.WithKind("Pod"), ns)
		if err != nil {
			return true, nil, err
		}
		for i := range obj.(*corev1.PodList).Items {
			w.queue = append(w.queue, watch.Event{Type: watch.Added, Object: obj.(*corev1.PodList).Items[i].DeepCopy()})
		}
	} else {
		since, err := strconv.ParseUint(from, 10, 64)
		if err != nil {
			return true, nil, apierrors.NewBadRequest(fmt.Sprintf("k8stest: resource version %q is not a number", from))
		}
		if len(c.log) > 0 && since+1 < c.log[0].rv {
			return true, nil, apierrors.NewResourceExpired(fmt.Sprintf("k8stest: too old resource version: %d (%d)", since, c.log[0].rv-1))
		}
		for _, l := range c.log {
			if l.rv > since && (ns == "" || l.namespace == ns) {
				w.queue = append(w.queue, watch.Event{Type: l.event.Type, Object: l.event.Object.DeepCopyObject()})
			}
		}
	}
	c.watches[w] = true
	c.notifyLocked()
	go w.run()
	return true, w, nil
}

func (c *Clientset) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// OpenWatches returns how many pod watches are open: started and neither
// stopped by their consumer nor ended by CloseWatches.
func (c *Clientset) OpenWatches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.watches)
}

// WaitWatches waits until exactly n pod watches are open, or until ctx is
// done (then it returns ctx's error).
func (c *Clientset) WaitWatches(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		open, changed := len(c.watches), c.changed
		c.mu.Unlock()
		if open == n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// CloseWatches ends every open pod watch, as an API server does when a
// watch times out: each delivers the events it holds, then its result
// channel closes. An informer watches again from the last version it saw.
func (c *Clientset) CloseWatches() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.watches {
		w.end()
	}
}

// podWatch is one pod watch of a Clientset.
type podWatch struct {
	c         *Clientset
	namespace string // "" for all

	mu    sync.Mutex
	queue []watch.Event
	ended bool // by CloseWatches: deliver the queue, then close out

	wake chan struct{} // capacity 1: queue or ended changed
	out  chan watch.Event
	stop chan struct{} // closed by Stop
	once sync.Once
	done chan struct{} // closed when run has returned
}

var _ watch.Interface = (*podWatch)(nil)

func (w *podWatch) push(ev watch.Event) {
	w.mu.Lock()
	if !w.ended {
		w.queue = append(w.queue, ev)
	}
	w.mu.Unlock()
	w.signal()
}

func (w *podWatch) end() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
	w.signal()
}

func (w *podWatch) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run delivers the queued events in order until Stop, or until the watch
// is ended and its queue empty.
func (w *podWatch) run() {
	defer func() {
		close(w.out)
		w.c.mu.Lock()
		delete(w.c.watches, w)
		w.c.notifyLocked()
		w.c.mu.Unlock()
		close(w.done)
	}()
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			ended := w.ended
			w.mu.Unlock()
			if ended {
				return
			}
			select {
			case <-w.wake:
				continue
			case <-w.stop:
				return
			}
		}
		ev := w.queue[0]
		w.queue[0] = watch.Event{}
		w.queue = w.queue[1:]
		w.mu.Unlock()
		select {
		case w.out <- ev:
		case <-w.stop:
			return
		}
	}
}

// Stop ends the watch and waits for its goroutine. It is idempotent.
func (w *podWatch) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// ResultChan returns the watch's events; it is closed when the watch ends.
func (w *podWatch) ResultChan() <-chan watch.Event { return w.out }
