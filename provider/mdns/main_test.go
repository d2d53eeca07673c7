package mdns

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines, in the test process and in each
// network-namespace child it starts (which runs this same TestMain).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
