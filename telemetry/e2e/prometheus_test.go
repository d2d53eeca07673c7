package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

// startProcess starts a program whose output goes to the test log on
// failure; it is killed (and waited for) when the test ends.
func startProcess(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(bin)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("%s output (tail):\n%s", filepath.Base(bin), b)
		}
		_ = out.Close()
	})
	return cmd
}

// promQuery runs an instant query against Prometheus's HTTP API and
// returns the result vector.
func promQuery(t *testing.T, base, q string) []struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
} {
	t.Helper()
	code, body, err := tryGet(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil // not up yet, or a slow answer: the caller polls
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 || r.Status != "success" {
		t.Fatalf("query %s: %d %s (%v)", q, code, body, err)
	}
	return r.Data.Result
}

// TestPrometheusScrapesThreeMembers starts a real Prometheus that scrapes
// the /metrics of three members and checks the series through its HTTP
// API: membership size, messages and calls per kind, call latency
// histograms, grain activations, mailbox depth.
func TestPrometheusScrapesThreeMembers(t *testing.T) {
	bin := needTool(t, "prometheus")
	tc := startThree(t, nil, nil)
	tc.request(t, "prom")
	var targets []string
	for _, n := range tc.nodes {
		targets = append(targets, strconv.Quote(n.Telemetry.Address()))
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 500ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: foundation
    static_configs:
      - targets: [%s]
`, strings.Join(targets, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ports, err := nodeproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + strconv.Itoa(ports[0])
	startProcess(t, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	base := "http://" + listen
	eventually(t, 30*time.Second, "Prometheus to be ready", func() bool {
		code, _, err := tryGet(base + "/-/ready")
		return err == nil && code == 200
	})
	t.Cleanup(func() {
		if t.Failed() {
			_, body, err := tryGet(base + "/api/v1/targets")
			t.Logf("Prometheus targets: %s %v", body, err)
			_, body, err = tryGet(base + "/api/v1/label/__name__/values")
			t.Logf("Prometheus series names: %s %v", body, err)
		}
	})
	eventually(t, 30*time.Second, "Prometheus to scrape the three members", func() bool {
		r := promQuery(t, base, `up{job="foundation"} == 1`)
		return len(r) == 3
	})
	// Each member sees three members up.
	eventually(t, 10*time.Second, "foundation_cluster_members on three members", func() bool {
		r := promQuery(t, base, `foundation_cluster_members{status="up"} == 3`)
		return len(r) == 3
	})
	// Each series from the members that have it: the entry Server runs on
	// member 0, the middle grain on member 1, the leaf and the service on
	// member 2.
	for _, c := range []struct {
		q    string
		want int
	}{
		{`foundation_actor_messages_total{kind="*e2e_test.entry"}`, 1},
		{`foundation_actor_call_duration_seconds_count{target="local",outcome="ok"}`, 1},
		{`foundation_grain_call_duration_seconds_bucket{kind="middle",outcome="ok",le="+Inf"}`, 1},
		{`foundation_grain_call_duration_seconds_bucket{kind="leaf",outcome="ok",le="+Inf"}`, 1},
		{`foundation_grain_activations_total{kind="leaf",outcome="ok"}`, 1},
		{`foundation_service_call_duration_seconds_count{service="answer",outcome="ok"}`, 1},
		{`foundation_grain_active{kind="middle"}`, 1},
		{`foundation_actor_mailbox_depth{stat="max"}`, 3},
		{`foundation_grain_active{kind="middle"} == 1`, 1},
		// Members 0 and 1 were running when the later ones joined (the
		// last one may have met the others before its telemetry started).
		{`foundation_cluster_membership_events_total{kind="joined"}`, 2},
		{`foundation_cluster_ready == 1`, 3},
	} {
		eventually(t, 10*time.Second, fmt.Sprintf("%d series %s", c.want, c.q), func() bool {
			r := promQuery(t, base, c.q)
			if len(r) < c.want {
				t.Logf("%s: %v", c.q, r)
			}
			return len(r) >= c.want
		})
	}
}
