package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/foundation-go/foundation/internal/syncbuf"
	"github.com/foundation-go/foundation/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example runs to its end; its printout finds the slow hop and the
// failing one on the member where they ran, and the request id travelled
// to the third member.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"front: GET /checkout?item=book       200 request-id=req-1 ",
		"front: GET /checkout?item=piano      200 request-id=req-2 ",
		"front: GET /checkout?item=typewriter 502 request-id=req-3 ",
		"=> the time went to ",
		"=> the error starts at grain.receive inventory on inventory: inventory: typewriter is discontinued (request-id req-3)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// req-2's tree has the slow warehouse on member inventory. (Which hop
	// the printout names as the slowest is the one that took the most time
	// of its own: on a machine as loaded as a test run's can be, that may
	// be another.)
	slow := regexp.MustCompile(`(?s)req-2 \(GET /checkout\?item=piano\).*?grain\.receive inventory +inventory +(\S+) `).FindStringSubmatch(s)
	if slow == nil {
		t.Errorf("no grain.receive inventory on inventory in req-2's tree:\n%s", s)
	} else if d, err := time.ParseDuration(slow[1]); err != nil || d < slowWarehouse {
		t.Errorf("req-2's grain.receive took %s, want at least %v:\n%s", slow[1], slowWarehouse, s)
	}
	// The list of recent traces has the three requests, one with errors.
	rows := regexp.MustCompile(`(?m)^  [0-9a-f]{32}  service\.call orders +5 spans  (\d) errors`).FindAllStringSubmatch(s, -1)
	if len(rows) != 3 || rows[0][1] == "0" || rows[1][1] != "0" || rows[2][1] != "0" {
		t.Errorf("recent traces: %v, want three, the newest with errors:\n%s", rows, s)
	}
	if t.Failed() {
		return
	}
	t.Logf("output:\n%s", s)
}

// With serve the members keep running after the printout: the dashboard
// the printout names serves the three traces, each with spans from the
// three members, over the endpoints its page reads (/dashboard/events, and
// /debug/traces/{id} when a trace is clicked); the HTTP front answers
// further requests, continuing a caller's traceparent; and the run ends
// when its context does.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, out, true) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	deadline := time.Now().Add(45 * time.Second)
	for !strings.Contains(out.String(), "serving until interrupted") {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("run returned before serving: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving within 45s:\n%s", out.String())
		}
	}
	s := out.String()
	dash := regexp.MustCompile(`dashboard:  (http://127\.0\.0\.1:\d+)/dashboard`).FindStringSubmatch(s)
	front := regexp.MustCompile(`HTTP front: (http://127\.0\.0\.1:\d+)/checkout`).FindStringSubmatch(s)
	ids := regexp.MustCompile(`request-id=(req-\d) trace=([0-9a-f]{32})`).FindAllStringSubmatch(s, -1)
	if dash == nil || front == nil || len(ids) != 3 {
		t.Fatalf("no dashboard, front or three trace ids in:\n%s", s)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The page.
	if code, body := get(dash[1] + "/dashboard"); code != 200 || !strings.Contains(body, "Recent traces") || !strings.Contains(body, `"/dashboard/events"`) {
		t.Fatalf("GET /dashboard: %d\n%.300s", code, body)
	}
	// Its event stream lists every trace on the three members, req-3's
	// with errors.
	traces := map[string]string{} // request id -> trace id
	for _, m := range ids {
		traces[m[1]] = m[2]
	}
	// (A state lists the members that answered the dashboard's member
	// within a second: on a loaded machine, wait for one where all did.)
	problems := []string{"no state in its stream"}
	dashboardStates(t, client, dash[1], func(st telemetry.DashboardState) bool {
		problems = nil
		for req, id := range traces {
			members, errs := 0, 0
			for _, ms := range st.Members {
				for _, tr := range ms.RecentTraces {
					if tr.TraceID == id {
						members++
						errs += tr.Errors
					}
				}
			}
			if members != 3 {
				problems = append(problems, fmt.Sprintf("%s's trace %s on %d members, want 3", req, id, members))
			}
			if (errs > 0) != (req == "req-3") {
				problems = append(problems, fmt.Sprintf("%d errors in %s's trace", errs, req))
			}
		}
		return len(problems) == 0
	})
	if len(problems) > 0 {
		t.Fatalf("the dashboard's last state: %s", strings.Join(problems, "; "))
	}
	// A click on req-3's trace gathers it from every member.
	code, body := get(dash[1] + "/debug/traces/" + traces["req-3"] + "?format=text")
	if code != 200 || !strings.Contains(body, "on 3 members") || !strings.Contains(body, "grain.receive inventory") ||
		!strings.Contains(body, "ERROR: inventory: typewriter is discontinued (request-id req-3)") {
		t.Fatalf("GET /debug/traces/{req-3}: %d\n%s", code, body)
	}

	// A further request with the caller's own trace: the front continues
	// it, and the dashboard finds it on the three members.
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	req, err := http.NewRequest(http.MethodGet, front[1]+"/checkout?item=book", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	req.Header.Set("X-Request-Id", "req-9")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Trace-Id") != traceID || !strings.Contains(string(b), "order for book: reserved") {
		t.Fatalf("front: %d trace %q: %s", resp.StatusCode, resp.Header.Get("X-Trace-Id"), b)
	}
	var tr struct {
		Members []string `json:"members"`
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, body := get(dash[1] + "/debug/traces/" + traceID)
		if code == 200 {
			if err := json.Unmarshal([]byte(body), &tr); err != nil {
				t.Fatalf("GET /debug/traces/{id}: %v\n%s", err, body)
			}
			if len(tr.Members) == 3 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the caller's trace never reached three members: %d\n%s", code, body)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}

	cancel()
	stopped = true
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

// dashboardStates reads the states of the dashboard's event stream (one a
// second) until done returns true for one, for at most 20 seconds.
func dashboardStates(t *testing.T, client *http.Client, base string, done func(telemetry.DashboardState) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/dashboard/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET /dashboard/events: %v", err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET /dashboard/events: %d %s", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var st telemetry.DashboardState
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			t.Fatalf("the dashboard's state is not JSON: %v", err)
		}
		if done(st) {
			return
		}
	}
	// The stream ended (the deadline passed): the caller reports what the
	// last state lacked.
}
