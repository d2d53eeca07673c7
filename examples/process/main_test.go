package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer: the account's Terminate and the logger write from the
// actors' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The tour runs to its end and shows each step: calls, the crash reaching
// the caller at once, the linked auditor's exit signal and its monitor's
// Down, the name freed, a clean stop.
func TestRun(t *testing.T) {
	var out syncBuffer
	if err := run(&out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"deposit 10 -> balance 10",
		"deposit 32 -> balance 42",
		"the caller gets an error at once: ",
		"panic: negative deposit -5",
		"auditor got exit signal from ",
		"auditor got Down for ",
		`the name is free again: Whereis("account") = <nil>`,
		"account $1 terminated: error: panic: negative deposit -5",
		"done",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
