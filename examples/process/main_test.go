package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/foundation-go/foundation/internal/syncbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The tour runs to its end and shows each step: calls, the crash reaching
// the caller at once, the linked auditor's exit signal and its monitor's
// Down, the name freed, a clean stop.
func TestRun(t *testing.T) {
	var out syncbuf.Buffer
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
