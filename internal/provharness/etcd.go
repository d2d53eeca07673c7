package provharness

import (
	"os"
	"strings"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/provider/etcd/etcdtest"
)

func startEtcd([]int) (*Backend, error) {
	dir, err := os.MkdirTemp("", "provharness-etcd-")
	if err != nil {
		return nil, err
	}
	srv, err := etcdtest.StartServer(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &Backend{
		Name: "etcd",
		Configure: func(_ int, c *cluster.Config) {
			c.Provider = "etcd"
			c.Etcd.Endpoints = srv.Endpoints()
		},
		Env: func(int) []string {
			return []string{"FOUNDATION_PROVIDER=etcd", "FOUNDATION_ETCD_ENDPOINTS=" + strings.Join(srv.Endpoints(), ",")}
		},
		Options: none,
		Close: func() {
			_ = srv.Stop()
			_ = os.RemoveAll(dir)
		},
	}, nil
}
