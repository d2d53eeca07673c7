package consul_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/consul"
	"github.com/foundation-go/foundation/provider/consul/consultest"
)

func TestDiscoveryAmongThree(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	var recs []*recorder
	for i, id := range []string{"m1", "m2", "m3"} {
		_, r := start(t, cfg, member(id, 7001+i))
		recs = append(recs, r)
	}
	for i, r := range recs {
		eventually(t, 3*time.Second, func() bool { return r.ids() == "m1,m2,m3" }, "m%d sees %q; want m1,m2,m3", i+1, r.ids())
	}
	for i, m := range recs[0].last() {
		want := member(fmt.Sprintf("m%d", i+1), 7001+i)
		if m.ID != want.ID || m.Address != want.Address || m.Cluster != want.Cluster || m.Version != want.Version || !slices.Equal(m.Kinds, want.Kinds) {
			t.Errorf("reported %+v; want %+v", m, want)
		}
	}
	svcs := agent.Services()
	if len(svcs) != 3 {
		t.Fatalf("agent has %d services; want 3: %+v", len(svcs), svcs)
	}
	s := svcs[0]
	if s.ID != "shop-m1" || s.Name != "shop" || s.Address != "127.0.0.1" || s.Port != 7001 ||
		s.Meta["id"] != "m1" || s.Meta["cluster"] != "shop" || s.Meta["kinds"] != "cart,user" || s.Meta["version"] != "v1" ||
		s.CheckID != "service:shop-m1" || s.Status != "passing" || s.TTL != cfg.TTL || s.DeregisterAfter != time.Minute {
		t.Errorf("registration %+v", s)
	}
	// update is called only when the set changes: never twice in a row with
	// the same set.
	for i, r := range recs {
		sets := r.all()
		for j := 1; j < len(sets); j++ {
			if ids(sets[j]) == ids(sets[j-1]) {
				t.Errorf("m%d: update %d repeats the set %q", i+1, j, ids(sets[j]))
			}
		}
	}
}

// TestWatchUsesBlockingQueries: with nothing changing, each provider sends
// about one health query per WaitTime, however often it renews its check.
func TestWatchUsesBlockingQueries(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	cfg.TTL = 300 * time.Millisecond // renewals every 100ms
	cfg.WaitTime = 2 * time.Second
	var recs []*recorder
	for i, id := range []string{"m1", "m2", "m3"} {
		_, r := start(t, cfg, member(id, 7001+i))
		recs = append(recs, r)
	}
	for _, r := range recs {
		eventually(t, 3*time.Second, func() bool { return r.ids() == "m1,m2,m3" }, "sees %q", r.ids())
	}
	health0, renew0, index0 := agent.Requests(consultest.EndpointHealth), agent.Requests(consultest.EndpointCheckUpdate), agent.Index()
	// 30 renewals: about 1s, ten per provider.
	eventually(t, 5*time.Second, func() bool { return agent.Requests(consultest.EndpointCheckUpdate) >= renew0+30 }, "renewals")
	health := agent.Requests(consultest.EndpointHealth) - health0
	// Renewals do not change the index; only a check that expired (a
	// renewal late by a whole TTL on a loaded machine) would, and wake
	// each watcher once.
	changes := int(agent.Index() - index0)
	if changes > 0 {
		t.Logf("the index moved %d times (%d checks expired)", changes, agent.Expired())
	}
	// Polling every RetryMin (5ms) would have sent about 600 queries.
	if most := 3 + 3*changes; health > most {
		t.Errorf("%d health queries during 30 renewals; want at most %d (one per provider per WaitTime, and per change)", health, most)
	}
}

func TestTTLKeptPassing(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	cfg.TTL = 300 * time.Millisecond
	_, r1 := start(t, cfg, member("m1", 7001))
	_, r2 := start(t, cfg, member("m2", 7002))
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1,m2" && r2.ids() == "m1,m2" }, "sets %q %q", r1.ids(), r2.ids())
	renew0 := agent.Requests(consultest.EndpointCheckUpdate)
	// Five TTLs: 2 providers × 3 renewals per TTL × 5.
	eventually(t, 5*time.Second, func() bool { return agent.Requests(consultest.EndpointCheckUpdate) >= renew0+30 }, "renewals")
	if n := agent.Expired(); n != 0 {
		t.Errorf("%d checks expired; want none while the providers run", n)
	}
	for _, r := range []*recorder{r1, r2} {
		if sets := r.all(); ids(sets[len(sets)-1]) != "m1,m2" {
			t.Errorf("sets %v; want to end with m1,m2", sets)
		}
	}
	for _, s := range agent.Services() {
		if s.Status != "passing" {
			t.Errorf("%s is %s; want passing", s.ID, s.Status)
		}
	}
}

// TestStopDeregisters is the ghost-member regression: a stopped member is
// gone from the catalog when Stop returns and from the others' sets at once
// (well within its TTL, so not by expiry).
func TestStopDeregisters(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	cfg.TTL = 10 * time.Second
	cfg.WaitTime = 5 * time.Second
	p1, _ := start(t, cfg, member("m1", 7001))
	_, r2 := start(t, cfg, member("m2", 7002))
	_, r3 := start(t, cfg, member("m3", 7003))
	for _, r := range []*recorder{r2, r3} {
		eventually(t, 3*time.Second, func() bool { return r.ids() == "m1,m2,m3" }, "sees %q", r.ids())
	}
	took, err := stop(t, p1)
	if err != nil || took > time.Second {
		t.Fatalf("Stop: %v after %v; want nil within 1s", err, took)
	}
	if registered(agent, "m1") {
		t.Fatalf("m1 is still registered after Stop: %+v", agent.Services())
	}
	for _, r := range []*recorder{r2, r3} {
		eventually(t, time.Second, func() bool { return r.ids() == "m2,m3" }, "sees %q after m1 stopped; want m2,m3", r.ids())
	}
	if _, err := stop(t, p1); err != nil {
		t.Errorf("second Stop: %v; want nil", err)
	}
}

// TestNoReregistrationAfterStop: a provider whose every renewal finds the
// check unknown re-registers on every tick; stopped at any moment, it
// leaves nothing registered and sends nothing more.
func TestNoReregistrationAfterStop(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	cfg.TTL = 30 * time.Millisecond // a tick every 10ms
	for i := range 15 {
		id := fmt.Sprintf("r%d", i)
		p, _ := start(t, cfg, member(id, 7000+i))
		agent.Fail(consultest.EndpointCheckUpdate+"service:shop-"+id, 404, 0)
		regs := agent.Requests(consultest.EndpointRegister)
		eventually(t, 2*time.Second, func() bool { return agent.Requests(consultest.EndpointRegister) >= regs+1+i%3 }, "%s re-registers", id)
		took, err := stop(t, p)
		if err != nil || took > time.Second {
			t.Fatalf("%s: Stop: %v after %v", id, err, took)
		}
		after := agent.Requests(consultest.EndpointRegister)
		consistently(t, 50*time.Millisecond, func() bool {
			return !registered(agent, id) && agent.Requests(consultest.EndpointRegister) == after
		}, "%s registered again after Stop: %+v", id, agent.Services())
		agent.ClearFaults()
	}
}

// TestAgentRestart: an agent that restarts without its state forgets the
// members, drops its connections and starts its index again; the members
// register again, and the watchers catch up at once (not a WaitTime later,
// on their stale index).
func TestAgentRestart(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	cfg.WaitTime = 5 * time.Second
	_, r1 := start(t, cfg, member("m1", 7001))
	_, r2 := start(t, cfg, member("m2", 7002))
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1,m2" && r2.ids() == "m1,m2" }, "sets %q %q", r1.ids(), r2.ids())
	raiseIndex(t, agent, 2)
	regs := agent.Requests(consultest.EndpointRegister)
	began := time.Now()
	agent.Restart()
	if len(agent.Services()) != 0 {
		t.Fatal("Restart kept registrations")
	}
	eventually(t, 3*time.Second, func() bool { return registered(agent, "m1") && registered(agent, "m2") }, "re-registration: %+v", agent.Services())
	if n := agent.Requests(consultest.EndpointRegister) - regs; n != 2 {
		t.Errorf("%d registrations after the restart; want 2", n)
	}
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1,m2" && r2.ids() == "m1,m2" }, "sets %q %q after the restart", r1.ids(), r2.ids())
	if took := time.Since(began); took > cfg.WaitTime/2 {
		t.Errorf("members seen again %v after the restart; want well within WaitTime (%v)", took, cfg.WaitTime)
	}
}

// TestIndexGoesBackwards: when the agent's index goes backwards (a restored
// snapshot) the watchers reset theirs, by Consul's rule; else they would
// wait on an index the agent will not reach for a long time, and miss
// changes.
func TestIndexGoesBackwards(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	cfg.WaitTime = time.Second
	_, r1 := start(t, cfg, member("m1", 7001))
	_, r2 := start(t, cfg, member("m2", 7002))
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1,m2" && r2.ids() == "m1,m2" }, "sets %q %q", r1.ids(), r2.ids())
	raiseIndex(t, agent, 2)
	agent.SetIndex(2)
	// The blocked queries run out their wait, see the lower index, reset,
	// and block on the new one.
	eventually(t, 3*time.Second, func() bool {
		w := agent.Waiting()
		return len(w) == 2 && w[1] <= agent.Index()
	}, "watchers blocked on the new index: %v (index %d)", agent.Waiting(), agent.Index())
	began := time.Now()
	agent.Remove("shop-m2")
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1" }, "m1 sees %q after m2's removal", r1.ids())
	if took := time.Since(began); took > cfg.WaitTime/2 {
		t.Errorf("m2's removal seen after %v; want well within WaitTime (%v)", took, cfg.WaitTime)
	}
}

// raiseIndex makes 40 changes to another service, and waits until the
// watchers' queries block on the raised index.
func raiseIndex(t *testing.T, agent *consultest.Server, watchers int) {
	t.Helper()
	for i := range 20 {
		id := fmt.Sprintf("other-%d", i)
		if err := agent.Add(consultest.Service{ID: id, Name: "other"}); err != nil {
			t.Fatal(err)
		}
		agent.Remove(id)
	}
	high := agent.Index()
	eventually(t, 3*time.Second, func() bool {
		w := agent.Waiting()
		return len(w) == watchers && w[0] >= high
	}, "watchers blocked on the raised index %d: %v", high, agent.Waiting())
}

// TestUnknownCheckReregisters: a 404 renewal makes the provider register
// again, once.
func TestUnknownCheckReregisters(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	log, logs := observed(zap.NewAtomicLevelAt(zapcore.InfoLevel))
	cfg.Logger = log
	start(t, cfg, member("m1", 7001))
	regs := agent.Requests(consultest.EndpointRegister)
	agent.Fail(consultest.EndpointCheckUpdate, 404, 1)
	eventually(t, 3*time.Second, func() bool { return agent.Requests(consultest.EndpointRegister) == regs+1 }, "re-registration")
	eventually(t, 3*time.Second, func() bool { return logs.FilterMessageSnippet("registered again").Len() == 1 }, "the recovery is logged")
	if n := logs.FilterMessageSnippet("does not know this member's check").Len(); n != 1 {
		t.Errorf("%d log lines about the lost check; want 1", n)
	}
	if s := agent.Services(); len(s) != 1 || s[0].Status != "passing" {
		t.Errorf("services %+v; want m1 passing", s)
	}
	if n := agent.Requests(consultest.EndpointRegister); n != regs+1 {
		t.Errorf("%d registrations; want %d", n, regs+1)
	}
}

// TestErrorsRetriedAndLoggedOnce: 500s from the agent are retried with
// backoff and logged once per episode, for renewals and for the watch.
func TestErrorsRetriedAndLoggedOnce(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 40*time.Millisecond
	cfg.WaitTime = 200 * time.Millisecond
	log, logs := observed(zap.NewAtomicLevelAt(zapcore.InfoLevel))
	cfg.Logger = log
	_, r := start(t, cfg, member("m1", 7001))
	eventually(t, 3*time.Second, func() bool { return r.ids() == "m1" }, "sees %q", r.ids())

	for episode := range 2 {
		renew0, health0 := agent.Requests(consultest.EndpointCheckUpdate), agent.Requests(consultest.EndpointHealth)
		began := time.Now()
		agent.Fail(consultest.EndpointCheckUpdate, 500, 0)
		agent.Fail(consultest.EndpointHealth, 500, 0)
		eventually(t, 3*time.Second, func() bool {
			return agent.Requests(consultest.EndpointCheckUpdate) >= renew0+5 && agent.Requests(consultest.EndpointHealth) >= health0+5
		}, "retries")
		agent.ClearFaults()
		elapsed := time.Since(began)
		// Each retry waits at least RetryMin/2: without backoff there would
		// be hundreds.
		if n, most := agent.Requests(consultest.EndpointHealth)-health0, int(elapsed/(10*time.Millisecond))+3; n > most {
			t.Errorf("%d health queries in %v; want at most %d with backoff", n, elapsed, most)
		}
		eventually(t, 3*time.Second, func() bool {
			return logs.FilterMessageSnippet("working again").Len() == 2*(episode+1)
		}, "recoveries logged: %v", logs.All())
	}
	for _, what := range []string{"renewing the TTL check", "watching the service"} {
		if n := logs.FilterMessageSnippet(what).FilterMessageSnippet("failing").FilterLevelExact(zapcore.WarnLevel).Len(); n != 2 {
			t.Errorf("%q: %d warnings; want 2 (one per episode)", what, n)
		}
		if n := logs.FilterMessageSnippet(what).FilterMessageSnippet("working again").FilterLevelExact(zapcore.InfoLevel).Len(); n != 2 {
			t.Errorf("%q: %d recoveries logged; want 2", what, n)
		}
	}
	eventually(t, 3*time.Second, func() bool { return r.ids() == "m1" }, "sees %q after the errors", r.ids())
}

func TestSlowAgentStopWithinOneSecond(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	cfg.RequestTimeout = 10 * time.Second
	p, r := start(t, cfg, member("m1", 7001))
	eventually(t, 3*time.Second, func() bool { return r.ids() == "m1" }, "sees %q", r.ids())
	agent.Slow(5 * time.Second)
	renew0 := agent.Requests(consultest.EndpointCheckUpdate)
	eventually(t, time.Second, func() bool { return agent.Requests(consultest.EndpointCheckUpdate) > renew0 }, "a renewal in flight")
	took, err := stop(t, p)
	if took > consul.StopTimeout {
		t.Errorf("Stop took %v; want at most %v", took, consul.StopTimeout)
	}
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("Stop: %v; want ErrUnavailable (the deregistration could not be confirmed)", err)
	}
	agent.Slow(0)
}

func TestStopDuringStart(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	p, err := consul.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	agent.Slow(200 * time.Millisecond)
	started := make(chan error, 1)
	go func() { started <- p.Start(context.Background(), member("m1", 7001), func([]provider.Member) {}) }()
	eventually(t, time.Second, func() bool { return agent.Requests(consultest.EndpointRegister) == 1 }, "registration sent")
	if took, err := stop(t, p); err != nil || took > time.Second {
		t.Fatalf("Stop: %v after %v", err, took)
	}
	if err := <-started; !errors.Is(err, provider.ErrStopped) {
		t.Errorf("Start: %v; want ErrStopped", err)
	}
	agent.Slow(0)
	if registered(agent, "m1") {
		t.Errorf("m1 left registered: %+v", agent.Services())
	}
}

func TestStartUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	p, err := consul.New(consul.Config{Address: addr, Service: "shop", RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, StartRetries: 4})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start(context.Background(), member("m1", 7001), func([]provider.Member) {})
	if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "4 attempts") {
		t.Fatalf("Start: %v; want ErrUnavailable naming %s after 4 attempts", err, addr)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("Stop after a failed Start: %v", err)
	}
}

func TestStartRetries(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	agent.Fail(consultest.EndpointRegister, 500, 0)
	p, err := consul.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start(context.Background(), member("m1", 7001), func([]provider.Member) {})
	if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), agent.Addr()) {
		t.Fatalf("Start: %v; want ErrUnavailable naming %s", err, agent.Addr())
	}
	if n := agent.Requests(consultest.EndpointRegister); n != consul.DefaultStartRetries {
		t.Errorf("%d registration attempts; want %d", n, consul.DefaultStartRetries)
	}
	// A failed Start may be retried; this one succeeds.
	agent.ClearFaults()
	if err := p.Start(context.Background(), member("m1", 7001), func([]provider.Member) {}); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if err := p.Stop(context.Background()); err != nil || registered(agent, "m1") {
		t.Errorf("Stop: %v; registered %v", err, agent.Services())
	}
}

func TestStartRejectedIsInvalidConfig(t *testing.T) {
	agent := newAgent(t, consultest.Config{Token: "right"})
	cfg := fast(agent)
	cfg.Token = "wrong"
	p, err := consul.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start(context.Background(), member("m1", 7001), func([]provider.Member) {})
	if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Token") {
		t.Fatalf("Start with a wrong token: %v; want ErrInvalidConfig naming Config.Token", err)
	}
	if n := agent.Requests(consultest.EndpointRegister); n != 1 {
		t.Errorf("%d attempts; a denied registration must not be retried", n)
	}
	cfg.Token = "right"
	_, r := start(t, cfg, member("m1", 7001))
	eventually(t, 3*time.Second, func() bool { return r.ids() == "m1" }, "with the right token: %q", r.ids())
}

func TestLifecycle(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	p, err := consul.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), member("m1", 7001), nil); !errors.Is(err, provider.ErrInvalidConfig) {
		t.Errorf("Start with nil update: %v; want ErrInvalidConfig", err)
	}
	if err := p.Start(context.Background(), member("m1", 7001), func([]provider.Member) {}); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), member("m1", 7001), func([]provider.Member) {}); !errors.Is(err, consul.ErrStarted) {
		t.Errorf("second Start: %v; want ErrStarted", err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := p.Stop(context.Background()); err != nil {
				t.Errorf("concurrent Stop: %v", err)
			}
		})
	}
	wg.Wait()
	if err := p.Start(context.Background(), member("m1", 7001), func([]provider.Member) {}); !errors.Is(err, provider.ErrStopped) {
		t.Errorf("Start after Stop: %v; want ErrStopped", err)
	}
	never, err := consul.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := never.Stop(context.Background()); err != nil {
		t.Errorf("Stop of a never-started provider: %v", err)
	}
	if len(agent.Services()) != 0 {
		t.Errorf("services left: %+v", agent.Services())
	}
}

func TestBadConfig(t *testing.T) {
	ok := consul.Config{Address: "127.0.0.1:8500", Service: "shop"}
	for _, tc := range []struct {
		name   string
		mutate func(*consul.Config)
		field  string
	}{
		{"empty address", func(c *consul.Config) { c.Address = "" }, "Config.Address"},
		{"address without port", func(c *consul.Config) { c.Address = "consul" }, "Config.Address"},
		{"address port 0", func(c *consul.Config) { c.Address = "consul:0" }, "Config.Address"},
		{"address scheme", func(c *consul.Config) { c.Address = "ftp://consul:8500" }, "Config.Address"},
		{"address relative socket", func(c *consul.Config) { c.Address = "unix://agent.sock" }, "Config.Address"},
		{"empty service", func(c *consul.Config) { c.Service = "" }, "Config.Service"},
		{"service with slash", func(c *consul.Config) { c.Service = "a/b" }, "Config.Service"},
		{"negative TTL", func(c *consul.Config) { c.TTL = -time.Second }, "Config.TTL"},
		{"tiny TTL", func(c *consul.Config) { c.TTL = time.Millisecond }, "Config.TTL"},
		{"deregister below Consul's minimum", func(c *consul.Config) { c.DeregisterAfter = 30 * time.Second }, "Config.DeregisterAfter"},
		{"negative wait", func(c *consul.Config) { c.WaitTime = -1 }, "Config.WaitTime"},
		{"wait above Consul's cap", func(c *consul.Config) { c.WaitTime = 11 * time.Minute }, "Config.WaitTime"},
		{"negative retry", func(c *consul.Config) { c.RetryMin = -1 }, "Config.RetryMin"},
		{"retry max below min", func(c *consul.Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond }, "Config.RetryMax"},
		{"negative start retries", func(c *consul.Config) { c.StartRetries = -1 }, "Config.StartRetries"},
		{"negative request timeout", func(c *consul.Config) { c.RequestTimeout = -1 }, "Config.RequestTimeout"},
		{"token with newline", func(c *consul.Config) { c.Token = "a\nb" }, "Config.Token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			_, err := consul.New(cfg)
			if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("New: %v; want ErrInvalidConfig naming %s", err, tc.field)
			}
		})
	}
	for _, addr := range []string{"127.0.0.1:8500", "consul.service:8500", "[::1]:8500", "http://consul:8500", "https://consul/prefix", "unix:///run/consul.sock"} {
		cfg := ok
		cfg.Address = addr
		if _, err := consul.New(cfg); err != nil {
			t.Errorf("Address %q: %v", addr, err)
		}
	}
}

func TestBadSelf(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	p, err := consul.New(fast(agent))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*provider.Member)
		field  string
	}{
		{"empty id", func(m *provider.Member) { m.ID = "" }, "self.ID"},
		{"id with slash", func(m *provider.Member) { m.ID = "a/b" }, "self.ID"},
		{"address without port", func(m *provider.Member) { m.Address = "127.0.0.1" }, "self.Address"},
		{"port 0", func(m *provider.Member) { m.Address = "127.0.0.1:0" }, "self.Address"},
		{"kind with comma", func(m *provider.Member) { m.Kinds = []string{"a,b"} }, "self.Kinds[0]"},
		{"empty kind", func(m *provider.Member) { m.Kinds = []string{"a", ""} }, "self.Kinds[1]"},
	} {
		self := member("m1", 7001)
		tc.mutate(&self)
		err := p.Start(context.Background(), self, func([]provider.Member) {})
		if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Start: %v; want ErrInvalidConfig naming %s", tc.name, err, tc.field)
		}
	}
	if n := agent.Requests("/"); n != 0 {
		t.Errorf("%d requests for a bad self; want none", n)
	}
}

// TestSignatures: with Config.Secret set, instances whose auth does not
// verify are dropped and logged once each; a member registered without
// its own address (0.0.0.0) is reported at the node's address and still
// verifies.
func TestSignatures(t *testing.T) {
	agent := newAgent(t, consultest.Config{NodeAddress: "10.1.2.3"})
	secret := []byte("shared by the members of shop")
	cfg := fast(agent)
	cfg.Secret = secret
	log, logs := observed(zap.NewAtomicLevelAt(zapcore.WarnLevel))
	cfg.Logger = log

	forged := member("forged", 7100)
	forged.Auth = provider.Sign([]byte("another secret"), forged)
	unsigned := member("unsigned", 7101)
	for _, m := range []provider.Member{forged, unsigned} {
		host, port, _ := net.SplitHostPort(m.Address)
		var p int
		fmt.Sscan(port, &p)
		if err := agent.Add(consultest.Service{ID: "shop-" + m.ID, Name: "shop", Address: host, Port: p,
			Meta: map[string]string{"id": m.ID, "cluster": m.Cluster, "kinds": "cart,user", "version": "v1", "auth": m.Auth}}); err != nil {
			t.Fatal(err)
		}
	}
	_, r1 := start(t, cfg, member("m1", 7001))
	m2 := member("m2", 7002)
	m2.Address = "0.0.0.0:7002"
	_, r2 := start(t, cfg, m2)
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1,m2" && r2.ids() == "m1,m2" }, "sets %q %q", r1.ids(), r2.ids())
	if got := r1.last()[1].Address; got != "10.1.2.3:7002" {
		t.Errorf("m2 reported at %q; want the node's address 10.1.2.3:7002", got)
	}
	// More changes, so the forged instances are seen again (and not logged
	// again).
	_, r3 := start(t, cfg, member("m3", 7003))
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1,m2,m3" && r3.ids() == "m1,m2,m3" }, "sets %q %q", r1.ids(), r3.ids())
	for _, id := range []string{"forged", "unsigned"} {
		// Logged once by each of the three providers.
		if n := logs.FilterMessageSnippet("does not verify").FilterField(zap.String("id", id)).Len(); n != 3 {
			t.Errorf("%s: dropped and logged %d times; want once per provider (3)", id, n)
		}
	}
}

func TestOtherClusterIgnored(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	cfg := fast(agent)
	_, r1 := start(t, cfg, member("m1", 7001))
	other := member("o1", 7002)
	other.Cluster = "billing"
	_, ro := start(t, cfg, other)
	eventually(t, 3*time.Second, func() bool { return ro.ids() == "o1" && len(agent.Services()) == 2 }, "billing sees %q", ro.ids())
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1" }, "shop sees %q", r1.ids())
}

func TestManyKinds(t *testing.T) {
	agent := newAgent(t, consultest.Config{})
	self := member("m1", 7001)
	self.Kinds = nil
	for i := range 100 {
		self.Kinds = append(self.Kinds, fmt.Sprintf("kind-number-%08d", i))
	}
	_, r := start(t, fast(agent), self)
	eventually(t, 3*time.Second, func() bool { return r.ids() == "m1" }, "sees %q", r.ids())
	if got := r.last()[0].Kinds; !slices.Equal(got, self.Kinds) {
		t.Errorf("kinds %v; want %v", got, self.Kinds)
	}
	if meta := agent.Services()[0].Meta; meta["kinds-2"] == "" {
		t.Errorf("meta %v; want kinds continued in kinds-2", meta)
	}
}

func TestCriticalInstanceDropsOut(t *testing.T) {
	// A member that crashed (stops renewing without deregistering) drops
	// out when its TTL runs out, and is reaped DeregisterAfter later.
	agent := newAgent(t, consultest.Config{DeregisterCriticalAfter: 100 * time.Millisecond})
	cfg := fast(agent)
	_, r1 := start(t, cfg, member("m1", 7001))
	crashed := cfg
	crashed.TTL = 50 * time.Millisecond
	p2, _ := start(t, crashed, member("m2", 7002))
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1,m2" }, "sees %q", r1.ids())
	agent.Fail(consultest.EndpointCheckUpdate+"service:shop-m2", 500, 0) // m2 can no longer renew
	agent.Fail(consultest.EndpointDeregister, 500, 0)                    // nor leave
	eventually(t, 3*time.Second, func() bool { return r1.ids() == "m1" }, "sees %q after m2's TTL", r1.ids())
	eventually(t, 3*time.Second, func() bool { return !registered(agent, "m2") }, "m2 reaped")
	if agent.Expired() == 0 {
		t.Error("no check expired")
	}
	_ = p2.Stop(context.Background())
}
