package backoff

import (
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestDelay(t *testing.T) {
	ms := time.Millisecond
	var whole, half []time.Duration
	for n := 0; n <= 7; n++ {
		whole = append(whole, Delay(5*ms, 50*ms, n, 0))
		half = append(half, Delay(5*ms, 50*ms, n, 0.999999999))
	}
	if want := []time.Duration{5 * ms, 5 * ms, 10 * ms, 20 * ms, 40 * ms, 50 * ms, 50 * ms, 50 * ms}; !slices.Equal(whole, want) {
		t.Errorf("Delay(r=0) = %v, want %v", whole, want)
	}
	for i, d := range half {
		if lo := whole[i] / 2; d < lo || d > lo+ms/1000 {
			t.Errorf("Delay(n=%d, r≈1) = %v, want about half of %v", i, d, whole[i])
		}
	}
	if d := Delay(time.Second, 30*time.Second, 1<<30, 0); d != 30*time.Second {
		t.Errorf("Delay after 2^30 failures = %v, want the cap", d)
	}
	if d := Delay(10*ms, 20*ms, 1, 7); d != 5*ms {
		t.Errorf("Delay(r=7) = %v, want r clamped to 1 (5ms)", d)
	}
	if d := Delay(10*ms, 20*ms, 1, -3); d != 10*ms {
		t.Errorf("Delay(r=-3) = %v, want r clamped to 0 (10ms)", d)
	}
}

func TestEpisodeLogsEachRunOnce(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	e := Episode{Log: zap.New(core), What: "test: polling"}
	e.OK() // no run open: nothing logged
	boom := errors.New("boom")
	for run := 1; run <= 2; run++ {
		if !e.Fail(boom, zap.String("run", "x")) {
			t.Fatalf("run %d: first Fail did not report first", run)
		}
		for range 3 {
			if e.Fail(boom) {
				t.Fatalf("run %d: a later Fail reported first", run)
			}
		}
		if e.Failures() != 4 || !errors.Is(e.Err(), boom) {
			t.Fatalf("run %d: Failures = %d, Err = %v; want 4, boom", run, e.Failures(), e.Err())
		}
		e.OK()
		e.OK()
		if e.Failures() != 0 {
			t.Fatalf("run %d: Failures after OK = %d", run, e.Failures())
		}
	}
	warns := logs.FilterMessage("test: polling failing; retrying with backoff (logged once until it works again)").FilterLevelExact(zapcore.WarnLevel)
	oks := logs.FilterMessage("test: polling working again").FilterLevelExact(zapcore.InfoLevel)
	if warns.Len() != 2 || oks.Len() != 2 || logs.Len() != 4 {
		t.Fatalf("logged %d warnings, %d recoveries, %d lines; want 2, 2, 4", warns.Len(), oks.Len(), logs.Len())
	}
	w := warns.All()[0].ContextMap()
	if w["error"] != "boom" || w["run"] != "x" {
		t.Errorf("warning fields = %v, want error and run", w)
	}
	if got := oks.All()[0].ContextMap()["failures"]; got != int64(4) {
		t.Errorf("recovery failures = %v, want 4", got)
	}
}

func TestEpisodeWithoutLogger(t *testing.T) {
	var e Episode
	e.Fail(nil)
	e.OK()
	if e.Failures() != 0 || e.Err() != nil {
		t.Fatalf("Failures = %d, Err = %v", e.Failures(), e.Err())
	}
}
