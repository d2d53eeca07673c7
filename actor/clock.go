package actor

import "time"

// Clock is the source of time for idle timeouts and timers. Inject one with
// WithClock; actortest.Clock is a manual clock for tests.
//
// AfterFunc's f runs on a goroutine the clock owns; it must not block.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call. Stop reports whether it prevented f.
type Timer interface {
	Stop() bool
}

type realClock struct{}

// RealClock is the wall clock (package time).
func RealClock() Clock { return realClock{} }

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
