package etcd

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/etcd/etcdtest"
)

func TestThreeMembersSeeEachOtherAndStopWithdrawsAtOnce(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	cfg := testConfig(s.Endpoints())
	a, b, c := start(t, cfg, "a"), start(t, cfg, "b"), start(t, cfg, "c")
	for _, n := range []*node{a, b, c} {
		n.rec.waitIDs(t, "a,b,c", 5*time.Second)
	}
	raw := rawClient(t, s.Endpoints())
	if got := keys(t, raw); got != "a,b,c" {
		t.Fatalf("keys %q; want a,b,c", got)
	}

	stop(t, c.p)
	if got := keys(t, raw); got != "a,b" {
		t.Fatalf("keys right after c stopped: %q; want a,b (the revoke deletes the key)", got)
	}
	a.rec.waitIDs(t, "a,b", time.Second)
	b.rec.waitIDs(t, "a,b", time.Second)

	stop(t, c.p) // idempotent
	err := c.p.Start(context.Background(), member("c"), func([]provider.Member) {})
	if !errors.Is(err, provider.ErrStopped) {
		t.Fatalf("Start after Stop: %v; want provider.ErrStopped", err)
	}
	if err := a.p.Start(context.Background(), member("a"), func([]provider.Member) {}); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v; want ErrStarted", err)
	}
}

func TestMemberRecordIsTheDocumentedJSON(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	cfg := testConfig(s.Endpoints())
	cfg.Secret = []byte("0123456789abcdef")
	start(t, cfg, "a")
	raw := rawClient(t, s.Endpoints())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := raw.Get(ctx, "/foundation/shop/members/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get: %v, %d keys", err, len(resp.Kvs))
	}
	m := member("a")
	m.Auth = provider.Sign(cfg.Secret, m)
	want := `{"id":"a","address":"a.shop.internal:7000","cluster":"shop","kinds":["cart"],"version":"v1","auth":"` + m.Auth + `"}`
	if got := string(resp.Kvs[0].Value); got != want {
		t.Fatalf("record\n%s\nwant\n%s", got, want)
	}
	if resp.Kvs[0].Lease == 0 {
		t.Fatal("the key has no lease")
	}
}

// TestEtcdRestartWithDataKeepsMembersAndWatches: after etcd restarts with
// its data, every member is registered, and the watches work again (a new
// member and a leaving one are seen).
func TestEtcdRestartWithDataKeepsMembersAndWatches(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	cfg := testConfig(s.Endpoints())
	a, b, c := start(t, cfg, "a"), start(t, cfg, "b"), start(t, cfg, "c")
	for _, n := range []*node{a, b, c} {
		n.rec.waitIDs(t, "a,b,c", 5*time.Second)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, s.Endpoints())
	eventually(t, 5*time.Second, func() bool { return keys(t, raw) == "a,b,c" },
		func() string { return "keys " + keys(t, raw) + "; want a,b,c" })

	d := start(t, cfg, "d")
	for _, n := range []*node{a, b, c, d} {
		n.rec.waitIDs(t, "a,b,c,d", 5*time.Second)
	}
	stop(t, d.p)
	for _, n := range []*node{a, b, c} {
		n.rec.waitIDs(t, "a,b,c", time.Second)
	}
}

// TestEtcdRestartWithoutDataReRegistersEveryMember is the case proto.actor's
// etcd provider got wrong: etcd comes back empty, every lease is gone, and
// every member must register again and see the others again.
func TestEtcdRestartWithoutDataReRegistersEveryMember(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	cfg := testConfig(s.Endpoints())
	a, b, c := start(t, cfg, "a"), start(t, cfg, "b"), start(t, cfg, "c")
	for _, n := range []*node{a, b, c} {
		n.rec.waitIDs(t, "a,b,c", 5*time.Second)
	}
	if err := s.Restart(etcdtest.WipeData()); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, s.Endpoints())
	// Each counts a second registration after its Put returned, so
	// that counting it is what proves the key is its new one.
	reRegistered := func() bool {
		for _, n := range []*node{a, b, c} {
			if n.p.registered.Load() < 2 {
				return false
			}
		}
		return true
	}
	eventually(t, 10*time.Second, func() bool { return reRegistered() && keys(t, raw) == "a,b,c" },
		func() string { return "keys " + keys(t, raw) + "; want a,b,c registered again" })
	for _, n := range []*node{a, b, c} {
		n.rec.waitIDs(t, "a,b,c", 5*time.Second)
	}
	// The watches work on the new etcd: a member leaving is seen.
	stop(t, c.p)
	a.rec.waitIDs(t, "a,b", time.Second)
	b.rec.waitIDs(t, "a,b", time.Second)
}

// TestPartitionLongerThanTheLeaseReRegisters: a member cut off from etcd
// for longer than its lease disappears from its peers, and reappears when
// the network heals.
func TestPartitionLongerThanTheLeaseReRegisters(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	px := etcdtest.NewProxy(t, s)
	a := start(t, testConfig(px.Endpoints()), "a")
	b := start(t, testConfig(s.Endpoints()), "b")
	a.rec.waitIDs(t, "a,b", 5*time.Second)
	b.rec.waitIDs(t, "a,b", 5*time.Second)

	px.Partition()
	b.rec.waitIDs(t, "b", 5*time.Second) // a's lease expired in etcd
	eventually(t, 5*time.Second, func() bool { return a.p.failures.Load() > 0 },
		func() string { return "a never noticed the partition" })
	c := start(t, testConfig(s.Endpoints()), "c")
	px.Heal()

	for _, n := range []*node{a, b, c} {
		n.rec.waitIDs(t, "a,b,c", 5*time.Second)
	}
}

// TestCompactedWatchReadsAgain: a member whose watch resumes behind a
// compaction reads the members again and watches from there.
func TestCompactedWatchReadsAgain(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	px := etcdtest.NewProxy(t, s)
	obs, logs := observer.New(zapcore.InfoLevel)
	cfg := testConfig(px.Endpoints())
	cfg.LeaseTTL = 5 * time.Second // the partition must not cost the lease
	cfg.Logger = zap.New(obs)
	a := start(t, cfg, "a")
	raw := rawClient(t, s.Endpoints())

	px.Partition()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	x := member("x")
	if _, err := raw.Put(ctx, "/foundation/shop/members/x", encode(x)); err != nil {
		t.Fatal(err)
	}
	resp, err := raw.Put(ctx, "/other", "1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	px.Heal()

	a.rec.waitIDs(t, "a,x", 5*time.Second)
	if logs.FilterMessageSnippet("compaction").Len() == 0 {
		t.Errorf("no compaction logged; logs: %v", messages(logs))
	}
	y := member("y")
	if _, err := raw.Put(ctx, "/foundation/shop/members/y", encode(y)); err != nil {
		t.Fatal(err)
	}
	a.rec.waitIDs(t, "a,x,y", 5*time.Second)
}

// TestNothingRegistersAfterStop: a stopped member stays withdrawn when etcd
// restarts, with or without its data, while the running one registers
// again.
func TestNothingRegistersAfterStop(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	cfg := testConfig(s.Endpoints())
	a, b := start(t, cfg, "a"), start(t, cfg, "b")
	a.rec.waitIDs(t, "a,b", 5*time.Second)
	stop(t, a.p)
	regs, updates := a.p.registered.Load(), a.rec.count()
	raw := rawClient(t, s.Endpoints())

	for _, opts := range [][]etcdtest.RestartOption{nil, {etcdtest.WipeData()}} {
		if err := s.Restart(opts...); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, func() bool { return keys(t, raw) == "b" },
			func() string { return "keys " + keys(t, raw) + "; want b alone" })
		b.rec.waitIDs(t, "b", time.Second)
	}
	if got := a.p.registered.Load(); got != regs {
		t.Errorf("a registered %d times after Stop", got-regs)
	}
	if got := a.rec.count(); got != updates {
		t.Errorf("a reported %d sets after Stop", got-updates)
	}
}

// TestOwnKeyDeletedRegistersAgain: deleting a live member's key (etcdctl
// del) does not remove it for long.
func TestOwnKeyDeletedRegistersAgain(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	cfg := testConfig(s.Endpoints())
	a, b := start(t, cfg, "a"), start(t, cfg, "b")
	b.rec.waitIDs(t, "a,b", 5*time.Second)
	raw := rawClient(t, s.Endpoints())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := raw.Delete(ctx, "/foundation/shop/members/a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return a.p.registered.Load() >= 2 && keys(t, raw) == "a,b" },
		func() string { return "keys " + keys(t, raw) + "; want a registered again" })
	b.rec.waitIDs(t, "a,b", 5*time.Second)
}

// TestStopWhileCutOffReturnsWithinASecond: Stop does not wait for an etcd
// it cannot reach; the key then expires with its lease.
func TestStopWhileCutOffReturnsWithinASecond(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	px := etcdtest.NewProxy(t, s)
	a := start(t, testConfig(px.Endpoints()), "a")
	raw := rawClient(t, s.Endpoints())
	px.Partition()
	stop(t, a.p) // fails the test when it takes a second
	eventually(t, 5*time.Second, func() bool { return keys(t, raw) == "" },
		func() string { return "keys " + keys(t, raw) + "; want a expired" })
}

func TestUnreachableAtStartIsErrUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := testConfig([]string{endpoint})
	cfg.DialTimeout = 200 * time.Millisecond
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = p.Start(context.Background(), member("a"), func([]provider.Member) {})
	took := time.Since(began)
	if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("Start: %v; want provider.ErrUnavailable naming %s", err, endpoint)
	}
	// three attempts of 200ms and two pauses of at most 20ms, and slack
	if took > 2*time.Second {
		t.Errorf("Start took %v", took)
	}
	stop(t, p)
}

// TestStopDuringStart: a Start retrying against an unreachable etcd returns
// provider.ErrStopped as soon as Stop is called.
func TestStopDuringStart(t *testing.T) {
	cfg := testConfig([]string{"http://127.0.0.1:1"})
	cfg.DialTimeout = time.Minute
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var startErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		startErr = p.Start(context.Background(), member("a"), func([]provider.Member) {})
	}()
	eventually(t, 5*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.state == starting
	}, func() string { return "Start did not begin" })
	stop(t, p)
	wg.Wait()
	if !errors.Is(startErr, provider.ErrStopped) {
		t.Fatalf("Start: %v; want provider.ErrStopped", startErr)
	}
}

func TestStartCanBeRetriedAfterItFailed(t *testing.T) {
	cfg := testConfig([]string{"http://127.0.0.1:1"})
	cfg.DialTimeout = 50 * time.Millisecond
	cfg.StartRetries = -1
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Start(context.Background(), member("a"), func([]provider.Member) {}); !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("Start: %v; want provider.ErrUnavailable", err)
		}
	}
	stop(t, p)
}

func TestStartRejectsABadSelf(t *testing.T) {
	p, err := New(Config{Endpoints: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, p)
	noop := func([]provider.Member) {}
	for _, tc := range []struct {
		self   provider.Member
		update func([]provider.Member)
		want   string
	}{
		{member("a"), nil, "update"},
		{provider.Member{Address: "h:1", Cluster: "shop"}, noop, "self.ID"},
		{provider.Member{ID: "a/b", Address: "h:1", Cluster: "shop"}, noop, "self.ID"},
		{provider.Member{ID: "a", Address: "h:1"}, noop, "self.Cluster"},
		{provider.Member{ID: "a", Cluster: "shop"}, noop, "self.Address"},
	} {
		err := p.Start(context.Background(), tc.self, tc.update)
		if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v): %v; want provider.ErrInvalidConfig naming %s", tc.self, err, tc.want)
		}
	}
}

// TestErrorsAreLoggedOncePerEpisode: a member cut off for a while retries
// many times but logs one warning, and one info line when it is back.
func TestErrorsAreLoggedOncePerEpisode(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	px := etcdtest.NewProxy(t, s)
	obs, logs := observer.New(zapcore.InfoLevel)
	cfg := testConfig(px.Endpoints())
	cfg.Logger = zap.New(obs)
	cfg.DialTimeout = 100 * time.Millisecond
	cfg.RetryMax = 50 * time.Millisecond
	a := start(t, cfg, "a")

	for episode := 1; episode <= 2; episode++ {
		px.Partition()
		eventually(t, 10*time.Second, func() bool { return a.p.failures.Load() >= int64(5*episode) },
			func() string { return "too few retries" })
		px.Heal()
		eventually(t, 10*time.Second, func() bool { return recovered(logs) == episode },
			func() string { return "not recovered; logs: " + strings.Join(messages(logs), " | ") })
		if got := logs.FilterLevelExact(zapcore.WarnLevel).Len(); got != episode {
			t.Fatalf("episode %d: %d warnings after %d failed attempts; want %d. Logs: %s",
				episode, got, a.p.failures.Load(), episode, strings.Join(messages(logs), " | "))
		}
	}
	if n := logs.FilterLoggerName("etcd-client").Len(); n != 0 {
		t.Errorf("the etcd client logged %d lines; want none below error level", n)
	}
}

func recovered(logs *observer.ObservedLogs) int {
	return logs.FilterMessage("etcd: registered and watching again").Len()
}

func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.Level.String()+" "+e.Message)
	}
	return out
}

// TestSecretAdmitsOnlySignedRecords: with a secret, records signed under
// another secret, unsigned or malformed are dropped, each logged once.
func TestSecretAdmitsOnlySignedRecords(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	obs, logs := observer.New(zapcore.InfoLevel)
	cfg := testConfig(s.Endpoints())
	cfg.Secret = []byte("0123456789abcdef")
	cfgA := cfg
	cfgA.Logger = zap.New(obs)
	a := start(t, cfgA, "a")
	start(t, cfg, "b")
	other := testConfig(s.Endpoints())
	other.Secret = []byte("fedcba9876543210")
	start(t, other, "c")
	raw := rawClient(t, s.Endpoints())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, kv := range [][2]string{
		{"d", encode(member("d"))}, // unsigned
		{"e", "{not json"},
		{"e", "{still not json"},   // the same key again: not logged again
		{"f", encode(member("g"))}, // id does not match the key
	} {
		if _, err := raw.Put(ctx, "/foundation/shop/members/"+kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	z := member("z") // the last write: once a sees it, it has seen the others
	z.Auth = provider.Sign(cfg.Secret, z)
	if _, err := raw.Put(ctx, "/foundation/shop/members/z", encode(z)); err != nil {
		t.Fatal(err)
	}
	a.rec.waitIDs(t, "a,b,z", 5*time.Second)
	dropped := logs.FilterMessageSnippet("dropping a record")
	if dropped.Len() != 4 { // c, d, e, f
		t.Errorf("%d drops logged; want 4 (c, d, e, f once each): %v", dropped.Len(), messages(logs))
	}
}

// TestOtherClustersAreIgnored: members of another cluster under the same
// prefix are not reported.
func TestOtherClustersAreIgnored(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	cfg := testConfig(s.Endpoints())
	a := start(t, cfg, "a")
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	o := member("o")
	o.Cluster = "other"
	if err := p.Start(context.Background(), o, rec.update); err != nil {
		t.Fatal(err)
	}
	defer stop(t, p)
	start(t, cfg, "b")
	a.rec.waitIDs(t, "a,b", 5*time.Second)
	rec.waitIDs(t, "o", time.Second)
}

// TestRevokedLeaseRegistersAgain: an operator revoking the member's lease
// (etcdctl lease revoke) does not remove it for long.
func TestRevokedLeaseRegistersAgain(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	cfg := testConfig(s.Endpoints())
	cfg.LeaseTTL = 30 * time.Second // only the revoke can end it
	a := start(t, cfg, "a")
	raw := rawClient(t, s.Endpoints())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := raw.Get(ctx, "/foundation/shop/members/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get: %v", err)
	}
	if _, err := raw.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return a.p.registered.Load() >= 2 && keys(t, raw) == "a" },
		func() string { return "keys " + keys(t, raw) + "; want a registered again" })
}
