package k8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/foundation-go/foundation/internal/backoff"
	"github.com/foundation-go/foundation/provider"
)

// Errors returned by this package besides the provider package's
// ErrInvalidConfig, ErrUnavailable and ErrStopped. Compare them with
// errors.Is.
var (
	// ErrStarted: Start on a Provider that is already started.
	ErrStarted = errors.New("k8s: already started")
)

// syncPoll is how often Start checks whether the first list has arrived.
const syncPoll = 5 * time.Millisecond

// Provider reports the Running and Ready pods a label selector picks as
// members. It implements provider.Provider; build one with New. Start and
// Stop are safe for concurrent use.
type Provider struct {
	cfg    Config // defaults applied, Namespace and PodName resolved
	log    *zap.Logger
	sel    labels.Selector
	server string // the API server, for messages

	mu    sync.Mutex // guards state and run
	state state
	run   *run // the current run; nil when idle
}

type state int

const (
	idle state = iota
	running
	stopped
)

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider for cfg, which it copies. An empty Namespace is
// read from NamespaceFile, else from the environment variable
// EnvPodNamespace; an empty PodName from EnvPodName, else the host name. A
// cfg that then fails Validate is an error wrapping provider.ErrInvalidConfig
// that names the field. New contacts nothing; Start does.
func New(cfg Config) (*Provider, error) {
	cfg, err := cfg.resolve(NamespaceFile, os.Getenv, os.Hostname)
	if err != nil {
		return nil, err
	}
	sel, err := labels.Parse(cfg.LabelSelector)
	if err != nil { // Validate parsed it already
		return nil, fmt.Errorf("%w: k8s: Config.LabelSelector: %v", provider.ErrInvalidConfig, err)
	}
	return &Provider{cfg: cfg, log: cfg.Logger, sel: sel, server: apiServer(cfg.Client)}, nil
}

// apiServer names the API server c talks to, for messages.
func apiServer(c kubernetes.Interface) string {
	core := c.CoreV1()
	if core == nil {
		return "the API server"
	}
	if rc, ok := core.RESTClient().(*rest.RESTClient); ok && rc != nil {
		if u := rc.Get().URL(); u != nil && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	return "the API server"
}

// run is one started Provider: the informer, the loop and what they share.
type run struct {
	ctx    context.Context // cancelled by halt; bounds API calls
	cancel context.CancelFunc
	stop   chan struct{} // closed by halt: stops the informer and loop
	once   sync.Once

	informer cache.SharedIndexInformer
	dirty    chan struct{} // capacity 1: the store changed since loop last read it
	synced   chan struct{} // closed by Start when the first list is in the store
	watching chan struct{} // closed when a watch call first succeeds
	watchOK  sync.Once
	first    chan struct{} // closed by loop when update has had the first set
	calls    gate          // list and watch calls in flight
	health   *backoff.Episode

	informerDone chan struct{}
	loopDone     chan struct{}
}

// halt stops the run's goroutines without waiting for them.
func (r *run) halt() {
	r.once.Do(func() {
		close(r.stop)
		r.cancel()
	})
}

// wait waits until every goroutine of r has returned and no list or watch
// call is in flight, or until ctx is done.
func (r *run) wait(ctx context.Context) error {
	for _, done := range []<-chan struct{}{r.informerDone, r.loopDone, r.calls.close()} {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Start watches the pods of Config.Namespace that Config.LabelSelector
// selects and reports the members among them.
//
// Start announces nothing: a member is reported once its pod is Running and
// Ready (its readinessProbe passes), has an IP and is not being deleted.
// Its ID is the pod's UID and its address the pod IP with the port of the
// container port named Config.PortName or, when that is empty, the port of
// self.Address (then self.Address must be host:port with a port in
// 1..65535, or the error wraps provider.ErrInvalidConfig).
//
// Start returns once the first list of pods has arrived, the watch that
// follows it is open, and update has received the first member set. It
// retries a failing list or watch (pausing RetryMin, doubled up to
// RetryMax) until StartTimeout, then returns an error wrapping
// provider.ErrUnavailable that names the API server, the namespace and the
// last error (for a missing RBAC permission, the API server's message
// naming the verb: list or watch); if ctx ends first, ctx's error. After that
// update receives, on a goroutine the Provider owns and never concurrently,
// the full member set, ordered by ID, whenever it changes. update must not
// block for long and must not call Stop. Start after Stop returns
// provider.ErrStopped; a second Start returns ErrStarted; after a failed
// Start, Start may be called again.
func (p *Provider) Start(ctx context.Context, self provider.Member, update func([]provider.Member)) error {
	if update == nil {
		return fmt.Errorf("%w: k8s: Start: update must not be nil", provider.ErrInvalidConfig)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sel := selection{namespace: p.cfg.Namespace, selector: p.sel, portName: p.cfg.PortName}
	if sel.portName == "" {
		_, port, err := net.SplitHostPort(self.Address)
		if n, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil || n == 0 {
			return fmt.Errorf("%w: k8s: self.Address %q: want host:port with a port in 1..65535 (with Config.PortName empty, every pod is dialled on that port)",
				provider.ErrInvalidConfig, self.Address)
		}
		sel.port = port
	}

	p.mu.Lock()
	switch p.state {
	case stopped:
		p.mu.Unlock()
		return provider.ErrStopped
	case running:
		p.mu.Unlock()
		return ErrStarted
	}
	r, err := p.newRun()
	if err != nil {
		p.mu.Unlock()
		return err
	}
	p.state, p.run = running, r
	go func() {
		defer close(r.informerDone)
		r.informer.Run(r.stop)
	}()
	go func() {
		defer close(r.loopDone)
		p.loop(r, sel, update)
	}()
	p.mu.Unlock()

	err = p.awaitFirst(ctx, r)
	if err == nil {
		return nil
	}
	r.halt()
	_ = r.wait(context.Background()) // prompt: every wait in r selects on r.stop
	p.mu.Lock()
	if p.run == r && p.state == running {
		p.state, p.run = idle, nil
	}
	p.mu.Unlock()
	return err
}

// awaitFirst waits for the first list, the watch that follows it, and the
// first update.
func (p *Provider) awaitFirst(ctx context.Context, r *run) error {
	deadline := time.NewTimer(p.cfg.StartTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(syncPoll)
	defer poll.Stop()
	for !r.informer.HasSynced() {
		select {
		case <-poll.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stop:
			return provider.ErrStopped
		case <-deadline.C:
			return p.notDone(r, "list")
		}
	}
	close(r.synced)
	if p.cfg.PodName != "" {
		key := p.cfg.Namespace + "/" + p.cfg.PodName
		if _, found, _ := r.informer.GetStore().GetByKey(key); found {
			p.log.Info("k8s: watching member pods", zap.String("namespace", p.cfg.Namespace), zap.String("label_selector", p.cfg.LabelSelector), zap.String("pod", p.cfg.PodName))
		} else {
			p.log.Info("k8s: watching member pods; this member's pod is not among them, so peers will not find it unless it is another pod's member",
				zap.String("namespace", p.cfg.Namespace), zap.String("label_selector", p.cfg.LabelSelector), zap.String("pod", p.cfg.PodName))
		}
	}
	// A list that works is not enough: a member that may list pods but not
	// watch them would never see a change.
	select {
	case <-r.watching:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stop:
		return provider.ErrStopped
	case <-deadline.C:
		return p.notDone(r, "watch")
	}
	select {
	case <-r.first:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stop:
		return provider.ErrStopped
	}
}

// notDone is Start's error when verb ("list" or "watch" pods) was not done
// within StartTimeout: it names the API server, the namespace and the last
// error. A refusal (403) names the verb: the API server's own message does
// for a list, but not for a watch (client-go cannot decode the refusal of a
// watch request and reports "unknown").
func (p *Provider) notDone(r *run, verb string) error {
	why := "no answer"
	if err := r.health.Err(); err != nil {
		why = err.Error()
		if apierrors.IsForbidden(err) {
			why = fmt.Sprintf("the API server forbids this member to %s pods in namespace %q (%v); its service account needs list and watch on pods: see examples/k8s/rbac.yaml",
				verb, p.cfg.Namespace, err)
		}
	}
	return fmt.Errorf("%w: k8s: %sing pods in namespace %q from %s: not done within Config.StartTimeout (%v): %s",
		provider.ErrUnavailable, verb, p.cfg.Namespace, p.server, p.cfg.StartTimeout, why)
}

// Stop stops watching and waits for the Provider's goroutines and API
// calls, or until ctx is done. There is nothing to withdraw: peers drop
// this member when Kubernetes marks its pod not ready or deletes it. No
// update call starts after Stop returns nil. Stop is idempotent; stopping a
// Provider that was never started is allowed.
func (p *Provider) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.state = stopped
	r := p.run
	p.mu.Unlock()
	if r == nil {
		return nil
	}
	r.halt()
	return r.wait(ctx)
}

// newRun builds the informer of one run; it starts nothing.
func (p *Provider) newRun() (*run, error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{
		ctx:          ctx,
		cancel:       cancel,
		stop:         make(chan struct{}),
		dirty:        make(chan struct{}, 1),
		synced:       make(chan struct{}),
		watching:     make(chan struct{}),
		first:        make(chan struct{}),
		health:       &backoff.Episode{Log: p.log, What: "k8s: watching pods in namespace " + p.cfg.Namespace},
		informerDone: make(chan struct{}),
		loopDone:     make(chan struct{}),
	}
	pods := p.cfg.Client.CoreV1().Pods(p.cfg.Namespace)
	selector := p.sel.String()
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return call(r, p.cfg, func(ctx context.Context) (runtime.Object, error) { return pods.List(ctx, o) })
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			w, err := call(r, p.cfg, func(ctx context.Context) (watch.Interface, error) { return pods.Watch(ctx, o) })
			if err == nil {
				r.watchOK.Do(func() { close(r.watching) })
			}
			return w, err
		},
		DisableChunking: true, // member pods are few; one request per list
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, p.cfg.ResyncPeriod, cache.Indexers{})
	err := errors.Join(
		inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			if r.ctx.Err() == nil && !benign(err) {
				r.health.Fail(err)
			}
		}),
		inf.SetTransform(func(obj any) (any, error) {
			if pod, ok := obj.(*corev1.Pod); ok {
				pod.ManagedFields = nil // never read; often the bulk of a pod
			}
			return obj, nil
		}),
	)
	if err == nil {
		poke := func(any) {
			select {
			case r.dirty <- struct{}{}:
			default: // loop has not read the store since the last poke
			}
		}
		_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    poke,
			UpdateFunc: func(_, obj any) { poke(obj) },
			DeleteFunc: poke,
		})
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("k8s: setting up the pod informer: %w", err)
	}
	r.informer = inf
	return r, nil
}

// loop owns update: after the first list it reports the member set, then
// re-computes it from the informer's store after every change and reports
// it when it differs. Reading the whole store, rather than applying events
// one by one, makes any number of simultaneous changes one update.
func (p *Provider) loop(r *run, sel selection, update func([]provider.Member)) {
	select {
	case <-r.synced:
	case <-r.stop:
		return
	}
	var last []provider.Member
	noPortLogged := make(map[types.UID]bool)
	report := func(first bool) {
		objs := r.informer.GetStore().List()
		pods := make([]*corev1.Pod, 0, len(objs))
		present := make(map[types.UID]bool, len(objs))
		for _, o := range objs {
			if pod, ok := o.(*corev1.Pod); ok {
				pods = append(pods, pod)
				present[pod.UID] = true
			}
		}
		members, noPort := sel.members(pods)
		for uid := range noPortLogged {
			if !present[uid] {
				delete(noPortLogged, uid) // bounded by the pods that exist
			}
		}
		for _, pod := range noPort {
			if !noPortLogged[pod.UID] {
				noPortLogged[pod.UID] = true
				p.log.Warn("k8s: skipping a ready pod without the container port named Config.PortName (logged once per pod)",
					zap.String("pod", pod.Name), zap.String("uid", string(pod.UID)), zap.String("port_name", sel.portName))
			}
		}
		if !first && sameMembers(members, last) {
			p.log.Debug("k8s: pods changed; member set unchanged", zap.Int("count", len(members)))
			return
		}
		last = members
		p.log.Debug("k8s: member pods", zap.Int("count", len(members)))
		update(members)
	}
	report(true)
	close(r.first)
	for {
		select {
		case <-r.stop:
			return
		case <-r.dirty:
			report(false)
		}
	}
}

// call runs one list or watch request, retrying transient failures with
// exponential backoff (cfg.RetryMin doubled up to cfg.RetryMax, each wait
// shortened by up to half at random) until it
// succeeds or the run halts. Other errors go back to the informer, which
// handles them (an expired resource version makes it list again). Outages
// are logged once each through r.health.
func call[T any](r *run, cfg Config, f func(context.Context) (T, error)) (T, error) {
	var zero T
	if !r.calls.enter() {
		return zero, provider.ErrStopped
	}
	defer r.calls.leave()
	failures := 0
	for {
		v, err := f(r.ctx)
		switch {
		case err == nil:
			r.health.OK()
			return v, nil
		case r.ctx.Err() != nil:
			return zero, err
		case !transient(err):
			if !benign(err) {
				r.health.Fail(err)
			}
			return zero, err
		}
		r.health.Fail(err)
		failures++
		t := time.NewTimer(backoff.Delay(cfg.RetryMin, cfg.RetryMax, failures, rand.Float64()))
		select {
		case <-t.C:
		case <-r.stop:
			t.Stop()
			return zero, err
		}
	}
}

// transient reports whether err may go away by itself, so that the same
// request is worth repeating: a transport failure, or a status that says
// the server is (or its authorizer is not yet) ready.
func transient(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // dial, TLS, connection reset...
	}
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || tooLargeResourceVersion(err) {
		return false
	}
	return apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
}

// benign reports whether err is part of a watch's normal life: the stream
// ended, or its resource version expired and the informer lists again.
func benign(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || tooLargeResourceVersion(err)
}

// gate admits calls until it is closed and reports when the last admitted
// call has returned. The informer may start a list after it was told to
// stop (client-go's reflector does not wait for its list goroutine); the
// gate turns such a call away and lets Stop wait for those in flight.
type gate struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when closed and n == 0
}

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.closed && g.n == 0 {
		close(g.idle)
	}
}

// close turns further calls away and returns a channel closed once no call
// is in flight. It may be called more than once.
func (g *gate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.idle = make(chan struct{})
		if g.n == 0 {
			close(g.idle)
		}
	}
	return g.idle
}

// tooLargeResourceVersion reports whether err says the watch asked for a
// resource version the server has not reached; the informer lists again.
func tooLargeResourceVersion(err error) bool {
	return apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge)
}
