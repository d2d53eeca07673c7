package foundation_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/internal/nodetest"
	"github.com/foundation-go/foundation/service"
)

// memCache is a Dumper holding a map, for the cache section of a backup.
type memCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *memCache) Dump(_ context.Context, w io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(c.m)) {
		if _, err := io.WriteString(w, k+"="+c.m[k]+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func (c *memCache) Load(_ context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			c.m[k] = v
		}
	}
	return nil
}

type nop struct{ actor.ServerBase }

var orders = crdt.GCounterKey("app/orders")

// writeState gives a cluster state worth backing up: a counter written on
// every member, a registered service, a deleted key.
func writeState(t *testing.T, nodes []*foundation.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, n := range nodes {
		if err := crdt.Update(ctx, n.Replicator, orders, crdt.All, func(g *crdt.GCounter, op crdt.Op) { g.Increment(op.Replica, uint64(10*(i+1))) }); err != nil {
			t.Fatal(err)
		}
	}
	pid, err := nodes[1].System.Spawn(&nop{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Services.Register(ctx, "billing", pid, service.WithMetadata(map[string]string{"tier": "gold"})); err != nil {
		t.Fatal(err)
	}
	gone := crdt.GCounterKey("app/gone")
	if err := crdt.Update(ctx, nodes[0].Replicator, gone, crdt.All, func(g *crdt.GCounter, op crdt.Op) { g.Increment(op.Replica, 1) }); err != nil {
		t.Fatal(err)
	}
	if err := crdt.Delete(ctx, nodes[0].Replicator, gone, crdt.All); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		st, err := service.NewStore(nodes[0].Replicator)
		if err != nil {
			return false
		}
		defer st.Close()
		return len(st.List("billing")) == 1
	}, 5*time.Second, "the registration replicated to member 0")
}

func TestBackupRestoreIntoAFreshCluster(t *testing.T) {
	src := nodetest.Start(t, 3, nil)
	writeState(t, src)
	cache := &memCache{m: map[string]string{"user:1": "ada", "user:2": "grace"}}
	var file bytes.Buffer
	info, err := src[0].Backup(context.Background(), &file, foundation.BackupOptions{Caches: map[string]foundation.Dumper{"users": cache}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster != "nodetest" || len(info.Members) != 3 || info.Keys < 3 || info.Size != int64(file.Len()) || len(info.Caches) != 1 {
		t.Fatalf("backup info: %+v", info)
	}
	if strings.Contains(file.String(), "nodetest-secret") {
		t.Fatal("the backup holds the cluster secret")
	}
	if !bytes.Contains(info.Config, []byte("secret: REDACTED")) {
		t.Fatalf("the configuration in the backup:\n%s", info.Config)
	}
	for _, n := range src {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.Stop(ctx)
		cancel()
	}

	dst := nodetest.Start(t, 3, nil)
	restored := &memCache{}
	before := dst[2].Replicator.Keys("*")

	// Refused, and nothing changed: truncated, altered, foreign, not a
	// backup at all, another format.
	data := file.Bytes()
	altered := bytes.Clone(data)
	altered[len(altered)/2] ^= 0x01
	future := bytes.Clone(data)
	future[len("FOUNDATION-BACKUP\n")+3] = 9
	for _, tc := range []struct {
		name string
		file []byte
		o    foundation.RestoreOptions
		want error
	}{
		{"truncated", data[:len(data)-10], foundation.RestoreOptions{}, foundation.ErrBackupCorrupt},
		{"truncated body", data[:len(data)/3], foundation.RestoreOptions{}, foundation.ErrBackupCorrupt},
		{"altered", altered, foundation.RestoreOptions{}, foundation.ErrBackupCorrupt},
		{"not a backup", []byte("name: foundation\nsecret: x\n"), foundation.RestoreOptions{}, foundation.ErrBackupCorrupt},
		{"empty", nil, foundation.RestoreOptions{}, foundation.ErrBackupCorrupt},
		{"trailing data", append(bytes.Clone(data), 0), foundation.RestoreOptions{}, foundation.ErrBackupCorrupt},
		{"another format", future, foundation.RestoreOptions{}, foundation.ErrBackupVersion},
		{"foreign", data, foundation.RestoreOptions{From: "payments"}, foundation.ErrBackupForeign},
	} {
		if _, err := dst[2].Restore(context.Background(), bytes.NewReader(tc.file), tc.o); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if after := dst[2].Replicator.Keys("*"); len(after) != len(before) || len(restored.m) != 0 {
		t.Fatalf("a refused restore changed state: keys %v -> %v, cache %v", before, after, restored.m)
	}
	if _, err := foundation.ReadBackup(bytes.NewReader(data)); err != nil {
		t.Fatalf("ReadBackup: %v", err)
	}

	got, err := dst[2].Restore(context.Background(), bytes.NewReader(data), foundation.RestoreOptions{Caches: map[string]foundation.Dumper{"users": restored}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Keys != info.Keys || got.Member != info.Member {
		t.Fatalf("restore info %+v, backup info %+v", got, info)
	}
	if restored.m["user:1"] != "ada" || restored.m["user:2"] != "grace" {
		t.Fatalf("cache dump not restored: %v", restored.m)
	}
	clustertest.Eventually(t, func() bool {
		for _, n := range dst {
			g, err := crdt.Get(context.Background(), n.Replicator, orders, crdt.Local)
			if err != nil || g.Value() != 10+20+30 {
				return false
			}
			st, err := service.NewStore(n.Replicator)
			if err != nil {
				return false
			}
			recs := st.List("billing")
			st.Close()
			if len(recs) != 1 || recs[0].Metadata["tier"] != "gold" {
				return false
			}
		}
		return true
	}, 10*time.Second, "every durable key and registry entry on every member of the new cluster")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := crdt.Update(ctx, dst[0].Replicator, crdt.GCounterKey("app/gone"), crdt.Local, func(g *crdt.GCounter, op crdt.Op) {}); !errors.Is(err, crdt.ErrDeleted) {
		t.Fatalf("a key deleted before the backup: %v", err)
	}
	// A standby of another name accepts it when told to.
	standby := nodetest.Start(t, 1, func(int) []foundation.Option {
		return []foundation.Option{foundation.WithConfig(func(c *cluster.Config) { c.Name = "standby" })}
	})
	if _, err := standby[0].Restore(context.Background(), bytes.NewReader(data), foundation.RestoreOptions{}); !errors.Is(err, foundation.ErrBackupForeign) {
		t.Fatalf("a foreign backup: %v", err)
	}
	if _, err := standby[0].Restore(context.Background(), bytes.NewReader(data), foundation.RestoreOptions{From: "nodetest"}); err != nil {
		t.Fatalf("RestoreOptions.From: %v", err)
	}
}
