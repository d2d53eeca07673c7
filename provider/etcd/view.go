package etcd

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/foundation-go/foundation/provider"
)

// record is the JSON value of a member's key.
type record struct {
	ID      string   `json:"id"`
	Address string   `json:"address"`
	Cluster string   `json:"cluster"`
	Kinds   []string `json:"kinds"`
	Version string   `json:"version"`
	Auth    string   `json:"auth,omitempty"`
}

// encode returns the value stored under m's key.
func encode(m provider.Member) string {
	kinds := m.Kinds
	if kinds == nil {
		kinds = []string{}
	}
	b, err := json.Marshal(record{ID: m.ID, Address: m.Address, Cluster: m.Cluster, Kinds: kinds, Version: m.Version, Auth: m.Auth})
	if err != nil {
		panic("etcd: encoding a member record: " + err.Error()) // strings and a slice of strings always encode
	}
	return string(b)
}

// decode parses a member record.
func decode(value []byte) (provider.Member, error) {
	var r record
	if err := json.Unmarshal(value, &r); err != nil {
		return provider.Member{}, err
	}
	return provider.Member{ID: r.ID, Address: r.Address, Cluster: r.Cluster, Kinds: r.Kinds, Version: r.Version, Auth: r.Auth}, nil
}

// verdict is what becomes of a key found under the members prefix.
type verdict int

const (
	admit        verdict = iota
	fromSelf             // our own key: self is always in the view
	malformed            // not JSON of a record, or not a direct child key
	mismatch             // the record's id is not its key's last element
	otherCluster         // the record names another cluster
	badAuth              // Secret is set and the signature does not verify
)

func (v verdict) String() string {
	switch v {
	case admit:
		return "admitted"
	case fromSelf:
		return "self"
	case malformed:
		return "malformed record"
	case mismatch:
		return "record id does not match its key"
	case otherCluster:
		return "record of another cluster"
	case badAuth:
		return "record does not verify under Config.Secret"
	}
	return "unknown"
}

// view is the member set one provider reports: self, always, and the peers
// whose records under the cluster's members prefix are admitted. It is pure
// and owned by the provider's loop goroutine.
type view struct {
	self   provider.Member // as registered: Auth set when Secret is
	prefix string          // Config.Prefix + cluster + "/members/"
	secret []byte
	peers  map[string]provider.Member // by key
}

func newView(self provider.Member, prefix string, secret []byte) *view {
	return &view{self: self, prefix: prefix, secret: secret, peers: make(map[string]provider.Member)}
}

// judge decides whether the record value under key may enter the view.
func (v *view) judge(key string, value []byte) (provider.Member, verdict) {
	id, ok := strings.CutPrefix(key, v.prefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return provider.Member{}, malformed
	}
	if id == v.self.ID {
		return provider.Member{}, fromSelf
	}
	m, err := decode(value)
	switch {
	case err != nil:
		return m, malformed
	case m.ID != id:
		return m, mismatch
	case m.Cluster != v.self.Cluster:
		return m, otherCluster
	case len(v.secret) > 0 && !provider.Verify(v.secret, m):
		return m, badAuth
	}
	return m, admit
}

// put applies a record written under key. A record that is not admitted
// removes whatever the key held before. It returns the verdict.
func (v *view) put(key string, value []byte) verdict {
	m, verdict := v.judge(key, value)
	if verdict == admit {
		v.peers[key] = m
	} else {
		delete(v.peers, key)
	}
	return verdict
}

// remove applies the deletion of key (a revoke, an expiry, a delete).
func (v *view) remove(key string) {
	delete(v.peers, key)
}

// reset forgets every peer, before the records of a fresh read are put.
func (v *view) reset() {
	clear(v.peers)
}

// members returns self and the admitted peers, ordered by id (and by key
// for equal ids).
func (v *view) members() []provider.Member {
	keys := make([]string, 0, len(v.peers))
	for k := range v.peers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]provider.Member, 0, len(keys)+1)
	out = append(out, v.self)
	for _, k := range keys {
		out = append(out, v.peers[k])
	}
	slices.SortStableFunc(out, func(a, b provider.Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// sameMembers reports whether a and b list the same members with the same
// fields in the same order.
func sameMembers(a, b []provider.Member) bool {
	return slices.EqualFunc(a, b, func(x, y provider.Member) bool {
		return x.ID == y.ID && x.Address == y.Address && x.Cluster == y.Cluster &&
			x.Version == y.Version && x.Auth == y.Auth && slices.Equal(x.Kinds, y.Kinds)
	})
}
