package crdt

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
)

// rcluster is a clustertest cluster whose members each run a Replicator
// (attached as a clustertest Layer).
type rcluster struct {
	*clustertest.Cluster
	t    testing.TB
	mu   gosync.Mutex
	reps map[int]*Replicator
	// config returns member index's Config.
	config func(index int) Config
	hook   func(index int) func(peer string, frame []byte) [][]byte
}

type repLayer struct {
	c     *rcluster
	index int
	r     *Replicator
}

func (l *repLayer) Prepare(*clustertest.Member, *cluster.Member) error { return nil }

func (l *repLayer) Start(m *clustertest.Member) error {
	cfg := Config{BatchWindow: 2 * time.Millisecond, AntiEntropyInterval: 100 * time.Millisecond, PruningInterval: 50 * time.Millisecond}
	if l.c.config != nil {
		cfg = l.c.config(l.index)
	}
	r, err := NewReplicator(m.Membership, cfg)
	if err != nil {
		return err
	}
	if l.c.hook != nil {
		r.sendHook = l.c.hook(l.index)
	}
	if err := r.Start(context.Background()); err != nil {
		return err
	}
	l.r = r
	l.c.mu.Lock()
	l.c.reps[l.index] = r
	l.c.mu.Unlock()
	return nil
}

func (l *repLayer) Stop(ctx context.Context) error {
	if l.r == nil {
		return nil
	}
	return l.r.Stop(ctx)
}

func (l *repLayer) Abort() {
	if l.r != nil {
		l.r.Abort()
	}
}

// startReplicators starts n members with replicators and waits until
// every member sees all n.
func startReplicators(t testing.TB, n int, config func(index int) Config) *rcluster {
	t.Helper()
	c := &rcluster{t: t, reps: map[int]*Replicator{}, config: config}
	c.Cluster = clustertest.Start(t, n, clustertest.Options{
		MembershipOnly: true,
		Layer:          func(i int) clustertest.Layer { return &repLayer{c: c, index: i} },
	})
	return c
}

// rep returns the replicator of member index.
func (c *rcluster) rep(i int) *Replicator {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reps[i]
}

// running returns the replicators of the running members.
func (c *rcluster) running() []*Replicator {
	var out []*Replicator
	for _, m := range c.Running() {
		out = append(out, c.rep(m.Index))
	}
	return out
}

// waitServing waits until every running member serves and sees every
// running member Up.
func (c *rcluster) waitServing(timeout time.Duration) {
	c.t.Helper()
	n := len(c.Running())
	clustertest.Eventually(c.t, func() bool {
		for _, m := range c.Running() {
			v := m.Membership.View()
			if v.Self != cluster.Serving || len(v.Up()) != n || len(v.Members) != n {
				return false
			}
		}
		return true
	}, timeout, fmt.Sprintf("every member serves and sees %d members up", n))
}

// localValue reads key on r with Local consistency; ok false if absent.
func localValue[T CRDT[T]](t testing.TB, r *Replicator, k Key[T]) (T, bool) {
	v, err := Get(context.Background(), r, k, Local)
	if err != nil {
		return v, false
	}
	return v, true
}

func bg(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// peek runs f on r's replica of key without copying it (under r's lock);
// false if r holds no value for key.
func peek[T CRDT[T]](r *Replicator, k Key[T], f func(v T)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, b, err := lookup(r.st, k)
	if err != nil || b == nil {
		return false
	}
	f(b.v)
	return true
}

// diag describes the keys' envelopes on each replicator, for failure
// messages. It is evaluated lazily by fmt (a Stringer).
func diag(reps []*Replicator, keys ...string) fmt.Stringer { return diagS{reps, keys} }

type diagS struct {
	reps []*Replicator
	keys []string
}

func (d diagS) String() string {
	var b strings.Builder
	if os.Getenv("DUMP") != "" {
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
	}
	for _, r := range d.reps {
		st := r.Stats()
		r.mu.Lock()
		fmt.Fprintf(&b, "[ae=%v pi=%v pa=%v ttl=%v ", r.cfg.AntiEntropyInterval, r.cfg.PruningInterval, r.cfg.PruneAfter, r.cfg.PruningMarkerTTL)
		fmt.Fprintf(&b, "sent=%d recv=%d dropped=%d syncs=%d pending=%d ", st.BytesSent, st.BytesReceived, st.Dropped, st.SyncRounds, len(r.st.pending))
		fmt.Fprintf(&b, "%s owner=%v members=%d peers=%v absent=%v:", r.st.replica, r.view.owner, len(r.view.members), r.st.peers, r.st.absent)
		for _, k := range d.keys {
			e := r.st.entries[k]
			if e == nil || e.val == nil {
				fmt.Fprintf(&b, " %s=nil", k)
				continue
			}
			var reps []string
			e.val.replicas(func(x string) { reps = append(reps, x) })
			enc, _ := e.val.appendBinary(nil)
			fmt.Fprintf(&b, " %s=%x replicas=%v marks=", k, enc, reps)
			for x, m := range e.marks {
				fmt.Fprintf(&b, "{%s owner=%s performed=%v seen=%v}", x, m.owner, m.performed, m.seen)
			}
		}
		b.WriteString("] ")
		r.mu.Unlock()
	}
	return b.String()
}

// eventually is clustertest.Eventually with a failure message computed at
// the deadline.
func eventually(t testing.TB, cond func() bool, timeout time.Duration, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what())
		}
		time.Sleep(time.Millisecond)
	}
}
