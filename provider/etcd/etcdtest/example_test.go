package etcdtest_test

import (
	"context"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/provider/etcd/etcdtest"
)

// Example starts a server outside a test (as a benchmark's main would),
// writes a key, and shows that Restart keeps the data and WipeData loses
// it. It needs the etcd binary.
func Example() {
	dir, err := os.MkdirTemp("", "etcdtest")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	s, err := etcdtest.StartServer(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop()

	c, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	count := func() int64 {
		resp, err := c.Get(ctx, "greeting", clientv3.WithCountOnly())
		if err != nil {
			return -1
		}
		return resp.Count
	}

	_, _ = c.Put(ctx, "greeting", "hello")
	fmt.Println("keys:", count())
	_ = s.Restart()
	fmt.Println("keys after Restart:", count())
	_ = s.Restart(etcdtest.WipeData())
	fmt.Println("keys after Restart(WipeData()):", count())
	// Output:
	// keys: 1
	// keys after Restart: 1
	// keys after Restart(WipeData()): 0
}
