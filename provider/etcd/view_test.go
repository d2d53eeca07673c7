package etcd

import (
	"slices"
	"testing"

	"github.com/foundation-go/foundation/provider"
)

const testPrefix = "/foundation/shop/members/"

func TestRecordRoundTrip(t *testing.T) {
	m := provider.Member{ID: "m1", Address: "10.0.0.1:7000", Cluster: "shop", Kinds: []string{"cart", "user"}, Version: "v1", Auth: "ab"}
	if got := encode(m); got != `{"id":"m1","address":"10.0.0.1:7000","cluster":"shop","kinds":["cart","user"],"version":"v1","auth":"ab"}` {
		t.Fatalf("encode: %s", got)
	}
	back, err := decode([]byte(encode(m)))
	if err != nil || !sameMembers([]provider.Member{back}, []provider.Member{m}) {
		t.Fatalf("decode(encode(m)) = %+v, %v", back, err)
	}
	m.Kinds, m.Auth = nil, ""
	if got := encode(m); got != `{"id":"m1","address":"10.0.0.1:7000","cluster":"shop","kinds":[],"version":"v1"}` {
		t.Fatalf("encode without kinds and auth: %s", got)
	}
}

func TestViewJudge(t *testing.T) {
	secret := []byte("0123456789abcdef")
	self := member("a")
	signed := func(m provider.Member) provider.Member { m.Auth = provider.Sign(secret, m); return m }
	other := member("b")
	other.Cluster = "other"
	for _, tc := range []struct {
		name   string
		key    string
		value  string
		secret []byte
		want   verdict
	}{
		{"peer", testPrefix + "b", encode(member("b")), nil, admit},
		{"signed peer", testPrefix + "b", encode(signed(member("b"))), secret, admit},
		{"unsigned peer under a secret", testPrefix + "b", encode(member("b")), secret, badAuth},
		{"self", testPrefix + "a", encode(member("a")), nil, fromSelf},
		{"not JSON", testPrefix + "b", "{", nil, malformed},
		{"nested key", testPrefix + "b/c", encode(member("c")), nil, malformed},
		{"the prefix itself", testPrefix, encode(member("b")), nil, malformed},
		{"outside the prefix", "/foundation/other/members/b", encode(member("b")), nil, malformed},
		{"id mismatch", testPrefix + "b", encode(member("c")), nil, mismatch},
		{"another cluster", testPrefix + "b", encode(other), nil, otherCluster},
	} {
		v := newView(self, testPrefix, tc.secret)
		if _, got := v.judge(tc.key, []byte(tc.value)); got != tc.want {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestViewMembers(t *testing.T) {
	v := newView(member("m"), testPrefix, nil)
	ids := func() []string {
		var out []string
		for _, m := range v.members() {
			out = append(out, m.ID)
		}
		return out
	}
	if got := ids(); !slices.Equal(got, []string{"m"}) {
		t.Fatalf("empty view: %v; want self alone", got)
	}
	v.put(testPrefix+"z", []byte(encode(member("z"))))
	v.put(testPrefix+"b", []byte(encode(member("b"))))
	if got := ids(); !slices.Equal(got, []string{"b", "m", "z"}) {
		t.Fatalf("%v; want b m z", got)
	}
	v.put(testPrefix+"b", []byte("garbage")) // a bad rewrite removes the old record
	v.remove(testPrefix + "z")
	if got := ids(); !slices.Equal(got, []string{"m"}) {
		t.Fatalf("%v; want m", got)
	}
	v.put(testPrefix+"b", []byte(encode(member("b"))))
	v.reset()
	if got := ids(); !slices.Equal(got, []string{"m"}) {
		t.Fatalf("after reset: %v; want m", got)
	}
}

func TestSameMembers(t *testing.T) {
	a := []provider.Member{member("a"), member("b")}
	b := []provider.Member{member("a"), member("b")}
	if !sameMembers(a, b) {
		t.Fatal("equal sets differ")
	}
	b[1].Kinds = []string{"cart", "user"}
	if sameMembers(a, b) {
		t.Fatal("different kinds are the same")
	}
	if sameMembers(a, a[:1]) || !sameMembers(nil, []provider.Member{}) {
		t.Fatal("lengths")
	}
}

// FuzzViewPut: any key and value are judged without panicking, and only
// admitted records enter the view, each in the cluster, named by its key.
func FuzzViewPut(f *testing.F) {
	f.Add(testPrefix+"b", encode(member("b")))
	f.Add(testPrefix+"b", `{"id":"b","cluster":"shop","kinds":null}`)
	f.Add(testPrefix+"a", "{")
	f.Fuzz(func(t *testing.T, key, value string) {
		v := newView(member("a"), testPrefix, nil)
		verdict := v.put(key, []byte(value))
		ms := v.members()
		if (verdict == admit) != (len(ms) == 2) {
			t.Fatalf("verdict %v with %d members", verdict, len(ms))
		}
		for _, m := range ms {
			if m.Cluster != "shop" {
				t.Fatalf("admitted a member of cluster %q", m.Cluster)
			}
		}
	})
}
