package etcd

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every goroutine is gone when the tests end: the
// Providers', and the etcd client's (its gRPC connection, keep-alive and
// watch streams), which Stop closes. No goroutine is ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
