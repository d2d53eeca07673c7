package consul_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/consul"
	"github.com/foundation-go/foundation/provider/consul/consultest"
)

// recorder keeps every member set a provider reports and notices
// concurrent calls.
type recorder struct {
	mu         sync.Mutex
	sets       [][]provider.Member
	busy       bool
	concurrent bool
}

func (r *recorder) update(ms []provider.Member) {
	r.mu.Lock()
	if r.busy {
		r.concurrent = true
	}
	r.busy = true
	r.mu.Unlock()
	ms = slices.Clone(ms)
	r.mu.Lock()
	r.sets = append(r.sets, ms)
	r.busy = false
	r.mu.Unlock()
}

func (r *recorder) last() []provider.Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return nil
	}
	return r.sets[len(r.sets)-1]
}

func (r *recorder) all() [][]provider.Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sets)
}

// ids is the ids of the last set, comma-joined.
func (r *recorder) ids() string { return ids(r.last()) }

func ids(ms []provider.Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return strings.Join(out, ",")
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+format, append([]any{within}, args...)...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// consistently checks that cond holds, polling, for the whole of d.
func consistently(t *testing.T, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf(format, args...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newAgent(t *testing.T, cfg consultest.Config) *consultest.Server {
	t.Helper()
	s, err := consultest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// fast is a configuration for tests: short TTL, wait and backoff.
func fast(agent *consultest.Server) consul.Config {
	return consul.Config{
		Address:        agent.Addr(),
		Service:        "shop",
		TTL:            300 * time.Millisecond,
		WaitTime:       500 * time.Millisecond,
		RetryMin:       5 * time.Millisecond,
		RetryMax:       50 * time.Millisecond,
		RequestTimeout: time.Second,
	}
}

func member(id string, port int) provider.Member {
	return provider.Member{
		ID:      id,
		Address: fmt.Sprintf("127.0.0.1:%d", port),
		Cluster: "shop",
		Kinds:   []string{"cart", "user"},
		Version: "v1",
	}
}

// start builds and starts a provider for self, stopped at the test's end.
func start(t *testing.T, cfg consul.Config, self provider.Member) (*consul.Provider, *recorder) {
	t.Helper()
	p, err := consul.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Start(ctx, self, r.update); err != nil {
		t.Fatalf("Start %s: %v", self.ID, err)
	}
	t.Cleanup(func() {
		_ = p.Stop(context.Background())
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.concurrent {
			t.Errorf("%s: update was called concurrently", self.ID)
		}
	})
	return p, r
}

func stop(t *testing.T, p *consul.Provider) (time.Duration, error) {
	t.Helper()
	began := time.Now()
	err := p.Stop(context.Background())
	return time.Since(began), err
}

// registered reports whether the agent has an instance for member id.
func registered(agent *consultest.Server, id string) bool {
	return slices.ContainsFunc(agent.Services(), func(s consultest.Service) bool { return s.Meta["id"] == id })
}

func observed(level zap.AtomicLevel) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core), logs
}
