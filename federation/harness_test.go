package federation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/federation/fedtest"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/service"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// layer is one member: a replicator, a service Registry and a Federation.
type layer struct {
	gateway bool
	grains  bool // host the "counter" grain kind and serve GrainService
	cluster string
	grain   *grain.Host
	cfg     func(m *clustertest.Member) Config
	rep     *crdt.Replicator
	store   *service.ReplicatedStore
	reg     *service.Registry
	fed     *Federation
}

func (l *layer) Prepare(_ *clustertest.Member, self *cluster.Member) error {
	if l.gateway {
		self.Labels[LabelGateway] = "true"
	}
	if l.grains {
		self.Kinds = append(self.Kinds, "counter")
	}
	return nil
}

func (l *layer) Start(m *clustertest.Member) error {
	rep, err := crdt.NewReplicator(m.Membership, crdt.Config{})
	if err != nil {
		return err
	}
	if err := rep.Start(context.Background()); err != nil {
		return err
	}
	l.rep = rep
	if l.store, err = service.NewStore(rep); err != nil {
		return err
	}
	if l.reg, err = service.New(m.System, m.Membership, l.store, service.Config{}); err != nil {
		return err
	}
	if err := l.reg.Start(context.Background()); err != nil {
		return err
	}
	if l.grains {
		cl := l.cluster
		l.grain, err = grain.NewHost(m.System, m.Membership, grain.Config{Kinds: []grain.Kind{{Name: "counter",
			New: func(id string) grain.Grain { return &counter{cluster: cl} }}}})
		if err != nil {
			return err
		}
		if err := l.grain.Start(context.Background()); err != nil {
			return err
		}
		if _, err := ServeGrains(context.Background(), l.reg, l.grain); err != nil {
			return err
		}
	}
	if l.fed, err = New(m.System, m.Membership, l.reg, l.cfg(m)); err != nil {
		return err
	}
	return l.fed.Start(context.Background())
}

// counter is a grain that counts its calls: "cluster:identity:n".
type counter struct {
	cluster string
	n       int
}

func (c *counter) Receive(ctx *grain.Context, msg any) (any, error) {
	if s, ok := msg.(*wrapperspb.StringValue); ok && s.Value == "fail" {
		return nil, errors.New("counter refuses")
	}
	c.n++
	return wrapperspb.String(fmt.Sprintf("%s:%s:%d", c.cluster, ctx.Identity(), c.n)), nil
}

func (l *layer) Stop(ctx context.Context) error {
	if l.fed != nil {
		_ = l.fed.Stop(ctx)
	}
	if l.grain != nil {
		_ = l.grain.Stop(ctx)
	}
	if l.reg != nil {
		_ = l.reg.Stop(ctx)
	}
	if l.store != nil {
		l.store.Close()
	}
	if l.rep != nil {
		return l.rep.Stop(ctx)
	}
	return nil
}

// Abort is a crash: the gateway's ports close with everything else.
func (l *layer) Abort() {
	if l.fed != nil {
		_ = l.fed.Stop(context.Background())
	}
	if l.grain != nil {
		l.grain.Abort()
	}
	if l.rep != nil {
		l.rep.Abort()
	}
	if l.reg != nil {
		_ = l.reg.Stop(context.Background())
	}
	if l.store != nil {
		l.store.Close()
	}
}

// fed is a federation of clustertest clusters in this process: in each,
// members 0 and 1 are gateways and the others workers; links pass through
// Net, so that a cluster's gateways can be cut off.
type fed struct {
	t        *testing.T
	topo     Topology
	clusters map[string]*clustertest.Cluster
	layers   map[string][]*layer
	gwAddrs  map[string][]string
	Net      *clustertest.Network
	logs     *observer.ObservedLogs
	ca       *fedtest.CA
	mu       sync.Mutex
}

type fedOptions struct {
	members int // per cluster; default 3
	// downAfter is Config.DownAfter: default 10 (1s at the 100ms
	// heartbeat), generous for -race on a loaded machine; the fallback
	// tests use the development profile's 3.
	downAfter int
	exports   []string
	priority  map[string]int
	grains    bool // every member hosts "counter" and serves GrainService
	// secret overrides the per-link secret cluster c uses for its link
	// with cluster o.
	secret func(c, o string) string
}

func linkSecret(a, b string) string {
	l := NewLink(a, b)
	return "secret-" + l.A + "-" + l.B
}

func startFed(t *testing.T, topo Topology, o fedOptions) *fed {
	t.Helper()
	if o.members == 0 {
		o.members = 3
	}
	if o.downAfter == 0 {
		o.downAfter = 10
	}
	if o.exports == nil {
		o.exports = []string{"echo"}
	}
	if o.secret == nil {
		o.secret = linkSecret
	}
	ca, err := fedtest.NewCA("federation test CA")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	f := &fed{t: t, topo: topo, clusters: map[string]*clustertest.Cluster{}, layers: map[string][]*layer{},
		gwAddrs: map[string][]string{}, Net: clustertest.NewNetwork(), logs: logs, ca: ca}
	for _, c := range topo.Clusters {
		for range 2 {
			f.gwAddrs[c] = append(f.gwAddrs[c], fmt.Sprintf("127.0.0.1:%d", clustertest.FreePort(t)))
		}
	}
	for _, name := range topo.Clusters {
		remotes := map[string]Remote{}
		for _, n := range topo.Neighbours(name) {
			remotes[n] = Remote{Gateways: f.gwAddrs[n], Secret: o.secret(name, n), Priority: o.priority[n]}
		}
		tlsCfg, err := ca.MutualTLS(name)
		if err != nil {
			t.Fatal(err)
		}
		log := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(), core)).With(zap.String("cluster", name))
		c := clustertest.Start(t, o.members, clustertest.Options{Name: name, Secret: "cluster-secret-" + name,
			Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
			Layer: func(i int) clustertest.Layer {
				l := &layer{gateway: i < 2, grains: o.grains, cluster: name}
				l.cfg = func(m *clustertest.Member) Config {
					cfg := Config{Cluster: name, Topology: topo, Gateway: l.gateway, Remotes: remotes,
						Exports: o.exports, Logger: log, CallTimeout: 10 * time.Second, DownAfter: o.downAfter}
					if l.gateway {
						addr := f.gwAddrs[name][i]
						cfg.Listen, cfg.TLS = addr, tlsCfg
						cfg.Dial = f.Net.Dialer(func() string { return addr })
					}
					return cfg
				}
				f.mu.Lock()
				f.layers[name] = append(f.layers[name], l)
				f.mu.Unlock()
				return l
			}})
		f.clusters[name] = c
	}
	// Cleanups run last-registered first: the federations stop before any
	// cluster does, so no cross-cluster call is in flight while members
	// stop.
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, ls := range f.layers {
			for _, l := range ls {
				if l.fed != nil {
					_ = l.fed.Stop(context.Background())
				}
			}
		}
	})
	return f
}

// fed of cluster c's member i.
func (f *fed) fed(c string, i int) *Federation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.layers[c][i].fed
}

// worker is cluster c's first member that is not a gateway.
func (f *fed) worker(c string) *Federation { return f.fed(c, 2) }

// serve registers an echo instance of svc on cluster c's last member.
func (f *fed) serve(c, svc string) {
	f.t.Helper()
	cl := f.clusters[c]
	i := len(cl.Members()) - 1
	m := cl.Member(i)
	pid, err := m.System.Spawn(echo{cluster: c})
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	reg := f.layers[c][i].reg
	f.mu.Unlock()
	if _, err := reg.Register(context.Background(), svc, pid); err != nil {
		f.t.Fatal(err)
	}
	// Every member of c sees it.
	for j := range cl.Members() {
		f.mu.Lock()
		r := f.layers[c][j].reg
		f.mu.Unlock()
		clustertest.Eventually(f.t, func() bool { _, err := r.Discover(svc); return err == nil }, 10*time.Second, c+" sees "+svc)
	}
}

// waitReachable waits until the worker of from sees to reachable.
func (f *fed) waitReachable(from, to string) {
	f.t.Helper()
	clustertest.Eventually(f.t, func() bool { return reachable(f.worker(from), to) }, 15*time.Second, from+" reaches "+to)
}

func reachable(fd *Federation, to string) bool {
	for _, s := range fd.Clusters() {
		if s.Name == to {
			return s.Reachable
		}
	}
	return false
}

// kill crashes every member of cluster c.
func (f *fed) kill(c string) {
	cl := f.clusters[c]
	for i := range cl.Members() {
		cl.Kill(i)
	}
}

// cut partitions cluster c's gateways from every other cluster's.
func (f *fed) cut(c string) {
	for o, addrs := range f.gwAddrs {
		if o == c {
			continue
		}
		for _, a := range f.gwAddrs[c] {
			for _, b := range addrs {
				f.Net.Partition(a, b)
			}
		}
	}
}

// echo answers a call with "cluster:request|request-id header|traceparent".
type echo struct {
	actor.ServerBase
	cluster string
}

func (e echo) HandleCall(p actor.Process, req any) (any, error) {
	s := req.(*wrapperspb.StringValue).GetValue()
	if s == "fail" {
		return nil, fmt.Errorf("echo refuses %q", s)
	}
	return wrapperspb.String(strings.Join([]string{e.cluster + ":" + s, p.Header("request-id"), p.Header("traceparent")}, "|")), nil
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func call(ctx context.Context, fd *Federation, c, s string) (string, error) {
	r, err := CallInCluster[*wrapperspb.StringValue](ctx, fd, c, "echo", wrapperspb.String(s))
	return r.GetValue(), err
}

// callRetry is call repeated (at most 3 times) while it fails with
// ErrLinkLost: the echo is idempotent, and under -race on a loaded machine
// a link can fall silent for a second; the test logs each retry.
func callRetry(t *testing.T, ctx context.Context, fd *Federation, c, s string) (string, error) {
	for i := 0; ; i++ {
		got, err := call(ctx, fd, c, s)
		if err == nil || !errors.Is(err, ErrLinkLost) || i == 2 {
			return got, err
		}
		t.Logf("retrying after %v", err)
	}
}
