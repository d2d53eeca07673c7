package etcdtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider/etcd/etcdtest"
)

// client returns an etcd client of endpoints, closed when t ends.
func client(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func get(t *testing.T, c *clientv3.Client, key string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", false
	}
	return string(resp.Kvs[0].Value), true
}

func put(t *testing.T, c *clientv3.Client, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, key, value); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func TestRestartKeepsOrWipesData(t *testing.T) {
	s := etcdtest.Start(t)
	c := client(t, s.Endpoints())
	put(t, c, "k", "v")

	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if v, ok := get(t, c, "k"); !ok || v != "v" {
		t.Fatalf("after Restart: k = %q, %v; want \"v\"", v, ok)
	}

	if err := s.Restart(etcdtest.WipeData()); err != nil {
		t.Fatal(err)
	}
	if v, ok := get(t, c, "k"); ok {
		t.Fatalf("after Restart(WipeData()): k = %q; want no key", v)
	}
}

func TestStopIsIdempotentAndRestartStartsAStoppedServer(t *testing.T) {
	s := etcdtest.Start(t)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	c := client(t, s.Endpoints())
	put(t, c, "k", "v")
}

func TestProxyPartitionAndHeal(t *testing.T) {
	s := etcdtest.Start(t)
	p := etcdtest.NewProxy(t, s)
	direct := client(t, s.Endpoints())
	proxied := client(t, p.Endpoints())
	put(t, proxied, "k", "1")

	p.Partition()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := proxied.Put(ctx, "k", "2")
	cancel()
	if err == nil {
		t.Fatal("Put through a partitioned proxy succeeded")
	}
	put(t, direct, "k", "3") // the server itself is fine

	p.Heal()
	if v, _ := get(t, proxied, "k"); v != "3" {
		t.Fatalf("after Heal: k = %q; want \"3\"", v)
	}
}

func TestStartServerFailsOnAMissingDirectory(t *testing.T) {
	etcdtest.Start(t) // skips without etcd
	if _, err := etcdtest.StartServer(t.TempDir() + "/missing"); err == nil {
		t.Fatal("StartServer in a missing directory: want an error")
	}
}

func TestMissingBinaryIsErrNotInstalled(t *testing.T) {
	t.Setenv(etcdtest.BinEnv, t.TempDir()+"/no-etcd-here")
	_, err := etcdtest.StartServer(t.TempDir())
	if !errors.Is(err, etcdtest.ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install etcd-server") {
		t.Fatalf("StartServer: %v; want ErrNotInstalled telling how to install etcd", err)
	}
}
