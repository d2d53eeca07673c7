package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/foundation-go/foundation/cache"
)

func newLocal[V any](t *testing.T, codec cache.Codec[string, V], cfg cache.Config) *cache.Cache[string, V] {
	t.Helper()
	c, err := cache.New(nil, "local", codec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func TestLocalOperations(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, cache.JSON[string, int](), cache.Config{})
	if err := c.Put(ctx, "a", 1, 0); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "a"); v != 1 || !ok || err != nil {
		t.Fatalf("Get = %v, %v, %v", v, ok, err)
	}
	if ok, _ := c.PutNew(ctx, "a", 2, 0); ok {
		t.Fatal("PutNew over a value")
	}
	if ok, _ := c.Replace(ctx, "b", 2, 0); ok {
		t.Fatal("Replace of nothing")
	}
	if n, err := c.Incr(ctx, "a", 9); n != 10 || err != nil {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	if v, ok, _ := c.Take(ctx, "a"); v != 10 || !ok {
		t.Fatalf("Take = %v, %v", v, ok)
	}
	if _, ok, _ := c.Get(ctx, "a"); ok {
		t.Fatal("a taken key stays")
	}
	if err := c.PutAll(ctx, map[string]int{"x": 1, "y": 2}, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, _ := c.GetAll(ctx, []string{"x", "y", "z"})
	if len(got) != 2 || got["y"] != 2 {
		t.Fatalf("GetAll = %v", got)
	}
	if ok, _ := c.Touch(ctx, "x"); !ok {
		t.Fatal("Touch of a key")
	}
	if d, ok, _ := c.TTL(ctx, "x"); !ok || d < 59*time.Minute {
		t.Fatalf("TTL = %v", d)
	}
	_ = c.Delete(ctx, "x")
	if _, ok, _ := c.Get(ctx, "x"); ok {
		t.Fatal("a deleted key stays")
	}
	s := c.Stats()
	if s.Hits == 0 || s.Misses == 0 || s.Writes == 0 {
		t.Fatalf("stats %+v", s)
	}
}

type failing struct{}

func (failing) Key(k string) (string, error) { return k, nil }
func (failing) Encode(v float64) ([]byte, error) {
	if math.IsNaN(v) {
		return nil, errors.New("NaN")
	}
	return []byte(fmt.Sprint(v)), nil
}
func (failing) Decode(b []byte) (float64, error) { return 0, errors.New("never") }

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	c := newLocal[float64](t, failing{}, cache.Config{})
	if err := c.Put(ctx, "k", math.NaN(), 0); !errors.Is(err, cache.ErrCodec) {
		t.Fatalf("codec failure: %v, want ErrCodec", err)
	}
	b := newLocal(t, cache.Bytes(), cache.Config{MaxValueSize: 10})
	if err := b.Put(ctx, "k", make([]byte, 11), 0); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("too large: %v, want ErrTooLarge", err)
	}
	if err := b.Put(ctx, "k", nil, -time.Second); !errors.Is(err, cache.ErrInvalid) {
		t.Fatalf("negative ttl: %v, want ErrInvalid", err)
	}
	_ = b.Close(ctx)
	_ = b.Close(ctx) // idempotent
	if _, _, err := b.Get(ctx, "k"); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("closed: %v, want ErrClosed", err)
	}
	if err := b.Put(ctx, "k", nil, 0); !errors.Is(err, cache.ErrClosed) {
		t.Fatalf("closed: %v, want ErrClosed", err)
	}
	for _, cfg := range []cache.Config{{Tier: cache.Partitioned}, {Backups: 1}, {MaxBytes: -1}, {Tier: 9}} {
		if _, err := cache.New(nil, "x", cache.Strings(), cfg); !errors.Is(err, cache.ErrInvalid) {
			t.Fatalf("New(%+v): %v, want ErrInvalid", cfg, err)
		}
	}
	if _, err := cache.New(nil, "", cache.Strings(), cache.Config{}); !errors.Is(err, cache.ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
}

func TestLocalGetOrComputeAndErrors(t *testing.T) {
	ctx := context.Background()
	c := newLocal(t, cache.Strings(), cache.Config{})
	runs := 0
	boom := errors.New("boom")
	f := func(context.Context) (string, error) { runs++; return "", boom }
	for range 2 {
		if _, err := c.GetOrCompute(ctx, "k", f); !errors.Is(err, boom) {
			t.Fatal(err)
		}
	}
	if runs != 2 {
		t.Fatalf("runs %d, want 2", runs)
	}
	_, _ = c.GetOrCompute(ctx, "k", f, cache.CacheErrors(time.Minute))
	if _, err := c.GetOrCompute(ctx, "k", f); !errors.Is(err, cache.ErrCompute) || runs != 3 {
		t.Fatalf("cached failure: %v, runs %d", err, runs)
	}
	v, err := c.GetOrCompute(ctx, "ok", func(context.Context) (string, error) { return "v", nil }, cache.WithTTL(time.Hour))
	if v != "v" || err != nil {
		t.Fatal(v, err)
	}
	if v, ok, _ := c.Get(ctx, "ok"); v != "v" || !ok {
		t.Fatal("the computed value is not cached")
	}
}

func TestDumpLoad(t *testing.T) {
	ctx := context.Background()
	a := newLocal(t, cache.Strings(), cache.Config{})
	for i := range 100 {
		_ = a.Put(ctx, fmt.Sprint(i), fmt.Sprint("v", i), time.Hour)
	}
	var buf bytes.Buffer
	if err := a.Dump(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	b := newLocal(t, cache.Strings(), cache.Config{})
	if err := b.Load(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if v, ok, _ := b.Get(ctx, fmt.Sprint(i)); !ok || v != fmt.Sprint("v", i) {
			t.Fatalf("key %d after Load: %q, %v", i, v, ok)
		}
	}
	if d, ok, _ := b.TTL(ctx, "5"); !ok || d > time.Hour || d < 59*time.Minute {
		t.Fatalf("Load keeps the TTL: %v", d)
	}
}

func TestMetricsExported(t *testing.T) {
	rd := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd))
	defer mp.Shutdown(context.Background())
	c := newLocal(t, cache.Strings(), cache.Config{Meter: mp.Meter("test")})
	ctx := context.Background()
	_ = c.Put(ctx, "k", "v", 0)
	_, _, _ = c.Get(ctx, "k")
	_, _, _ = c.Get(ctx, "nope")
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && len(s.DataPoints) > 0 {
				got[m.Name] = s.DataPoints[0].Value
			}
		}
	}
	if got["cache.hits"] != 1 || got["cache.misses"] != 1 || got["cache.writes"] != 1 {
		t.Fatalf("exported %v", got)
	}
}

// TestDumpLoadPartitioned: a distributed cache's members' dumps load into
// another cluster through their owners.
func TestDumpLoadPartitioned(t *testing.T) {
	e := start(t, 2, cache.Config{Tier: cache.Partitioned})
	ctx := ctxT(t, 30*time.Second)
	for i := range 50 {
		_ = e.cache(0).Put(ctx, fmt.Sprint(i), "v", 0)
	}
	// One member's Dump holds the whole cache: every member's entries.
	var buf bytes.Buffer
	if err := e.cache(1).Dump(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	l := newLocal(t, cache.Strings(), cache.Config{})
	if err := l.Load(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	got, _ := l.GetAll(ctx, keys)
	if len(got) != 50 {
		t.Fatalf("after Load: %d of 50 keys", len(got))
	}
}
