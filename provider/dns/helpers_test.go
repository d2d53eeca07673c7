package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/dns/dnstest"
)

// waitTimeout bounds every wait for a condition: generous for a loaded
// machine, and never reached when the code works.
const waitTimeout = 5 * time.Second

// eventually polls cond until it holds, failing the test after waitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recorder keeps every member set a provider reports, as address lists.
type recorder struct {
	mu   sync.Mutex
	sets [][]string
	busy bool
	bad  string // set when update ran concurrently or got an odd set
}

func (r *recorder) update(ms []provider.Member) {
	r.mu.Lock()
	if r.busy {
		r.bad = "update called concurrently"
	}
	r.busy = true
	r.mu.Unlock()
	addrs := make([]string, len(ms))
	for i, m := range ms {
		addrs[i] = m.Address
		if m.ID != "" || m.Cluster != "" || m.Kinds != nil || m.Version != "" || m.Auth != "" {
			r.mu.Lock()
			r.bad = "a member carries more than its address"
			r.mu.Unlock()
		}
	}
	if !slices.IsSorted(addrs) {
		r.mu.Lock()
		r.bad = "members not sorted by address"
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.sets = append(r.sets, addrs)
	r.busy = false
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sets)
}

// last is the last set reported, joined with spaces.
func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sets) == 0 {
		return "<none>"
	}
	return strings.Join(r.sets[len(r.sets)-1], " ")
}

func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad != "" {
		t.Error(r.bad)
	}
	for i := 1; i < len(r.sets); i++ {
		if slices.Equal(r.sets[i-1], r.sets[i]) {
			t.Errorf("update %d reported an unchanged set %v", i, r.sets[i])
		}
	}
}

// waitFor waits until the last set reported is want (addresses joined with
// spaces).
func (r *recorder) waitFor(t *testing.T, want string) {
	t.Helper()
	eventually(t, "the member set "+want+" (last: "+r.last()+")", func() bool { return r.last() == want })
}

func newServer(t *testing.T) *dnstest.Server {
	t.Helper()
	s, err := dnstest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fastConfig is a Config for name on servers that polls and backs off in
// milliseconds. Its Timeout is long enough that a loaded machine does not
// make a healthy server look dead; tests of dropped queries shorten it.
func fastConfig(name string, servers ...*dnstest.Server) Config {
	cfg := Config{
		Name:     name,
		Interval: 10 * time.Millisecond,
		Timeout:  time.Second,
		RetryMin: 5 * time.Millisecond,
		RetryMax: 20 * time.Millisecond,
	}
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, s.Addr())
	}
	return cfg
}

// observed returns a logger whose entries (info and above) the returned
// observer keeps.
func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.InfoLevel)
	return zap.New(core), logs
}

func ips(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}
