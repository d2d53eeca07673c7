package crdt

import (
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster/clustertest"
)

// Export on one cluster, Import into a fresh one: every key comes back on
// every member, merged, deleted keys stay deleted; a malformed snapshot
// changes nothing.
func TestExportImportIntoAFreshCluster(t *testing.T) {
	hits := GCounterKey("app/hits")
	tags := ORSetKey("app/tags", StringCodec())
	gone := GCounterKey("app/gone")
	other := GCounterKey("other/x")
	src := startReplicators(t, 3, nil)
	src.waitServing(10 * time.Second)
	for i, r := range src.running() {
		if err := Update(bg(t), r, hits, All, func(g *GCounter, op Op) { g.Increment(op.Replica, uint64(i+1)) }); err != nil {
			t.Fatal(err)
		}
		if err := Update(bg(t), r, tags, All, func(s *ORSet[string], op Op) { s.Add(op.Replica, string(rune('a'+i))) }); err != nil {
			t.Fatal(err)
		}
	}
	r0 := src.rep(0)
	for _, k := range []Key[*GCounter]{gone, other} {
		if err := Update(bg(t), r0, k, All, func(g *GCounter, op Op) { g.Increment(op.Replica, 7) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := Delete(bg(t), r0, gone, All); err != nil {
		t.Fatal(err)
	}
	data, n, err := r0.Export("app/*")
	if err != nil || n != 3 {
		t.Fatalf("Export: %d keys, %v", n, err)
	}

	dst := startReplicators(t, 3, nil)
	dst.waitServing(10 * time.Second)
	d0 := dst.rep(0)
	// A local key the backup will merge into, not replace.
	if err := Update(bg(t), d0, hits, Local, func(g *GCounter, op Op) { g.Increment(op.Replica, 100) }); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{data[:len(data)/2], append([]byte{0xff, 0xff}, data...), []byte("not a snapshot")} {
		if _, err := d0.Import(bg(t), bad); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("a malformed snapshot: %v", err)
		}
	}
	if keys := d0.Keys("app/*"); len(keys) != 1 {
		t.Fatalf("a refused snapshot changed the replica: %v", keys)
	}
	if n, err := d0.Import(bg(t), data); err != nil || n != 3 {
		t.Fatalf("Import: %d keys, %v", n, err)
	}
	clustertest.Eventually(t, func() bool {
		for _, r := range dst.running() {
			h, ok := localValue(t, r, hits)
			if !ok || h.Value() != 1+2+3+100 {
				return false
			}
			s, ok := localValue(t, r, tags)
			if !ok || s.Len() != 3 || !s.Contains("a") || !s.Contains("c") {
				return false
			}
			if _, ok := localValue(t, r, gone); ok {
				return false
			}
			if r.Keys("other/*") != nil {
				return false
			}
		}
		return true
	}, 10*time.Second, "the imported keys on every member of the new cluster")
	if err := Update(bg(t), dst.rep(1), gone, Local, func(g *GCounter, op Op) { g.Increment(op.Replica, 1) }); !errors.Is(err, ErrDeleted) {
		t.Fatalf("a key deleted in the backup can be written after the restore: %v", err)
	}
}
