package main

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The queue runs through run, as main runs it, and every count is exact:
// of ids 1..100, the 7 divisible by 13 are dead-lettered after 3 attempts
// each, the 13 others divisible by 7 succeed on their second, and the
// attempts were spread over the workers of more than one node.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := defaultOptions()
	o.Retry.Backoff = time.Millisecond
	o.Log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	var out bytes.Buffer
	s, err := run(ctx, &out, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if s.Submitted != 100 || s.Done != 93 || s.DeadLettered != 7 || s.Retried != 20 || s.Retries != 27 {
		t.Errorf("summary %+v, want submitted 100, done 93, dead-lettered 7, retried 20 (27 retries)", s)
	}
	var ok, failed int
	nodesUsed := map[string]bool{}
	for name, c := range s.Workers {
		ok += c.OK
		failed += c.Failed
		if c.OK+c.Failed > 0 {
			nodesUsed[strings.SplitN(name, "/", 2)[0]] = true
		}
	}
	// 93 successes; 7*3 permanent failures and 13 transient ones.
	if len(s.Workers) != nodes*workersPerNode || ok != 93 || failed != 34 {
		t.Errorf("workers %v: %d ok, %d failed; want %d workers, 93 ok, 34 failed", s.Workers, ok, failed, nodes*workersPerNode)
	}
	if len(nodesUsed) < 2 {
		t.Errorf("attempts ran on the workers of %v only; want more than one node", nodesUsed)
	}
	var dead []int
	for _, d := range s.DeadLetters {
		dead = append(dead, d.Job)
		producer := "node1" // the odd ids
		if d.Job%2 == 0 {
			producer = "node2"
		}
		if d.Attempts != 3 || !strings.Contains(d.Error, "permanent failure") || d.Producer != producer {
			t.Errorf("dead letter %+v", d)
		}
	}
	if want := []int{13, 26, 39, 52, 65, 78, 91}; !slices.Equal(dead, want) {
		t.Errorf("dead letters %v, want %v", dead, want)
	}
	for _, want := range []string{
		`6 workers registered as service "jobs.worker"`,
		"summary: submitted 100, done 93, retried 20 (27 retries), dead-lettered 7; 127 attempts",
		"dead letters (7, read on node3 with a majority read):",
		"  job 91   3 attempts, from node1: ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// Which attempts fail is fixed by the job's id.
func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		id, attempt int
		fail        bool
	}{
		{1, 1, false}, {7, 1, true}, {7, 2, false}, {14, 3, false},
		{13, 1, true}, {13, 5, true}, {91, 2, true}, {100, 1, false},
	} {
		if err := outcome(c.id, c.attempt); (err != nil) != c.fail {
			t.Errorf("outcome(%d, %d) = %v, want failure %v", c.id, c.attempt, err, c.fail)
		}
	}
}

// The backoff doubles from Backoff up to MaxBackoff.
func TestRetryDelay(t *testing.T) {
	p := retryPolicy{Attempts: 6, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, AttemptTimeout: time.Second}
	var got []time.Duration
	for a := 2; a <= 6; a++ {
		got = append(got, p.delay(a))
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	if !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
}

// Bad options are errors before anything starts.
func TestBadOptions(t *testing.T) {
	for name, change := range map[string]func(*options){
		"no jobs":       func(o *options) { o.Jobs = 0 },
		"too many jobs": func(o *options) { o.Jobs = 100001 },
		"no attempts":   func(o *options) { o.Retry.Attempts = 0 },
		"backoff above max": func(o *options) {
			o.Retry.Backoff, o.Retry.MaxBackoff = time.Second, time.Millisecond
		},
		"no attempt timeout": func(o *options) { o.Retry.AttemptTimeout = 0 },
	} {
		o := defaultOptions()
		change(&o)
		if _, err := run(context.Background(), io.Discard, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
