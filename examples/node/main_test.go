package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the process tests leave no goroutine behind (their
// output readers and waiters end with the processes).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
