package lease

import "time"

// SetClock replaces k's clock, for tests.
func SetClock(k *Kubernetes, now func() time.Time) { k.now = now }
