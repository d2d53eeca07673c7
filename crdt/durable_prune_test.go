package crdt

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster/clustertest"
)

// The whole cluster is killed (no graceful stop: nothing written behind)
// and started again on its files: the durable keys are back, the others
// are gone.
func TestDurableWholeClusterRestart(t *testing.T) {
	dir := t.TempDir()
	const n = 3
	c := startReplicators(t, n, func(i int) Config {
		return Config{BatchWindow: time.Millisecond, AntiEntropyInterval: 50 * time.Millisecond,
			Durable: DurableConfig{Path: filepath.Join(dir, fmt.Sprintf("m%d.db", i%n)), Keys: []string{"d/*"}}}
	})
	ctx := bg(t)
	counter, set, scratch := PNCounterKey("d/counter"), ORSetKey("d/set", StringCodec()), GCounterKey("scratch")
	for i := range n {
		r := c.rep(i)
		for j := range 5 {
			if err := Update(ctx, r, counter, Local, func(p *PNCounter, op Op) { p.Increment(op.Replica, 2) }); err != nil {
				t.Fatal(err)
			}
			if err := Update(ctx, r, set, Local, func(s *ORSet[string], op Op) { s.Add(op.Replica, fmt.Sprintf("%d-%d", i, j)) }); err != nil {
				t.Fatal(err)
			}
		}
		if err := Update(ctx, r, scratch, Local, func(g *GCounter, op Op) { g.Increment(op.Replica, 1) }); err != nil {
			t.Fatal(err)
		}
	}
	// Each member wrote its own updates before acknowledging them; kill
	// them all at once, before replication settles.
	for i := range n {
		c.Kill(i)
	}
	for i := range n {
		if _, err := c.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	c.waitServing(15 * time.Second)
	clustertest.Eventually(t, func() bool {
		for _, r := range c.running() {
			ok := peek(r, counter, func(p *PNCounter) {}) && peek(r, set, func(s *ORSet[string]) {})
			if !ok {
				return false
			}
			var v int64
			var l int
			peek(r, counter, func(p *PNCounter) { v = p.Value() })
			peek(r, set, func(s *ORSet[string]) { l = s.Len() })
			if v != 2*5*n || l != 5*n {
				return false
			}
		}
		return true
	}, 10*time.Second, "every restarted member has the durable keys back")
	for _, r := range c.running() {
		if len(r.Keys("scratch")) != 0 {
			t.Fatal("a key that was not durable survived the restart")
		}
	}
}

// A member that leaves has its counter contribution folded into the
// pruning owner's and its replica forgotten everywhere; after many
// members came and went, values name only the live replicas.
func TestPruningRemovedMembers(t *testing.T) {
	cfg := func(int) Config {
		return Config{BatchWindow: time.Millisecond, AntiEntropyInterval: 50 * time.Millisecond, PruningInterval: 30 * time.Millisecond,
			PruneAfter: 300 * time.Millisecond, PruningMarkerTTL: 500 * time.Millisecond}
	}
	c := startReplicators(t, 3, cfg)
	ctx := bg(t)
	counter, set := GCounterKey("visits"), ORSetKey("members", StringCodec())
	want := uint64(0)
	work := func(i int) {
		t.Helper()
		r := c.rep(i)
		if err := Update(ctx, r, counter, All, func(g *GCounter, op Op) { g.Increment(op.Replica, 10) }); err != nil {
			t.Fatal(err)
		}
		if err := Update(ctx, r, set, All, func(s *ORSet[string], op Op) { s.Add(op.Replica, fmt.Sprint(i)) }); err != nil {
			t.Fatal(err)
		}
		want += 10
	}
	for i := range 3 {
		work(i)
	}
	// Members come, work and go: gracefully (pruned at once) or killed
	// (pruned after PruneAfter).
	for round := range 4 {
		m, err := c.Add()
		if err != nil {
			t.Fatal(err)
		}
		c.waitServing(10 * time.Second)
		work(m.Index)
		if round%2 == 0 {
			c.Stop(m.Index)
		} else {
			c.Kill(m.Index)
		}
		c.WaitMembers(3, 10*time.Second)
	}
	live := func() map[string]bool {
		out := map[string]bool{}
		for _, r := range c.running() {
			out[r.Stats().Replica] = true
		}
		return out
	}
	eventually(t, func() bool {
		lv := live()
		for _, r := range c.running() {
			good := true
			r.mu.Lock()
			for _, id := range []string{counter.id, set.id} {
				e := r.st.entries[id]
				if e == nil || len(e.marks) > 0 {
					good = false
					continue
				}
				e.val.replicas(func(x string) {
					if !lv[x] {
						good = false
					}
				})
			}
			r.mu.Unlock()
			if !good {
				return false
			}
			var v uint64
			peek(r, counter, func(g *GCounter) { v = g.Value() })
			if v != want {
				return false
			}
			var l int
			peek(r, set, func(s *ORSet[string]) { l = s.Len() })
			if l != 7 {
				return false
			}
		}
		return true
	}, 30*time.Second, func() string {
		return fmt.Sprintf("every member counts %d and the values name only live replicas, without markers (%s)", want, diag(c.running(), counter.id, set.id))
	})
	var pruned uint64
	for _, r := range c.running() {
		pruned += r.Stats().Pruned
	}
	if pruned == 0 {
		t.Fatal("nothing was pruned")
	}
}
