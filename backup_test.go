package foundation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/internal/nodetest"
	"github.com/foundation-go/foundation/service"
)

type nop struct{ actor.ServerBase }

// openCaches opens the cache "users" on every node, in the profile's tier
// (Multilevel over Partitioned would hide misses behind near copies: use
// Partitioned), and waits until each sees all the nodes hosting it.
func openCaches(t *testing.T, nodes []*foundation.Node) []*cache.Cache[string, string] {
	t.Helper()
	var cs []*cache.Cache[string, string]
	for _, n := range nodes {
		c, err := foundation.NewCache(n, "users", cache.Strings(), func(c *cache.Config) { c.Tier = cache.Partitioned })
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	clustertest.Eventually(t, func() bool {
		for _, c := range cs {
			if len(c.Members()) != len(nodes) {
				return false
			}
		}
		return true
	}, 10*time.Second, "every member hosts the cache")
	return cs
}

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
	users := openCaches(t, src)
	for i := range 30 {
		if err := users[i%3].Put(context.Background(), fmt.Sprintf("user:%d", i), fmt.Sprintf("name-%d", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	var file bytes.Buffer
	info, err := src[0].Backup(context.Background(), &file, foundation.BackupOptions{Caches: map[string]foundation.Dumper{"users": users[0]}})
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
	restored := openCaches(t, dst)
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
	if after := dst[2].Replicator.Keys("*"); len(after) != len(before) {
		t.Fatalf("a refused restore changed state: keys %v -> %v", before, after)
	}
	if _, ok, _ := restored[0].Get(context.Background(), "user:1"); ok {
		t.Fatal("a refused restore filled the cache")
	}
	if _, err := foundation.ReadBackup(bytes.NewReader(data)); err != nil {
		t.Fatalf("ReadBackup: %v", err)
	}

	got, err := dst[2].Restore(context.Background(), bytes.NewReader(data), foundation.RestoreOptions{Caches: map[string]foundation.Dumper{"users": restored[2]}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Keys != info.Keys || got.Member != info.Member {
		t.Fatalf("restore info %+v, backup info %+v", got, info)
	}
	// Every entry of the cache, whichever member owned it, from every
	// member of the new cluster.
	for i := range 30 {
		for _, c := range restored {
			if v, ok, err := c.Get(context.Background(), fmt.Sprintf("user:%d", i)); !ok || err != nil || v != fmt.Sprintf("name-%d", i) {
				t.Fatalf("user:%d after the restore: %q %v %v", i, v, ok, err)
			}
		}
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

// The administration endpoints: a cluster without a secret refuses them
// all; with one, a request without the token derived from it is refused.
func TestAdminEndpointsNeedTheSecret(t *testing.T) {
	open := nodetest.Start(t, 1, func(int) []foundation.Option {
		return []foundation.Option{foundation.WithConfig(func(c *cluster.Config) { c.Secret = "" })}
	})[0]
	closed := nodetest.Start(t, 1, nil)[0]
	for _, tc := range []struct {
		node  *foundation.Node
		token string
		want  int
	}{
		{open, foundation.AdminToken(""), http.StatusForbidden},
		{closed, "", http.StatusUnauthorized},
		{closed, foundation.AdminToken("another-secret-0123456789"), http.StatusUnauthorized},
		{closed, foundation.AdminToken("nodetest-secret-0123456789"), http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodGet, "http://"+tc.node.Telemetry.Address()+"/admin/backup", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("token %q: %s, want %d", tc.token, resp.Status, tc.want)
		}
		if tc.want == http.StatusOK {
			if _, err := foundation.ReadBackup(bytes.NewReader(body)); err != nil {
				t.Fatalf("the endpoint's backup: %v", err)
			}
		}
	}
}
