package crdt

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/protos"
)

// FuzzReadFrame feeds any bytes to the replication protocol's frame
// decoder and merges whatever it accepts into a store: it never panics,
// never allocates past the frame bound, and a store that refused an
// envelope is unchanged.
func FuzzReadFrame(f *testing.F) {
	g := NewORSet(StringCodec())
	g.Add("a", "x")
	state, _ := g.MarshalBinary()
	d, _ := g.TakeDelta()
	delta, _ := d.MarshalBinary()
	c := NewGCounter()
	c.Increment("b", 3)
	cnt, _ := c.MarshalBinary()
	for _, fr := range []*protos.CRDTFrame{
		{Type: protos.CRDTFrame_DELTAS, Replica: "a", Entries: []*protos.CRDTEntry{{Key: "s", Data: delta, Delta: true}}},
		{Type: protos.CRDTFrame_STATES, Replica: "a", Entries: []*protos.CRDTEntry{{Key: "s", Data: state}, {Key: "c", Data: cnt}, {Key: "gone", Deleted: true}}},
		{Type: protos.CRDTFrame_STATES, Entries: []*protos.CRDTEntry{{Key: "c", Data: cnt, Pruning: []*protos.CRDTPruning{{Removed: "z", Owner: "a", Seen: []string{"a"}}, {Removed: "y", Owner: "a", Performed: true, Expires: 1 << 50}}}}},
		{Type: protos.CRDTFrame_WRITE, Id: 7, Entries: []*protos.CRDTEntry{{Key: "t", Data: cnt, Touched: 5}}},
		{Type: protos.CRDTFrame_SYNC, Root: 42},
		{Type: protos.CRDTFrame_SYNC_KEYS, BucketIds: []uint32{1, 255}, Digests: []*protos.CRDTKeyDigest{{Key: "s", Digest: 9}}},
	} {
		b, err := encodeFrame(fr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := readFrame(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		cfg := Config{}.withDefaults()
		cfg.Expire = map[string]time.Duration{"t": time.Second}
		s := newStore("self", &cfg)
		now := time.Unix(1000, 0)
		for _, w := range fr.Entries {
			before := len(s.entries)
			if _, err := s.apply(w, now); err != nil && len(s.entries) != before {
				t.Fatalf("a refused envelope added a key")
			}
		}
		s.refresh()
		_ = s.root()
		s.compare(fr.BucketIds, fr.Digests)
		s.prune(pruneView{members: []string{"self"}, owner: true}, now)
		s.expire(now.Add(time.Hour))
		for _, w := range s.takePending() {
			if _, err := s.apply(w, now); err != nil {
				t.Fatalf("re-applying an envelope this store produced: %v", err)
			}
		}
	})
}
