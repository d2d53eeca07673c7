package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example runs to its end: the first run calls the (simulated) model
// once per evaluation within each member's limit, the second is served
// from the cache, and both choose the same program.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts four nodes in this process (make test runs it in full)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"cluster up: a coordinator and 3 members with role tier=ai, 4 evaluations at once on each",
		"optimising: 24 candidates x 5 examples = 120 evaluations (SIMULATED model calls of 10ms each)",
		"progress 120/120, 0 from the cache, 120 model calls",
		"progress 120/120, 120 from the cache, 0 model calls",
		`best: template "step-by-step", 4 shots, temperature 0.2`,
		"run 2 chose the same program",
		`ai-3 reads optimized_program_v1 from the cache: template "step-by-step", 4 shots, temperature 0.2`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	calls := regexp.MustCompile(`ai-\d: (\d+) model calls, at most (\d+) at once \(limit 4\)`).FindAllStringSubmatch(got, -1)
	total := 0
	for _, m := range calls {
		n, _ := strconv.Atoi(m[1])
		peak, _ := strconv.Atoi(m[2])
		if peak > 4 || peak < 1 {
			t.Errorf("%q: the limit is 4", m[0])
		}
		total += n
	}
	if len(calls) != 3 || total != 120 {
		t.Errorf("per-member calls %v: want three members, 120 calls in all:\n%s", calls, got)
	}
}
