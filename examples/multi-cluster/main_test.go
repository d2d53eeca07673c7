package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The example runs to its end and every step it prints holds.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts six nodes in this process (make test runs it in full)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		`web -> processing/jobs -> ai/inference: processing: job done <- ai: 4 tokens in "summarise the quarterly report" (request-id req-1)`,
		`web global call inference: ai:`,
		`service not exported`,
		`after ai's gateway loss: 20 of 20 calls answered`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
