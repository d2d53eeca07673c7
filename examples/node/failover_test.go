package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

// TestSingletonFailoverAfterKill runs examples/node as three OS processes,
// the youngest driving the "singleton" grain, kills the singleton's host with
// kill -9 and checks that the driver's calls reach the singleton on the
// oldest survivor within a second of the kill, and only there from then on.
func TestSingletonFailoverAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin, ports, cports := buildNode(t, 3)
	seeds := seedList(cports)
	env := []string{"FOUNDATION_PROFILE=development", "FOUNDATION_LOG_LEVEL=warn",
		"FOUNDATION_NAME=failover-test", "FOUNDATION_SECRET=failover-test-secret-0123"}
	// Singleton goes to the oldest member: the nodes start one after
	// another, each once the previous one runs, and the driver comes last so
	// that it never hosts the singleton.
	procs := make([]*nodeproc.Proc, 3)
	ids := make([]string, 3)
	for i := range procs {
		args := []string{"-host", "127.0.0.1", "-port", strconv.Itoa(ports[i]), "-cluster-port", strconv.Itoa(cports[i]),
			"-provider", "static", "-seeds", strings.Join(seeds, ",")}
		if i == 2 {
			args = append(args, "-drive", "singleton", "-drive-interval", "20ms")
		}
		p, err := nodeproc.Start("node"+strconv.Itoa(i), bin, args, env, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill(); _ = p.Wait(5 * time.Second) })
		l, _, err := p.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		procs[i], ids[i] = p, nodeproc.Field(l, "id")
	}
	driver := procs[2]
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members=3" }, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	// Before the kill: five successful calls, all answered by the oldest.
	okCalls := 0
	if _, _, err := driver.WaitLine(0, func(l string) bool {
		if isCall(l) && nodeproc.Field(l, "ok") == "true" {
			okCalls++
		}
		return okCalls == 5
	}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	victim, survivor := 0, 1
	before := driver.Lines()
	for _, l := range before {
		if !isCall(l) {
			continue
		}
		if nodeproc.Field(l, "ok") != "true" || nodeproc.Field(l, "member") != ids[victim] {
			t.Fatalf("before the kill, want every call answered by the oldest member %s (node0); got %q", ids[victim], l)
		}
	}

	marks := []int{len(procs[0].Lines()), len(procs[1].Lines()), len(before)}
	killed := time.Now()
	if err := procs[victim].Kill(); err != nil {
		t.Fatal(err)
	}
	_, first, err := driver.WaitLine(marks[2], func(l string) bool {
		return isCall(l) && nodeproc.Field(l, "ok") == "true" && nodeproc.Field(l, "member") != ids[victim]
	}, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lines := driver.Lines()
	failover := time.Unix(0, callAt(t, lines[first])).Sub(killed)
	t.Logf("first call answered by a new member %v after kill -9: %s", failover.Round(time.Microsecond), lines[first])
	if failover > time.Second {
		t.Fatalf("singleton failover took %v after kill -9, want <= 1s", failover)
	}
	if got := nodeproc.Field(lines[first], "member"); got != ids[survivor] {
		t.Fatalf("singleton moved to %s, want the oldest survivor %s (node%d)", got, ids[survivor], survivor)
	}

	// From then on, for 1.5s after the kill (past the membership's removal
	// of the victim), every call succeeds on the same member.
	window := killed.Add(1500 * time.Millisecond)
	_, last, err := driver.WaitLine(first, func(l string) bool {
		return isCall(l) && time.Unix(0, callAt(t, l)).After(window)
	}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lines = driver.Lines()
	members := map[string]int{}
	for _, l := range lines[first : last+1] {
		if !isCall(l) {
			continue
		}
		if nodeproc.Field(l, "ok") != "true" {
			t.Errorf("call failed after the failover: %q", l)
		}
		members[nodeproc.Field(l, "member")]++
	}
	if len(members) != 1 {
		t.Fatalf("after the failover, calls were answered by %d members %v, want 1", len(members), members)
	}
	t.Logf("%d calls after the failover, all on %s", members[ids[survivor]], ids[survivor])

	// Exactly one new activation of the singleton among the survivors.
	activations := 0
	for i, p := range procs[1:] {
		for _, l := range p.Lines()[marks[i+1]:] {
			if strings.HasPrefix(l, "grain activate kind=singleton ") {
				activations++
				if m := nodeproc.Field(l, "member"); m != ids[survivor] {
					t.Errorf("singleton activated on %s after the kill: %q", m, l)
				}
			}
		}
	}
	if activations != 1 {
		t.Fatalf("singleton activated %d times among the survivors after the kill, want 1", activations)
	}
}

func isCall(l string) bool { return strings.HasPrefix(l, "call ") }

// callAt returns the at= field (unix nanoseconds) of a call line.
func callAt(t *testing.T, l string) int64 {
	t.Helper()
	at, err := strconv.ParseInt(nodeproc.Field(l, "at"), 10, 64)
	if err != nil {
		t.Fatalf("call line without a valid at=: %q", l)
	}
	return at
}
