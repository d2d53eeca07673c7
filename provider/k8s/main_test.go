package k8s

import (
	"testing"

	"github.com/foundation-go/foundation/internal/kubeapi"
)

// TestMain checks that no test leaves a goroutine behind: the informer's,
// the loop's and the fake's watch goroutines all end with Stop, and the
// real API server's clients close their connections. It stops the API
// server the tests against a real one share (kubeapi.Shared).
func TestMain(m *testing.M) {
	kubeapi.Main(m)
}
