package k8s

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the informer's,
// the loop's and the fake's watch goroutines all end with Stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
