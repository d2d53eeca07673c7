package main

import (
	"testing"

	"github.com/foundation-go/foundation/internal/kubeapi"
)

// TestMain checks that the process tests leave no goroutine behind (their
// output readers and waiters end with the processes), once the API server
// that the Kubernetes test uses (kubeapi.Shared) has stopped.
func TestMain(m *testing.M) { kubeapi.Main(m) }
