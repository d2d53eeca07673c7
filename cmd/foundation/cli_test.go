package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"gopkg.in/yaml.v3"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodetest"
	"github.com/foundation-go/foundation/telemetry"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cliRun runs the command line against env and returns its exit status and
// output.
func cliRun(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{out: &out, errOut: &errOut, getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	root := c.command()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	code := 0
	if err := root.Execute(); err != nil {
		code = 2
		if strings.Contains(err.Error(), errFound.Error()) {
			code = 1
		}
		fmt.Fprintln(&errOut, "foundation:", err)
	}
	return code, out.String(), errOut.String()
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Fatalf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// normalize replaces what changes from run to run (member ids, addresses,
// times, durations) with placeholders, collapses the table's padding
// (whose width follows them) and sorts the rows after the header.
func normalize(s string, ids []string) string {
	for i, id := range ids {
		s = strings.ReplaceAll(s, id, fmt.Sprintf("<member%d>", i))
	}
	s = regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(s, "<addr>")
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	if len(lines) > 1 {
		sort.Strings(lines[1:])
	}
	return strings.Join(lines, "\n") + "\n"
}

type echo2 struct{}

func (echo2) Receive(_ *grain.Context, msg any) (any, error) { return msg, nil }

// cluster3 starts three members with a grain kind, tracing on and the
// advisor off (its recommendations depend on the machine's load).
func cluster3(t *testing.T) []*foundation.Node {
	return nodetest.Start(t, 3, func(int) []foundation.Option {
		return []foundation.Option{
			foundation.WithGrains(grain.Kind{Name: "echo", New: func(string) grain.Grain { return echo2{} }}),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Name = "cli-test"
				c.Telemetry.Advisor = cluster.TelemetryOff
				c.Telemetry.ExpectedMembers = 3
			}),
		}
	})
}

func TestCLIAgainstARunningCluster(t *testing.T) {
	nodes := cluster3(t)
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.Membership.Self().ID)
	}
	env := map[string]string{"FOUNDATION_ADDR": nodes[0].Telemetry.Address()}

	t.Run("members", func(t *testing.T) {
		clustertest.Eventually(t, func() bool {
			var ms []telemetry.MemberSummary
			_, out, _ := cliRun(t, env, "members", "-o", "json")
			return json.Unmarshal([]byte(out), &ms) == nil && len(ms) == 3 &&
				!slices.ContainsFunc(ms, func(m telemetry.MemberSummary) bool { return !m.Ready })
		}, 10*time.Second, "every member ready")
		code, out, errOut := cliRun(t, env, "members")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "members", normalize(out, ids))
		code, out, _ = cliRun(t, env, "members", "-o", "json")
		var ms []telemetry.MemberSummary
		if err := json.Unmarshal([]byte(out), &ms); code != 0 || err != nil || len(ms) != 3 {
			t.Fatalf("members -o json: exit %d, %v, %d members", code, err, len(ms))
		}
		for _, m := range ms {
			if !slices.Contains(ids, m.ID) || !m.Ready {
				t.Fatalf("member %+v", m)
			}
		}
	})

	t.Run("health", func(t *testing.T) {
		// The report is healthy once every member reports itself ready.
		var out string
		clustertest.Eventually(t, func() bool {
			var code int
			code, out, _ = cliRun(t, env, "health", "--strict")
			return code == 0
		}, 10*time.Second, "health --strict exits 0")
		golden(t, "health", normalize(out, ids))
		_, out, _ = cliRun(t, env, "health", "-o", "json")
		var h telemetry.Health
		if err := json.Unmarshal([]byte(out), &h); err != nil || h.Status != "healthy" || h.ActualMembers != 3 {
			t.Fatalf("health -o json: %v %+v", err, h)
		}
	})

	t.Run("traces and trace", func(t *testing.T) {
		ref := grain.Get[*wrapperspb.StringValue](nodes[0].Grains, "echo", "x")
		for i := 0; i < 3; i++ {
			if _, err := ref.Call(context.Background(), wrapperspb.String("hi")); err != nil {
				t.Fatal(err)
			}
		}
		var ts []telemetry.TraceSummary
		clustertest.Eventually(t, func() bool {
			_, out, _ := cliRun(t, env, "traces", "-o", "json")
			return json.Unmarshal([]byte(out), &ts) == nil && len(ts) > 0
		}, 5*time.Second, "a trace recorded on member 0")
		code, out, errOut := cliRun(t, env, "traces", "--limit", "5")
		if code != 0 || !strings.HasPrefix(out, "TRACE") || !strings.Contains(out, ts[0].TraceID) {
			t.Fatalf("traces: exit %d %s\n%s", code, errOut, out)
		}
		code, out, errOut = cliRun(t, env, "trace", ts[0].TraceID)
		if code != 0 || !strings.Contains(out, "grain") {
			t.Fatalf("trace: exit %d %s\n%s", code, errOut, out)
		}
		code, out, _ = cliRun(t, env, "trace", ts[0].TraceID, "-o", "json")
		var tr struct {
			TraceID string `json:"trace_id"`
		}
		if err := json.Unmarshal([]byte(out), &tr); code != 0 || err != nil || tr.TraceID != ts[0].TraceID {
			t.Fatalf("trace -o json: exit %d %v %q", code, err, out)
		}
		if code, _, errOut := cliRun(t, env, "trace", "not-a-trace-id"); code != 2 || !strings.Contains(errOut, "400") {
			t.Fatalf("a malformed trace id: exit %d %s", code, errOut)
		}
	})

	t.Run("inspect", func(t *testing.T) {
		// A named process on member 1, inspected through member 0.
		pid, err := nodes[1].System.Spawn(&echo{})
		if err != nil {
			t.Fatal(err)
		}
		if err := nodes[1].System.Register("cli-worker", pid); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := cliRun(t, env, "inspect", "--member", ids[1])
		if code != 0 || !strings.HasPrefix(out, "PID") || !strings.Contains(out, pid.Id) || !strings.Contains(out, "cli-worker") {
			t.Fatalf("inspect: exit %d %s\n%s", code, errOut, out)
		}
		// The grain activations of the member at --addr (the traces
		// subtest called echo/x from member 0: it lives on one member).
		found := false
		for i := range ids {
			env := map[string]string{"FOUNDATION_ADDR": nodes[i].Telemetry.Address()}
			_, out, _ := cliRun(t, env, "inspect")
			if strings.Contains(out, "GRAIN KIND") {
				found = found || strings.Contains(out, "echo")
			}
		}
		if !found {
			t.Fatal("inspect shows no member's echo activation")
		}
		_, out, _ = cliRun(t, env, "inspect", "--member", ids[1], "-o", "json")
		var ps []telemetry.ProcessInfo
		if err := json.Unmarshal([]byte(out), &ps); err != nil || !slices.ContainsFunc(ps, func(p telemetry.ProcessInfo) bool {
			return p.ID == pid.Id && slices.Contains(p.Names, "cli-worker")
		}) {
			t.Fatalf("inspect -o json: %v, %+v", err, ps)
		}
		if code, _, errOut := cliRun(t, env, "inspect", "--member", "nosuchmember"); code != 2 || !strings.Contains(errOut, "502") {
			t.Fatalf("an unknown member: exit %d %s", code, errOut)
		}
	})
}

func TestCLIBadUsageAndUnreachableMember(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"members", "-o", "yaml"}, `-o "yaml": want table or json`},
		{[]string{"members", "--timeout", "0s"}, "--timeout 0s"},
		{[]string{"traces", "--limit", "0", "--addr", "127.0.0.1:1"}, "--limit 0"},
		{[]string{"members", "--addr", "127.0.0.1:1", "--timeout", "2s"}, "member at 127.0.0.1:1"},
		{[]string{"trace"}, "accepts 1 arg"},
		{[]string{"check", "--config", "/nonexistent/cluster.yaml"}, "no such file"},
		{[]string{"nosuch"}, "unknown command"},
	} {
		code, _, errOut := cliRun(t, nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.says) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.says)
		}
	}
}

// deploymentEnv is the member environment of the shipped Kubernetes
// example, with what Kubernetes would fill in.
func deploymentEnv(t *testing.T) map[string]string {
	data, err := os.ReadFile("../../examples/k8s/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Env []struct {
							Name, Value string
						}
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			v := strings.NewReplacer("$(POD_IP)", "10.0.0.5", "$(POD_NAMESPACE)", "default").Replace(e.Value)
			env[e.Name] = v
		}
	}
	if env["FOUNDATION_PROFILE"] != "production" {
		t.Fatalf("the example's environment: %v", env)
	}
	// From the Secret the README has the operator create.
	env["FOUNDATION_SECRET"] = "Hk3vX9qLw2ZtR7nB5mC8yJ4pD6sF1gA0"
	return env
}

func TestCheckPassesTheShippedProductionExample(t *testing.T) {
	code, out, errOut := cliRun(t, deploymentEnv(t), "check", "--members", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	golden(t, "check-k8s-example", out)
}

func TestCheckFailsABadConfiguration(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cluster.yaml")
	if err := os.WriteFile(file, []byte("profile: production\nprobe_interval: 100ms\nprobe_timeout: 20ms\nsuspicion_multiplier: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := cliRun(t, map[string]string{"FOUNDATION_PORT": "seventy"}, "check", "--config", file, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	var r cluster.ReadinessReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range r.Findings {
		keys = append(keys, f.Severity.String()+" "+f.Key)
	}
	for _, want := range []string{"error secret", "warning probe_timeout", "warning suspicion_multiplier"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no %q finding in %v", want, keys)
		}
	}
	if !strings.Contains(out, "FOUNDATION_PORT") {
		t.Errorf("the malformed variable is not reported:\n%s", out)
	}
	// A malformed file is reported, not checked.
	if err := os.WriteFile(file, []byte("profile: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := cliRun(t, nil, "check", "--config", file); code != 1 || !strings.Contains(out, "not ready") {
		t.Fatalf("malformed file: exit %d\n%s", code, out)
	}
	// Capacity from a short self-benchmark.
	code, out, errOut := cliRun(t, deploymentEnv(t), "check", "--members", "3", "--throughput", "1e12", "--bench-time", "100ms")
	if code != 1 || !strings.Contains(out, "capacity") || !strings.Contains(out, "run at least") {
		t.Fatalf("impossible throughput: exit %d %s\n%s", code, errOut, out)
	}
}

func TestCLIBackupAndRestore(t *testing.T) {
	src := cluster3(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := crdt.GCounterKey("app/visits")
	if err := crdt.Update(ctx, src[1].Replicator, key, crdt.All, func(g *crdt.GCounter, op crdt.Op) { g.Increment(op.Replica, 42) }); err != nil {
		t.Fatal(err)
	}
	const secret = "nodetest-secret-0123456789"
	env := map[string]string{"FOUNDATION_ADDR": src[0].Telemetry.Address(), "FOUNDATION_SECRET": secret}
	file := filepath.Join(t.TempDir(), "cluster.fbk")

	if code, _, errOut := cliRun(t, map[string]string{"FOUNDATION_ADDR": env["FOUNDATION_ADDR"]}, "backup", "-f", file); code != 2 || !strings.Contains(errOut, "secret is needed") {
		t.Fatalf("backup without the secret: exit %d %s", code, errOut)
	}
	if code, _, errOut := cliRun(t, env, "backup", "-f", file, "--secret", "wrong-secret-0123456789"); code != 2 || !strings.Contains(errOut, "401") {
		t.Fatalf("backup with a wrong secret: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a refused backup left a file: %v", err)
	}
	code, out, errOut := cliRun(t, env, "backup", "-f", file, "-o", "json")
	if code != 0 || !strings.Contains(errOut, "backup of cluster cli-test written to") {
		t.Fatalf("backup: exit %d %s", code, errOut)
	}
	var info foundation.BackupInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.Cluster != "cli-test" || info.Keys == 0 {
		t.Fatalf("backup -o json: %v %+v", err, info)
	}

	dst := nodetest.Start(t, 1, func(int) []foundation.Option {
		return []foundation.Option{foundation.WithConfig(func(c *cluster.Config) { c.Name = "cli-test" })}
	})
	denv := map[string]string{"FOUNDATION_ADDR": dst[0].Telemetry.Address(), "FOUNDATION_SECRET": secret}
	// A damaged file is refused here, before it is sent.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.fbk")
	if err := os.WriteFile(bad, data[:len(data)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cliRun(t, denv, "restore", "-f", bad); code != 1 || !strings.Contains(errOut, "corrupt") {
		t.Fatalf("restore of a truncated file: exit %d %s", code, errOut)
	}
	if n := dst[0].Replicator.Keys("app/*"); len(n) != 0 {
		t.Fatalf("a refused restore changed state: %v", n)
	}
	code, _, errOut = cliRun(t, denv, "restore", "-f", file)
	if code != 0 || !strings.Contains(errOut, "restored the backup of cluster cli-test") {
		t.Fatalf("restore: exit %d %s", code, errOut)
	}
	g, err := crdt.Get(ctx, dst[0].Replicator, key, crdt.Local)
	if err != nil || g.Value() != 42 {
		t.Fatalf("restored counter: %v %v", g, err)
	}
}
