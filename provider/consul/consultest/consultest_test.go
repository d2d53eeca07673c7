package consultest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/foundation-go/foundation/provider/consul/consultest"
)

func newServer(t *testing.T, cfg consultest.Config) (*consultest.Server, *api.Client) {
	t.Helper()
	s, err := consultest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := api.NewClient(&api.Config{Address: s.Addr(), Token: cfg.Token, Transport: tr, HttpClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func ttlService(id string, ttl, dereg time.Duration) *api.AgentServiceRegistration {
	check := &api.AgentServiceCheck{TTL: ttl.String(), Status: api.HealthPassing}
	if dereg > 0 {
		check.DeregisterCriticalServiceAfter = dereg.String()
	}
	return &api.AgentServiceRegistration{ID: id, Name: "web", Address: "10.0.0.1", Port: 80, Meta: map[string]string{"k": "v"}, Check: check}
}

func eventually(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func passing(t *testing.T, c *api.Client) []string {
	t.Helper()
	entries, _, err := c.Health().Service("web", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Service.ID)
	}
	return ids
}

func TestRegisterHealthDeregister(t *testing.T) {
	s, c := newServer(t, consultest.Config{NodeAddress: "192.0.2.1"})
	if err := c.Agent().ServiceRegister(ttlService("web-1", time.Minute, 0)); err != nil {
		t.Fatal(err)
	}
	entries, meta, err := c.Health().Service("web", "", true, nil)
	if err != nil || len(entries) != 1 {
		t.Fatalf("health: %v %v", entries, err)
	}
	e := entries[0]
	if e.Service.ID != "web-1" || e.Service.Address != "10.0.0.1" || e.Service.Port != 80 || e.Service.Meta["k"] != "v" ||
		e.Node.Address != "192.0.2.1" || len(e.Checks) != 1 || e.Checks[0].CheckID != "service:web-1" || e.Checks[0].Status != api.HealthPassing {
		t.Errorf("entry %+v %+v %+v", e.Service, e.Node, e.Checks)
	}
	if meta.LastIndex != s.Index() || meta.LastIndex == 0 {
		t.Errorf("index %d; server %d", meta.LastIndex, s.Index())
	}
	if err := c.Agent().ServiceDeregister("web-1"); err != nil {
		t.Fatal(err)
	}
	if got := passing(t, c); len(got) != 0 || len(s.Services()) != 0 {
		t.Errorf("after deregistration: %v %v", got, s.Services())
	}
	err = c.Agent().ServiceDeregister("web-1")
	if se, ok := err.(api.StatusError); !ok || se.Code != http.StatusNotFound {
		t.Errorf("deregistering an unknown service: %v; want 404", err)
	}
	err = c.Agent().UpdateTTL("service:web-1", "", api.HealthPassing)
	if err == nil || !strings.Contains(err.Error(), "does not have associated TTL") {
		t.Errorf("updating an unknown check: %v; want the agent's 500", err)
	}
	if n := s.Requests(consultest.EndpointDeregister); n != 2 {
		t.Errorf("%d deregistrations counted; want 2", n)
	}
}

func TestBlockingQuery(t *testing.T) {
	s, c := newServer(t, consultest.Config{})
	_, meta, err := c.Health().Service("web", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Unchanged: the query waits its full wait time.
	began := time.Now()
	_, meta2, err := c.Health().Service("web", "", true, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 50 * time.Millisecond})
	if err != nil || meta2.LastIndex != meta.LastIndex || time.Since(began) < 50*time.Millisecond {
		t.Fatalf("unchanged query: %v, index %d after %v", err, meta2.LastIndex, time.Since(began))
	}
	// A change wakes it at once.
	type result struct {
		entries []*api.ServiceEntry
		index   uint64
		err     error
	}
	done := make(chan result, 1)
	go func() {
		entries, m, err := c.Health().Service("web", "", true, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: time.Minute})
		r := result{entries: entries, err: err}
		if m != nil {
			r.index = m.LastIndex
		}
		done <- r
	}()
	eventually(t, time.Second, func() bool { return s.Requests(consultest.EndpointHealth) == 3 }, "the blocking query arrives")
	if err := c.Agent().ServiceRegister(ttlService("web-1", time.Minute, 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || len(r.entries) != 1 || r.index <= meta.LastIndex {
			t.Errorf("woken query: %v, %d entries, index %d", r.err, len(r.entries), r.index)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocking query was not woken by a registration")
	}
	// A renewal that keeps the status is not a change.
	index := s.Index()
	if err := c.Agent().UpdateTTL("service:web-1", "", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	if s.Index() != index {
		t.Errorf("a renewal moved the index from %d to %d", index, s.Index())
	}
}

func TestTTLExpiryAndReap(t *testing.T) {
	s, c := newServer(t, consultest.Config{DeregisterCriticalAfter: 100 * time.Millisecond})
	if err := c.Agent().ServiceRegister(ttlService("web-1", 50*time.Millisecond, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := c.Agent().ServiceRegister(ttlService("web-2", time.Minute, 0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() bool { return s.Expired() == 1 }, "web-1's TTL runs out")
	if got := passing(t, c); len(got) != 1 || got[0] != "web-2" {
		t.Errorf("passing %v; want web-2 only", got)
	}
	all, _, err := c.Health().Service("web", "", false, nil)
	if err != nil || len(all) != 2 {
		t.Errorf("all instances: %v %v; want both", all, err)
	}
	eventually(t, 2*time.Second, func() bool { return len(s.Services()) == 1 }, "web-1 reaped")
	if svc := s.Services()[0]; svc.ID != "web-2" || svc.DeregisterAfter != 0 || svc.Status != api.HealthPassing {
		t.Errorf("left %+v", svc)
	}
}

func TestDeregisterMinimum(t *testing.T) {
	s, c := newServer(t, consultest.Config{})
	if err := c.Agent().ServiceRegister(ttlService("web-1", time.Minute, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.Services()[0].DeregisterAfter; got != consultest.MinDeregisterCriticalAfter {
		t.Errorf("DeregisterAfter %v; want it raised to %v", got, consultest.MinDeregisterCriticalAfter)
	}
}

func TestFaults(t *testing.T) {
	s, c := newServer(t, consultest.Config{})
	s.Fail(consultest.EndpointRegister, http.StatusInternalServerError, 2)
	for i := range 2 {
		err := c.Agent().ServiceRegister(ttlService("web-1", time.Minute, 0))
		if se, ok := err.(api.StatusError); !ok || se.Code != 500 {
			t.Errorf("attempt %d: %v; want the injected 500", i, err)
		}
	}
	if err := c.Agent().ServiceRegister(ttlService("web-1", time.Minute, 0)); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	s.Fail(consultest.EndpointCheckUpdate+"service:web-1", http.StatusNotFound, 0)
	for range 3 {
		if err := c.Agent().UpdateTTL("service:web-1", "", api.HealthPassing); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("renewal: %v; want the injected 404", err)
		}
	}
	s.ClearFaults()
	if err := c.Agent().UpdateTTL("service:web-1", "", api.HealthPassing); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
	if n := s.Requests(consultest.EndpointCheckUpdate); n != 4 {
		t.Errorf("%d renewals counted; want 4", n)
	}
	if n := s.Requests("/v1/agent/"); n != 7 {
		t.Errorf("%d agent requests counted; want 7", n)
	}
}

func TestSlowAbandonedHasNoEffect(t *testing.T) {
	s, c := newServer(t, consultest.Config{})
	s.Slow(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Agent().ServiceRegisterOpts(ttlService("web-1", time.Minute, 0), api.ServiceRegisterOpts{}.WithContext(ctx))
	if err == nil {
		t.Fatal("a delayed registration succeeded before its deadline")
	}
	s.Close() // waits for the abandoned handler
	if n := len(s.Services()); n != 0 {
		t.Errorf("%d services after an abandoned registration; want none", n)
	}
}

func TestRestart(t *testing.T) {
	s, c := newServer(t, consultest.Config{})
	for _, id := range []string{"web-1", "web-2", "web-3"} {
		if err := c.Agent().ServiceRegister(ttlService(id, time.Minute, 0)); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Index()
	s.Restart()
	if len(s.Services()) != 0 || s.Index() >= before {
		t.Errorf("after Restart: %d services, index %d (before %d); want none and a lower index", len(s.Services()), s.Index(), before)
	}
	eventually(t, time.Second, func() bool {
		err := c.Agent().UpdateTTL("service:web-1", "", api.HealthPassing)
		return err != nil && strings.Contains(err.Error(), "does not have associated TTL")
	}, "a renewal after the restart finds the check unknown")
}

func TestCloseEndsBlockedQueries(t *testing.T) {
	s, c := newServer(t, consultest.Config{})
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Health().Service("web", "", true, &api.QueryOptions{WaitIndex: s.Index(), WaitTime: time.Minute})
		done <- err
	}()
	eventually(t, time.Second, func() bool { return s.Requests(consultest.EndpointHealth) == 1 }, "the query arrives")
	began := time.Now()
	s.Close()
	s.Close() // idempotent
	if took := time.Since(began); took > time.Second {
		t.Errorf("Close took %v with a blocked query", took)
	}
	if err := <-done; err == nil {
		t.Error("the blocked query succeeded after Close")
	}
}

func TestRejects(t *testing.T) {
	s, c := newServer(t, consultest.Config{Token: "right"})
	reg := ttlService("web-1", time.Minute, 0)
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("with the right token: %v", err)
	}
	for name, mutate := range map[string]func(*api.AgentServiceRegistration){
		"reserved meta key": func(r *api.AgentServiceRegistration) { r.Meta = map[string]string{"consul-x": "v"} },
		"bad meta key":      func(r *api.AgentServiceRegistration) { r.Meta = map[string]string{"a.b": "v"} },
		"long meta value":   func(r *api.AgentServiceRegistration) { r.Meta = map[string]string{"k": strings.Repeat("v", 513)} },
		"no name":           func(r *api.AgentServiceRegistration) { r.Name = "" },
		"bad TTL":           func(r *api.AgentServiceRegistration) { r.Check.TTL = "soon" },
		"HTTP check":        func(r *api.AgentServiceRegistration) { r.Check.TTL, r.Check.HTTP = "", "http://x" },
	} {
		r := *reg
		check := *reg.Check
		r.Check = &check
		mutate(&r)
		err := c.Agent().ServiceRegister(&r)
		if se, ok := err.(api.StatusError); !ok || se.Code != http.StatusBadRequest {
			t.Errorf("%s: %v; want 400", name, err)
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	anon, err := api.NewClient(&api.Config{Address: s.Addr(), Token: "wrong", HttpClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	err = anon.Agent().ServiceRegister(reg)
	if se, ok := err.(api.StatusError); !ok || se.Code != http.StatusForbidden {
		t.Errorf("with a wrong token: %v; want 403", err)
	}
}
