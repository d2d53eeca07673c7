package cache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/crdt"
)

// layer attaches a replicator, a cache Host and one cache to a
// clustertest member: the arrangement of a node.
type layer struct {
	cfg  cache.Config
	rep  *crdt.Replicator
	host *cache.Host
	c    *cache.Cache[string, string]
}

func (l *layer) Prepare(*clustertest.Member, *cluster.Member) error { return nil }

func (l *layer) Start(m *clustertest.Member) error {
	rep, err := crdt.NewReplicator(m.Membership, crdt.Config{})
	if err != nil {
		return err
	}
	if err := rep.Start(context.Background()); err != nil {
		return err
	}
	h, err := cache.NewHost(m.Membership, rep, nil)
	if err != nil {
		return err
	}
	if err := h.Start(context.Background()); err != nil {
		return err
	}
	c, err := cache.New(h, "test", cache.Strings(), l.cfg)
	if err != nil {
		return err
	}
	l.rep, l.host, l.c = rep, h, c
	return nil
}

func (l *layer) Stop(ctx context.Context) error {
	if l.host == nil {
		return nil
	}
	err := l.c.Close(ctx)
	if herr := l.host.Stop(ctx); err == nil {
		err = herr
	}
	if rerr := l.rep.Stop(ctx); err == nil {
		err = rerr
	}
	return err
}

func (l *layer) Abort() {
	if l.host != nil {
		l.host.Abort()
		l.rep.Abort()
	}
}

type env struct {
	c      *clustertest.Cluster
	mu     sync.Mutex
	layers []*layer
}

func (e *env) cache(i int) *cache.Cache[string, string] {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.layers[i].c
}

func (e *env) id(i int) string { return e.c.Member(i).Membership.Self().ID }

// start starts n members, each hosting the cache "test" with cfg, and
// waits until every member routes over all n.
func start(t *testing.T, n int, cfg cache.Config) *env {
	t.Helper()
	e := &env{}
	e.c = clustertest.Start(t, n, clustertest.Options{Layer: func(int) clustertest.Layer {
		l := &layer{cfg: cfg}
		e.mu.Lock()
		e.layers = append(e.layers, l)
		e.mu.Unlock()
		return l
	}})
	e.waitHosting(t, n)
	return e
}

// waitHosting waits until every running member's cache has n hosting
// members.
func (e *env) waitHosting(t *testing.T, n int) {
	t.Helper()
	clustertest.Eventually(t, func() bool {
		for _, m := range e.c.Running() {
			if len(e.cache(m.Index).Members()) != n {
				return false
			}
		}
		return true
	}, 20*time.Second, "every member sees all hosting members")
}

// ownedBy returns a key, with the given prefix, owned by member i.
func (e *env) ownedBy(t *testing.T, i int, prefix string) string {
	t.Helper()
	c := e.cache(i)
	for n := 0; n < 10000; n++ {
		k := prefix + "-" + itoa(n)
		if c.Owner(k) == e.id(i) {
			return k
		}
	}
	t.Fatalf("no key owned by member %d", i)
	return ""
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
