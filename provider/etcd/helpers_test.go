package etcd

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider"
)

// testConfig is a Config for endpoints with the shortest lease and quick
// retries, so that tests of expiry and recovery take seconds.
func testConfig(endpoints []string) Config {
	return Config{
		Endpoints:    endpoints,
		LeaseTTL:     time.Second,
		DialTimeout:  500 * time.Millisecond,
		StartRetries: 2,
		RetryMin:     10 * time.Millisecond,
		RetryMax:     200 * time.Millisecond,
	}
}

// member returns the Member of id in cluster "shop".
func member(id string) provider.Member {
	return provider.Member{ID: id, Address: id + ".shop.internal:7000", Cluster: "shop", Kinds: []string{"cart"}, Version: "v1"}
}

// recorder keeps the member sets a provider reports and checks that update
// is never called concurrently and only with a changed set.
type recorder struct {
	mu      sync.Mutex
	sets    [][]provider.Member
	busy    bool
	bad     string
	changed chan struct{} // closed and replaced at each update
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) update(ms []provider.Member) {
	r.mu.Lock()
	if r.busy {
		r.bad = "update called concurrently"
	}
	if n := len(r.sets); n > 0 && sameMembers(r.sets[n-1], ms) {
		r.bad = "update called with an unchanged set"
	}
	r.busy = true
	r.sets = append(r.sets, ms)
	r.mu.Unlock()

	r.mu.Lock()
	r.busy = false
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// ids returns the ids of the last set, joined by commas.
func (r *recorder) ids() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.idsLocked()
}

func (r *recorder) idsLocked() string {
	if len(r.sets) == 0 {
		return ""
	}
	var out []string
	for _, m := range r.sets[len(r.sets)-1] {
		out = append(out, m.ID)
	}
	return strings.Join(out, ",")
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sets)
}

// check fails t when update was misused.
func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad != "" {
		t.Error(r.bad)
	}
}

// waitIDs waits until the last set reported has exactly the ids want
// (comma-separated, ordered), failing t after timeout.
func (r *recorder) waitIDs(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got, ch := r.idsLocked(), r.changed
		r.mu.Unlock()
		if got == want {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("members %q after %v; want %q", got, timeout, want)
		}
	}
}

// node is one started Provider with its recorder.
type node struct {
	p   *Provider
	rec *recorder
}

// start starts a Provider of member id with cfg, stopped when t ends.
func start(t *testing.T, cfg Config, id string) *node {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Start(ctx, member(id), rec.update); err != nil {
		t.Fatalf("Start %s: %v", id, err)
	}
	t.Cleanup(func() {
		stop(t, p)
		rec.check(t)
	})
	return &node{p: p, rec: rec}
}

// stop stops p, failing t when that takes a second or more.
func stop(t *testing.T, p *Provider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	if err := p.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if d := time.Since(began); d >= time.Second {
		t.Errorf("Stop took %v; want under 1s", d)
	}
}

// rawClient returns a plain etcd client of endpoints, closed when t ends.
func rawClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// keys returns the ids registered in etcd under cluster shop, sorted and
// joined by commas.
func keys(t *testing.T, c *clientv3.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, DefaultPrefix+"shop/members/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatalf("listing keys: %v", err)
	}
	var ids []string
	for _, kv := range resp.Kvs {
		ids = append(ids, strings.TrimPrefix(string(kv.Key), DefaultPrefix+"shop/members/"))
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// eventually polls cond every 10ms until it holds, failing t with what()
// after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("after %v: %s", timeout, what())
		}
	}
}
