package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/dns/dnstest"
)

var self = provider.Member{ID: "m1", Address: "127.0.0.1:7000", Cluster: "shop"}

// start starts a Provider for cfg and stops it when the test ends,
// checking that Stop returns within a second.
func start(t *testing.T, cfg Config) (*Provider, *recorder) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if err := p.Start(context.Background(), self, rec.update); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 1 {
		t.Fatalf("Start returned after %d updates, want 1", rec.count())
	}
	t.Cleanup(func() {
		stop(t, p)
		rec.check(t)
	})
	return p, rec
}

// stop stops p, failing the test unless it returns nil within a second.
func stop(t *testing.T, p *Provider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	begin := time.Now()
	if err := p.Stop(ctx); err != nil {
		t.Errorf("Stop: %v after %v", err, time.Since(begin))
	}
}

// polls waits until s has received n more queries than now: the provider
// polled that many more times.
func polls(t *testing.T, s *dnstest.Server, n int64) {
	t.Helper()
	want := s.Queries() + n
	eventually(t, fmt.Sprintf("%d more queries", n), func() bool { return s.Queries() >= want })
}

func TestSRVDiscovery(t *testing.T) {
	for _, additional := range []bool{true, false} {
		t.Run(fmt.Sprintf("additional=%v", additional), func(t *testing.T) {
			s := newServer(t)
			s.SetAdditional(additional)
			s.SetSRV("svc.test", []dnstest.Target{
				{Host: "b.test", Port: 7002},
				{Host: "a.test", Port: 7001},
				{Host: "a.test", Port: 7001}, // duplicate
				{Host: ".", Port: 7003},      // "no service"
				{Host: "gone.test", Port: 7004},
			})
			s.SetA("a.test", ips("127.0.0.1")...)
			s.SetA("b.test", ips("127.0.0.2", "::1")...)
			cfg := fastConfig("svc.test", s)
			cfg.Port = 9999 // unused: SRV records carry ports
			_, rec := start(t, cfg)
			if got, want := rec.last(), "127.0.0.1:7001 127.0.0.2:7002 [::1]:7002"; got != want {
				t.Fatalf("members = %s, want %s", got, want)
			}
		})
	}
}

func TestARecordsWithPort(t *testing.T) {
	s := newServer(t)
	s.SetA("svc.test", ips("10.0.0.2", "10.0.0.1", "fd00::1")...)

	cfg := fastConfig("svc.test.", s)
	cfg.Port = 7100
	_, rec := start(t, cfg)
	if got, want := rec.last(), "10.0.0.1:7100 10.0.0.2:7100 [fd00::1]:7100"; got != want {
		t.Errorf("Port 7100: members = %s, want %s", got, want)
	}

	cfg.Port = 0 // self's port, 7000
	_, rec = start(t, cfg)
	if got, want := rec.last(), "10.0.0.1:7000 10.0.0.2:7000 [fd00::1]:7000"; got != want {
		t.Errorf("Port 0: members = %s, want %s", got, want)
	}
}

func TestRecordsChangeWhileRunning(t *testing.T) {
	s := newServer(t)
	s.SetA("svc.test", ips("10.0.0.1")...)
	cfg := fastConfig("svc.test", s)
	cfg.Port = 7000
	_, rec := start(t, cfg)

	s.SetA("svc.test", ips("10.0.0.1", "10.0.0.2")...)
	rec.waitFor(t, "10.0.0.1:7000 10.0.0.2:7000")
	s.SetA("svc.test", ips("10.0.0.2")...)
	rec.waitFor(t, "10.0.0.2:7000")

	// From A records to SRV records and back.
	s.SetA("a.test", ips("10.0.0.3")...) // first, or a poll may see a target without address
	s.SetSRV("svc.test", []dnstest.Target{{Host: "a.test", Port: 7001}})
	rec.waitFor(t, "10.0.0.3:7001")
	s.SetSRV("svc.test", nil)
	rec.waitFor(t, "10.0.0.2:7000")

	// Unchanged records: several polls, no update.
	n := rec.count()
	polls(t, s, 10)
	if rec.count() != n {
		t.Errorf("%d updates while the records did not change", rec.count()-n)
	}
	if n != 5 {
		t.Errorf("%d updates, want 5 (the first and one per change)", n)
	}
}

func TestNXDOMAINAndEmptyAnswersAreEmptySets(t *testing.T) {
	s := newServer(t)
	cfg := fastConfig("svc.test", s)
	_, rec := start(t, cfg) // svc.test does not exist yet: NXDOMAIN
	if got := rec.last(); got != "" {
		t.Fatalf("members of a missing name = %q, want none", got)
	}
	s.SetA("svc.test", ips("10.0.0.1")...)
	rec.waitFor(t, "10.0.0.1:7000")
	s.SetA("svc.test") // the name exists without records: NOERROR, no answer
	rec.waitFor(t, "")
	s.SetA("svc.test", ips("10.0.0.1")...)
	rec.waitFor(t, "10.0.0.1:7000")
	s.Remove("svc.test")
	rec.waitFor(t, "")
}

func TestFailuresKeepTheSetAndLogOncePerEpisode(t *testing.T) {
	faults := map[string]func(*dnstest.Server){
		"SERVFAIL": func(s *dnstest.Server) { s.Fail(miekg.RcodeServerFailure) },
		"REFUSED":  func(s *dnstest.Server) { s.Fail(miekg.RcodeRefused) },
		"dropped":  func(s *dnstest.Server) { s.Drop() },
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			s := newServer(t)
			s.SetA("svc.test", ips("10.0.0.1", "10.0.0.2")...)
			log, logs := observed()
			cfg := fastConfig("svc.test", s)
			cfg.Timeout = 100 * time.Millisecond // dropped queries fail after it
			cfg.Logger = log
			_, rec := start(t, cfg)
			failing := func() int { return logs.FilterMessageSnippet("lookup failing").Len() }
			working := func() int { return logs.FilterMessageSnippet("lookup working again").Len() }

			for episode := 1; episode <= 2; episode++ {
				fault(s)
				// The records change while lookups fail: nothing is
				// reported, and the set is kept.
				s.SetA("svc.test", ips("10.0.0.3")...)
				polls(t, s, 8)
				if got := rec.last(); got != "10.0.0.1:7000 10.0.0.2:7000" {
					t.Fatalf("episode %d: members while failing = %s, want the last set kept", episode, got)
				}
				if failing() != episode || working() != episode-1 {
					t.Fatalf("episode %d: %d warnings and %d recoveries logged, want %d and %d",
						episode, failing(), working(), episode, episode-1)
				}
				s.Heal()
				rec.waitFor(t, "10.0.0.3:7000")
				eventually(t, "the recovery logged", func() bool { return working() == episode })
				s.SetA("svc.test", ips("10.0.0.1", "10.0.0.2")...)
				rec.waitFor(t, "10.0.0.1:7000 10.0.0.2:7000")
				polls(t, s, 4)
				if failing() != episode || working() != episode {
					t.Fatalf("episode %d over: %d warnings and %d recoveries logged, want %d of each", episode, failing(), working(), episode)
				}
			}
			warn := logs.FilterMessageSnippet("lookup failing").All()[0]
			if !strings.Contains(warn.ContextMap()["error"].(string), s.Addr()) {
				t.Errorf("the warning's error %q does not name the server %s", warn.ContextMap()["error"], s.Addr())
			}
		})
	}
}

func TestBackoffWhileFailing(t *testing.T) {
	s := newServer(t)
	s.SetA("svc.test", ips("10.0.0.1")...)
	cfg := fastConfig("svc.test", s)
	cfg.RetryMin = 5 * time.Millisecond
	cfg.RetryMax = 40 * time.Millisecond
	_, _ = start(t, cfg)
	s.Fail(miekg.RcodeServerFailure)
	// Waits after failure 1, 2, 3, …: 5, 10, 20, 40, 40 ms, each shortened
	// by at most half, so the five queries after any failing one are at
	// least 57.5ms apart from it.
	polls(t, s, 1)
	begin := time.Now()
	polls(t, s, 5)
	if d := time.Since(begin); d < 57*time.Millisecond {
		t.Errorf("five failing lookups in %v: want the backoff (at least 57ms)", d)
	}
}

func TestStartUnavailable(t *testing.T) {
	t.Run("dropped", func(t *testing.T) {
		s := newServer(t)
		s.Drop()
		cfg := fastConfig("svc.test", s)
		cfg.Timeout = 30 * time.Millisecond
		cfg.StartRetries = 2
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		err = p.Start(context.Background(), self, func([]provider.Member) { t.Error("update called") })
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("Start = %v, want ErrUnavailable", err)
		}
		for _, want := range []string{`"svc.test."`, s.Addr(), "3 tries"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Start error %q does not contain %s", err, want)
			}
		}
		// 3 tries of 30ms and waits of 5 and 10ms.
		if d := time.Since(begin); d > time.Second {
			t.Errorf("Start took %v", d)
		}
		if got := s.Queries(); got != 3 {
			t.Errorf("%d queries, want 3 (one SRV query per try)", got)
		}
		stop(t, p)
	})
	t.Run("no server", func(t *testing.T) {
		// A port nothing listens on: the kernel refuses at once.
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		_ = pc.Close()
		cfg := fastConfig("svc.test")
		cfg.Servers = []string{addr}
		cfg.StartRetries = -1
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = p.Start(context.Background(), self, func([]provider.Member) {})
		if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "1 tries") {
			t.Fatalf("Start = %v, want ErrUnavailable naming %s after 1 try", err, addr)
		}
	})
	t.Run("ctx", func(t *testing.T) {
		s := newServer(t)
		s.Drop()
		cfg := fastConfig("svc.test", s)
		cfg.Timeout = 10 * time.Second
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err = p.Start(ctx, self, func([]provider.Member) {})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start = %v, want context.DeadlineExceeded", err)
		}
		// A failed Start may be tried again.
		s.Heal()
		s.SetA("svc.test", ips("10.0.0.1")...)
		rec := &recorder{}
		if err := p.Start(context.Background(), self, rec.update); err != nil {
			t.Fatal(err)
		}
		if got := rec.last(); got != "10.0.0.1:7000" {
			t.Errorf("members = %s", got)
		}
		stop(t, p)
	})
}

func TestStartRetriesUntilTheServerAnswers(t *testing.T) {
	s := newServer(t)
	s.SetA("svc.test", ips("10.0.0.1")...)
	s.Fail(miekg.RcodeServerFailure)
	cfg := fastConfig("svc.test", s)
	cfg.StartRetries = 100
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	healed := make(chan struct{})
	go func() {
		defer close(healed)
		deadline := time.Now().Add(waitTimeout)
		for s.Queries() < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		s.Heal()
	}()
	rec := &recorder{}
	err = p.Start(context.Background(), self, rec.update)
	<-healed
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.last(); got != "10.0.0.1:7000" {
		t.Errorf("members = %s", got)
	}
	stop(t, p)
}

func TestServerFailover(t *testing.T) {
	for name, fault := range map[string]func(*dnstest.Server){
		"SERVFAIL": func(s *dnstest.Server) { s.Fail(miekg.RcodeServerFailure) },
		"dropped":  func(s *dnstest.Server) { s.Drop() },
	} {
		t.Run(name, func(t *testing.T) {
			bad, good := newServer(t), newServer(t)
			fault(bad)
			good.SetA("svc.test", ips("10.0.0.1")...)
			cfg := fastConfig("svc.test", bad, good)
			cfg.Timeout = 100 * time.Millisecond // dropped queries fail after it
			log, logs := observed()
			cfg.Logger = log
			_, rec := start(t, cfg)
			if got := rec.last(); got != "10.0.0.1:7000" {
				t.Fatalf("members = %s", got)
			}
			good.SetA("svc.test", ips("10.0.0.2")...)
			rec.waitFor(t, "10.0.0.2:7000")
			if n := logs.FilterMessageSnippet("lookup failing").Len(); n != 0 {
				t.Errorf("%d failures logged while the second server answered", n)
			}
		})
	}
}

func TestNXDOMAINIsAnAnswer(t *testing.T) {
	// NXDOMAIN from the first server is final: the second is not asked.
	first, second := newServer(t), newServer(t)
	second.SetA("svc.test", ips("10.0.0.1")...)
	_, rec := start(t, fastConfig("svc.test", first, second))
	if got := rec.last(); got != "" {
		t.Errorf("members = %q, want none", got)
	}
	if n := second.Queries(); n != 0 {
		t.Errorf("the second server got %d queries", n)
	}
}

func TestLargeAnswersOverTCP(t *testing.T) {
	s := newServer(t)
	var many []netip.Addr
	for i := range 300 {
		many = append(many, netip.AddrFrom16([16]byte{0xfd, 14: byte(i >> 8), 15: byte(i)}))
	}
	s.SetA("svc.test", many...)
	s.SetSRV("srv.test", []dnstest.Target{{Host: "svc.test", Port: 7001}})
	for _, name := range []string{"svc.test", "srv.test"} {
		_, rec := start(t, fastConfig(name, s))
		if got := len(strings.Fields(rec.last())); got != len(many) {
			t.Errorf("%s: %d members, want %d", name, got, len(many))
		}
	}
}

func TestStopWhileQueryInFlight(t *testing.T) {
	s := newServer(t)
	s.SetA("svc.test", ips("10.0.0.1")...)
	cfg := fastConfig("svc.test", s)
	cfg.Timeout = time.Minute
	p, _ := start(t, cfg)
	s.Drop()
	eventually(t, "a query dropped", func() bool { return s.Dropped() > 0 }) // and never to be answered
	begin := time.Now()
	stop(t, p)
	if d := time.Since(begin); d > 500*time.Millisecond {
		t.Errorf("Stop took %v with a query in flight", d)
	}
}

func TestStopDuringStart(t *testing.T) {
	s := newServer(t)
	s.Drop()
	cfg := fastConfig("svc.test", s)
	cfg.Timeout = time.Minute
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() {
		started <- p.Start(context.Background(), self, func([]provider.Member) { t.Error("update called") })
	}()
	eventually(t, "a query dropped", func() bool { return s.Dropped() > 0 })
	stop(t, p)
	select {
	case err := <-started:
		if !errors.Is(err, provider.ErrStopped) {
			t.Errorf("Start = %v, want ErrStopped", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Start did not return after Stop")
	}
}

func TestLifecycle(t *testing.T) {
	s := newServer(t)
	p, err := New(fastConfig("svc.test", s))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Start(ctx, self, nil); !errors.Is(err, provider.ErrInvalidConfig) {
		t.Errorf("Start with nil update = %v, want ErrInvalidConfig", err)
	}
	rec := &recorder{}
	if err := p.Start(ctx, self, rec.update); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, self, rec.update); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	stop(t, p)
	stop(t, p)
	n := rec.count()
	if err := p.Start(ctx, self, rec.update); !errors.Is(err, provider.ErrStopped) {
		t.Errorf("Start after Stop = %v, want ErrStopped", err)
	}
	select {
	case <-p.done: // the only goroutine that queries and calls update
	default:
		t.Error("the polling goroutine outlived Stop")
	}
	if rec.count() != n {
		t.Errorf("%d updates after Stop", rec.count()-n)
	}

	// Stop without Start, twice.
	p, err = New(fastConfig("svc.test", s))
	if err != nil {
		t.Fatal(err)
	}
	stop(t, p)
	stop(t, p)
}

func TestStartChecksThePort(t *testing.T) {
	s := newServer(t)
	p, err := New(fastConfig("svc.test", s))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:x", "10.0.0.1:70000"} {
		err := p.Start(context.Background(), provider.Member{Address: addr}, func([]provider.Member) {})
		if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Port") {
			t.Errorf("self.Address %q with Port 0: Start = %v, want ErrInvalidConfig naming Config.Port", addr, err)
		}
	}
	if s.Queries() != 0 {
		t.Errorf("%d queries sent for a bad configuration", s.Queries())
	}
}
