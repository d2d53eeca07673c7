package e2e_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

// startNodes runs n examples/node processes that form one cluster, each
// with its telemetry HTTP listener on 127.0.0.1; it returns them, their
// member ids and their telemetry addresses. They are killed when the test
// ends.
func startNodes(t *testing.T, n int) ([]*nodeproc.Proc, []string, []string) {
	t.Helper()
	root, err := nodeproc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := nodeproc.Build(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ports, err := nodeproc.FreePorts(3 * n)
	if err != nil {
		t.Fatal(err)
	}
	var seeds, tel []string
	for i := range n {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(ports[n+i]))
		tel = append(tel, "127.0.0.1:"+strconv.Itoa(ports[2*n+i]))
	}
	procs := make([]*nodeproc.Proc, n)
	ids := make([]string, n)
	for i := range n {
		env := []string{"FOUNDATION_PROFILE=development", "FOUNDATION_LOG_LEVEL=warn",
			"FOUNDATION_NAME=dashboard-test", "FOUNDATION_SECRET=dashboard-test-secret-0123",
			"FOUNDATION_TELEMETRY_ADDRESS=" + tel[i]}
		args := []string{"-host", "127.0.0.1", "-port", strconv.Itoa(ports[i]), "-cluster-port", strconv.Itoa(ports[n+i]),
			"-provider", "static", "-seeds", strings.Join(seeds, ","), "-grains=false"}
		p, err := nodeproc.Start("node"+strconv.Itoa(i), bin, args, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
		t.Cleanup(func() {
			_ = p.Kill()
			_ = p.Wait(5 * time.Second)
			if t.Failed() {
				t.Logf("node%d output:\n%s", i, strings.Join(p.Lines(), "\n"))
			}
		})
		l, _, err := p.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = nodeproc.Field(l, "id")
	}
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members="+strconv.Itoa(n) }, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return procs, ids, tel
}

// TestDashboardInChromium opens a member's /dashboard in headless Chromium
// (chromedp): it shows the three members, the others up and itself
// serving, and, after one of them
// is killed with SIGKILL, shows it gone within seconds, with no reload.
func TestDashboardInChromium(t *testing.T) {
	chromium := needTool(t, "chromium")
	procs, ids, tel := startNodes(t, 3)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // root in CI containers
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	// The first run starts the browser, and its context must not end
	// before the browser should (chromedp.Run); later ones are bounded.
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+tel[0]+"/dashboard")); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	// rows returns the members the page shows: id -> status.
	rows := func() map[string]string {
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(
			[...document.querySelectorAll("#members tbody tr")].map((r) => [r.dataset.member, r.dataset.status]))`))
		if err != nil {
			t.Fatalf("read the members table: %v", err)
		}
		return out
	}
	text := func(js string) string {
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	var shown map[string]string
	eventually(t, 20*time.Second, "the dashboard to show three members up (and itself serving)", func() bool {
		shown = rows()
		if len(shown) != 3 {
			return false
		}
		// This member shows its own status, the others their view status.
		return shown[ids[0]] == "serving" && shown[ids[1]] == "up" && shown[ids[2]] == "up"
	})
	count := func() string { return text(`document.getElementById("member-count").textContent`) }
	if c, conn := count(), text(`document.getElementById("conn").textContent`); c != "3" || conn != "live" {
		t.Fatalf("header: %s members, connection %q; want 3, live", c, conn)
	}

	victim := ids[2]
	killed := time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the dashboard to show the killed member gone", func() bool {
		shown = rows()
		_, there := shown[victim]
		return !there && len(shown) == 2
	})
	gone := time.Since(killed)
	if c := count(); c != "2" {
		t.Fatalf("header: %s members after the kill, want 2", c)
	}
	t.Logf("the dashboard showed the killed member gone %v after its kill -9", gone.Round(time.Millisecond))
	// The page never reloaded: one navigation, fed by its event stream since.
	if n := text(`String(performance.getEntriesByType("navigation").length)`); n != "1" {
		t.Fatalf("%s navigations, want 1", n)
	}
}
