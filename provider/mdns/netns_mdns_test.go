package mdns

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/foundation-go/foundation/provider"
)

// The tests in this file send multicast, so each runs in a network
// namespace of its own (inNetns) and binds only lo.

func member(id, cluster string, port int, kinds ...string) provider.Member {
	return provider.Member{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", port), Cluster: cluster, Kinds: kinds, Version: "v-" + id}
}

// TestNetnsSeeEachOther: three providers see each other with every field
// intact (an id that DNS names must escape included); a stopped one is dropped by the others at once, by its goodbye
// (ExpireAfter is a minute here, so expiry cannot be what drops it).
func TestNetnsSeeEachOther(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		cfg := Config{AnnounceInterval: 100 * time.Millisecond, ExpireAfter: time.Minute}
		want := []provider.Member{
			member("a", "dev", 7001, "cart", "user"),
			member("b", "dev", 7002),
			member("c.odd id/ü", "dev", 7003, "order"), // escaped in DNS names
		}
		var nodes []*node
		for _, m := range want {
			nodes = append(nodes, start(t, cfg, m))
		}
		for _, n := range nodes {
			eventually(t, 5*time.Second, n.self.ID+" sees a, b and c", func() bool { return len(n.rec.last()) == 3 })
			if got := n.rec.last(); !slices.EqualFunc(got, want, same) {
				t.Fatalf("%s reports %+v, want %+v", n.self.ID, got, want)
			}
		}

		c := nodes[2]
		before := c.rec.count()
		began := time.Now()
		c.stop(t)
		if d := time.Since(began); d > time.Second {
			t.Errorf("Stop took %v, want under 1s", d)
		}
		stopped := time.Since(began)
		c.stop(t) // idempotent
		for _, n := range nodes[:2] {
			eventually(t, 2*time.Second, n.self.ID+" drops c after its goodbye", func() bool {
				return slices.Equal(n.rec.ids(), []string{"a", "b"})
			})
		}
		t.Logf("all saw 3 members; c's Stop took %v; a and b dropped c %v after Stop began (ExpireAfter %v)",
			stopped.Round(time.Microsecond), time.Since(began).Round(time.Microsecond), cfg.ExpireAfter)
		if got := c.rec.count(); got != before {
			t.Errorf("c reported %d sets after Stop", got-before)
		}
		if got := nodes[0].p.heard.Load(); got < 2 {
			t.Errorf("a heard %d announcements, want several", got)
		}
	})
}

// TestNetnsExpiry: a member that falls silent without a goodbye is dropped
// after ExpireAfter (and not before), and reported again when it is heard
// again; a live provider, re-announcing, is never dropped meanwhile.
func TestNetnsExpiry(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		cfg := Config{AnnounceInterval: 50 * time.Millisecond, ExpireAfter: 300 * time.Millisecond}
		a := start(t, cfg, member("a", "dev", 7001))
		b := start(t, cfg, member("b", "dev", 7002))
		eventually(t, 5*time.Second, "a sees b", func() bool { return slices.Equal(a.rec.ids(), []string{"a", "b"}) })
		mark := a.rec.count()

		ghost := member("ghost", "dev", 7009, "k")
		for round := range 2 {
			sent := time.Now()
			sendRaw(t, packet(t, ghost, 1))
			eventually(t, 2*time.Second, fmt.Sprintf("round %d: a sees ghost", round), func() bool {
				return slices.Equal(a.rec.ids(), []string{"a", "b", "ghost"})
			})
			eventually(t, 2*time.Second, fmt.Sprintf("round %d: a expires ghost", round), func() bool {
				return slices.Equal(a.rec.ids(), []string{"a", "b"})
			})
			d := time.Since(sent)
			if d < cfg.ExpireAfter {
				t.Fatalf("round %d: ghost dropped %v after its only announcement, before ExpireAfter %v", round, d, cfg.ExpireAfter)
			}
			t.Logf("round %d: ghost dropped %v after its only announcement (ExpireAfter %v, AnnounceInterval %v)", round, d.Round(time.Millisecond), cfg.ExpireAfter, cfg.AnnounceInterval)
		}
		for i, set := range a.rec.since(mark) {
			if !slices.ContainsFunc(set, func(m provider.Member) bool { return m.ID == "b" }) {
				t.Fatalf("set %d after b was seen lacks b, which kept announcing: %+v", i, set)
			}
		}
		if !b.rec.everHad("ghost") {
			t.Error("b never saw ghost")
		}
	})
}

// TestNetnsOtherCluster: a provider of another cluster is heard but never
// reported, and it reports none of ours.
func TestNetnsOtherCluster(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		cfg := Config{AnnounceInterval: 50 * time.Millisecond}
		a := start(t, cfg, member("a", "dev", 7001))
		b := start(t, cfg, member("b", "dev", 7002))
		x := start(t, cfg, member("x", "prod", 7003))
		eventually(t, 5*time.Second, "a and b see each other and have each heard x 5 times", func() bool {
			return slices.Equal(a.rec.ids(), []string{"a", "b"}) && slices.Equal(b.rec.ids(), []string{"a", "b"}) &&
				a.p.ignored.Load() >= 5 && b.p.ignored.Load() >= 5 && x.p.ignored.Load() >= 10
		})
		for _, n := range []*node{a, b} {
			if n.rec.everHad("x") {
				t.Errorf("%s reported x, of cluster prod", n.self.ID)
			}
		}
		if x.rec.everHad("a") || x.rec.everHad("b") {
			t.Error("x reported a member of cluster dev")
		}
		if got := x.rec.ids(); !slices.Equal(got, []string{"x"}) {
			t.Errorf("x reports %q, want only itself", got)
		}
	})
}

// TestNetnsSecret: with Secret set, members signed under another secret,
// or not signed, are never reported, and each is logged once however often
// it is heard; a goodbye that does not verify removes nobody.
func TestNetnsSecret(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		core, logs := observer.New(zap.WarnLevel)
		good := Config{AnnounceInterval: 50 * time.Millisecond, ExpireAfter: time.Minute, Secret: []byte("right secret")}
		withLog := good
		withLog.Logger = zap.New(core)
		a := start(t, withLog, member("a", "dev", 7001))
		b := start(t, good, member("b", "dev", 7002))
		wrong := good
		wrong.Secret = []byte("wrong secret")
		w := start(t, wrong, member("w", "dev", 7003))
		unsigned := good
		unsigned.Secret = nil
		u := start(t, unsigned, member("u", "dev", 7004))

		eventually(t, 5*time.Second, "a and b see each other, a has dropped w and u 10 times", func() bool {
			return slices.Equal(a.rec.ids(), []string{"a", "b"}) && slices.Equal(b.rec.ids(), []string{"a", "b"}) &&
				a.p.dropped.Load() >= 10
		})
		// A goodbye for b, signed under the wrong secret.
		forged := b.rec.last()[1]
		if forged.ID != "b" {
			t.Fatalf("b's own entry: %+v", forged)
		}
		forged.Auth = provider.Sign([]byte("wrong secret"), forged)
		dropped := a.p.dropped.Load()
		sendRaw(t, packet(t, forged, 0))
		eventually(t, 2*time.Second, "a drops the forged goodbye", func() bool { return a.p.dropped.Load() > dropped })

		for _, n := range []*node{a, b} {
			for _, id := range []string{"w", "u"} {
				if n.rec.everHad(id) {
					t.Errorf("%s reported %s, whose announcements do not verify", n.self.ID, id)
				}
			}
			if got := n.rec.ids(); !slices.Equal(got, []string{"a", "b"}) {
				t.Errorf("%s reports %q, want [a b]", n.self.ID, got)
			}
		}
		// w holds the other secret: it sees nobody either.
		if got := w.rec.ids(); !slices.Equal(got, []string{"w"}) {
			t.Errorf("w reports %q, want only itself", got)
		}
		// u checks nothing: it sees everyone of its cluster.
		eventually(t, 2*time.Second, "u sees a, b, w", func() bool {
			return slices.Equal(u.rec.ids(), []string{"a", "b", "u", "w"})
		})
		if self := a.rec.last()[0]; !provider.Verify(good.Secret, self) {
			t.Errorf("a reports itself without a valid signature: %+v", self)
		}

		perID := map[string]int{}
		for _, e := range logs.FilterMessageSnippet("does not verify").All() {
			perID[e.ContextMap()["id"].(string)]++
		}
		if want := map[string]int{"w": 1, "u": 1, "b": 1}; !mapsEqual(perID, want) {
			t.Errorf("drop logs per member = %v, want %v (once each, b for the forged goodbye)", perID, want)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestNetnsZeroconf: a grandcat/zeroconf browser finds a Provider with its
// TXT fields, and a Provider reports a member registered with zeroconf's
// RegisterProxy and drops it on zeroconf's goodbye.
func TestNetnsZeroconf(t *testing.T) {
	inNetns(t, func(t *testing.T) {
		cfg := Config{AnnounceInterval: 50 * time.Millisecond, ExpireAfter: time.Minute}
		a := start(t, cfg, member("a", "dev", 7001, "cart", "user"))
		lo := a.p.ifaces

		// zeroconf browses: it reports each instance once per Browse.
		r, err := zeroconf.NewResolver(zeroconf.SelectIfaces(lo), zeroconf.SelectIPTraffic(zeroconf.IPv4))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		entries := make(chan *zeroconf.ServiceEntry)
		if err := r.Browse(ctx, DefaultService, DefaultDomain, entries); err != nil {
			t.Fatal(err)
		}
		var found *zeroconf.ServiceEntry
		for e := range entries {
			if e.Instance == "a" && found == nil {
				found = e
				cancel()
			}
		}
		cancel()
		if found == nil {
			t.Fatal("zeroconf did not find instance a")
		}
		wantTXT := []string{"cluster=dev", "id=a", "addr=127.0.0.1:7001", "kinds=cart,user", "version=v-a"}
		if !slices.Equal(found.Text, wantTXT) || found.Port != 7001 || len(found.AddrIPv4) != 1 || !found.AddrIPv4[0].Equal([]byte{127, 0, 0, 1}) {
			t.Fatalf("zeroconf found %+v (IPv4 %v), want TXT %q, port 7001, 127.0.0.1", found, found.AddrIPv4, wantTXT)
		}

		// zeroconf registers a member; its goodbye (Shutdown) drops it.
		z := member("z", "dev", 7005, "k")
		txt, err := encodeTXT(z)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := zeroconf.RegisterProxy("z", DefaultService, DefaultDomain, 7005, "zhost", []string{"127.0.0.1"}, txt, lo)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "a sees z", func() bool { return slices.Equal(a.rec.ids(), []string{"a", "z"}) })
		if got := a.rec.last()[1]; !same(got, z) {
			t.Errorf("a reports %+v, want %+v", got, z)
		}
		srv.Shutdown()
		eventually(t, 2*time.Second, "a drops z on zeroconf's goodbye", func() bool { return slices.Equal(a.rec.ids(), []string{"a"}) })

		// zeroconf v1.0.0 leaves goroutines behind that nothing can stop or
		// wait for: Server.probe sleeps through its announcements for up to
		// ~3.5s after RegisterProxy, whatever Shutdown does, and the
		// Resolver's receivers end only after Browse's channel is closed.
		// Wait for them so that TestMain's leak check holds.
		zeroconfGoroutines := func() []string {
			buf := make([]byte, 1<<20)
			var found []string
			for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
				if i := strings.Index(g, "github.com/grandcat/zeroconf."); i >= 0 {
					fn, _, _ := strings.Cut(g[i:], "(0x")
					found = append(found, fn)
				}
			}
			return found
		}
		began := time.Now()
		t.Logf("zeroconf goroutines left after Shutdown and Browse's end: %q", zeroconfGoroutines())
		eventually(t, 10*time.Second, "zeroconf's goroutines end", func() bool { return len(zeroconfGoroutines()) == 0 })
		t.Logf("they ended %v later", time.Since(began).Round(10*time.Millisecond))
	})
}
