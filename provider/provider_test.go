package provider_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/foundation-go/foundation/provider"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func signed(secret []byte, m provider.Member) provider.Member {
	m.Auth = provider.Sign(secret, m)
	return m
}

var (
	secret = []byte("cluster secret")
	member = provider.Member{
		ID:      "m-1",
		Address: "10.0.0.1:7000",
		Cluster: "shop",
		Kinds:   []string{"cart", "user", "order"},
		Version: "v1.2.3",
	}
)

func TestSignVerify(t *testing.T) {
	m := signed(secret, member)
	if len(m.Auth) != 64 || strings.ToLower(m.Auth) != m.Auth {
		t.Fatalf("Auth = %q, want 64 lower-case hex digits", m.Auth)
	}
	if !provider.Verify(secret, m) {
		t.Fatal("Verify(Sign(m)) = false")
	}
	if provider.Sign(secret, m) != m.Auth {
		t.Fatal("Sign is not deterministic, or depends on Auth")
	}
	if provider.Verify([]byte("another secret"), m) {
		t.Fatal("Verify under another secret = true")
	}
	if provider.Verify(nil, m) {
		t.Fatal("Verify under a nil secret = true")
	}
	unsigned := member
	if provider.Verify(secret, unsigned) {
		t.Fatal("Verify of an unsigned member = true")
	}
}

// TestVerifyTamper: changing any signed field, in any way, breaks the
// signature; Auth itself is not signed.
func TestVerifyTamper(t *testing.T) {
	m := signed(secret, member)
	tampers := map[string]func(*provider.Member){
		"ID":             func(m *provider.Member) { m.ID += "x" },
		"ID empty":       func(m *provider.Member) { m.ID = "" },
		"Address":        func(m *provider.Member) { m.Address = "10.0.0.1:7001" },
		"Cluster":        func(m *provider.Member) { m.Cluster = "Shop" },
		"Version":        func(m *provider.Member) { m.Version = "v1.2.4" },
		"Kinds added":    func(m *provider.Member) { m.Kinds = append(slices.Clone(m.Kinds), "more") },
		"Kinds removed":  func(m *provider.Member) { m.Kinds = m.Kinds[:2] },
		"Kinds renamed":  func(m *provider.Member) { m.Kinds = []string{"cart", "user", "orders"} },
		"Kinds nil":      func(m *provider.Member) { m.Kinds = nil },
		"Kinds repeated": func(m *provider.Member) { m.Kinds = append(slices.Clone(m.Kinds), "cart") },
		// Fields are separated, so moving bytes across a boundary is a change.
		"shift Cluster/ID": func(m *provider.Member) { m.Cluster, m.ID = "sho", "pm-1" },
		"Auth flipped": func(m *provider.Member) {
			b := []byte(m.Auth)
			b[0] ^= 1
			m.Auth = string(b)
		},
		"Auth truncated":  func(m *provider.Member) { m.Auth = m.Auth[:62] },
		"Auth odd length": func(m *provider.Member) { m.Auth = m.Auth[:63] },
		"Auth not hex":    func(m *provider.Member) { m.Auth = "zz" + m.Auth[2:] },
		"Auth empty":      func(m *provider.Member) { m.Auth = "" },
		"Auth longer":     func(m *provider.Member) { m.Auth += "00" },
	}
	for name, tamper := range tampers {
		c := m
		c.Kinds = slices.Clone(m.Kinds)
		tamper(&c)
		if provider.Verify(secret, c) {
			t.Errorf("%s: Verify = true after tampering", name)
		}
	}
	// Upper-case hex decodes to the same bytes: still valid.
	up := m
	up.Auth = strings.ToUpper(m.Auth)
	if !provider.Verify(secret, up) {
		t.Error("Verify of upper-case hex = false")
	}
}

// TestKindsOrder: the signature covers the set of kinds, not their order,
// and signing neither sorts nor otherwise changes the caller's slice.
func TestKindsOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := signed(secret, member)
	for range 50 {
		c := m
		c.Kinds = slices.Clone(m.Kinds)
		r.Shuffle(len(c.Kinds), func(i, j int) { c.Kinds[i], c.Kinds[j] = c.Kinds[j], c.Kinds[i] })
		if !provider.Verify(secret, c) {
			t.Fatalf("Verify with kinds %q = false", c.Kinds)
		}
		before := slices.Clone(c.Kinds)
		if provider.Sign(secret, c) != m.Auth {
			t.Fatalf("Sign with kinds %q differs", c.Kinds)
		}
		if !slices.Equal(c.Kinds, before) {
			t.Fatalf("Sign reordered the caller's kinds: %q -> %q", before, c.Kinds)
		}
	}
	// nil and empty kinds are the same set.
	a, b := member, member
	a.Kinds, b.Kinds = nil, []string{}
	if provider.Sign(secret, a) != provider.Sign(secret, b) {
		t.Fatal("nil and empty kinds sign differently")
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("m-1", "10.0.0.1:7000", "shop", "cart,user", "v1", "00ff")
	f.Fuzz(func(t *testing.T, id, addr, cluster, kinds, version, auth string) {
		m := provider.Member{ID: id, Address: addr, Cluster: cluster, Kinds: strings.Split(kinds, ","), Version: version, Auth: auth}
		// Arbitrary Auth verifies only if it is the signature.
		if provider.Verify(secret, m) != strings.EqualFold(auth, provider.Sign(secret, m)) {
			t.Fatalf("Verify(%+v) disagrees with Sign", m)
		}
		if !provider.Verify(secret, signed(secret, m)) {
			t.Fatalf("Verify(Sign(%+v)) = false", m)
		}
	})
}

func TestSignSeparatesFields(t *testing.T) {
	secret := []byte("s")
	pairs := [][2]provider.Member{
		{{Kinds: []string{"a,b"}}, {Kinds: []string{"a", "b"}}},
		{{Cluster: "x\x00y", ID: "z"}, {Cluster: "x", ID: "y\x00z"}},
		{{ID: "ab", Address: "c"}, {ID: "a", Address: "bc"}},
	}
	for _, p := range pairs {
		if provider.Sign(secret, p[0]) == provider.Sign(secret, p[1]) {
			t.Errorf("%+v and %+v sign alike", p[0], p[1])
		}
	}
}
