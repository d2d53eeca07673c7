package cache_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/foundation-go/foundation/cache"
)

func BenchmarkLocalGet(b *testing.B) {
	c, err := cache.New(nil, "b", cache.Bytes(), cache.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	ks := make([]string, 10_000)
	for i := range ks {
		ks[i] = fmt.Sprint("key-", i)
		_ = c.Put(context.Background(), ks[i], make([]byte, 100), 0)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Get(ctx, ks[i%len(ks)])
	}
}

func BenchmarkRistrettoGet(b *testing.B) {
	c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{NumCounters: (64 << 20) / 256, MaxCost: 64 << 20, BufferItems: 64, IgnoreInternalCost: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ks := make([]string, 10_000)
	for i := range ks {
		ks[i] = fmt.Sprint("key-", i)
		c.Set(ks[i], make([]byte, 100), 200)
	}
	c.Wait()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Get(ks[i%len(ks)])
	}
}
