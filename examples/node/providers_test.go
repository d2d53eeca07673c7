package main

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/provharness"
	"github.com/foundation-go/foundation/provider/etcd/etcdtest"
)

// TestProvidersByEnvironment runs the same node binary with each discovery
// back-end chosen by environment variables alone (no flags, no file): three
// processes form a cluster, one stops, and the others see it leave.
func TestProvidersByEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin, _, _ := buildNode(t, 0)
	for _, name := range provharness.Names {
		t.Run(name, func(t *testing.T) {
			all, err := nodeproc.FreePorts(6)
			if err != nil {
				t.Fatal(err)
			}
			ports, cports := all[:3], all[3:] // discovery finds cluster ports
			b, err := provharness.Start(name, cports)
			if errors.Is(err, etcdtest.ErrNotInstalled) {
				etcdtest.SkipUnlessCI(t, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if b.Env == nil {
				t.Skipf("%s's test API lives in one process (see the root package's TestEveryProviderFormsAndSeesALeave)", name)
			}
			procs := make([]*nodeproc.Proc, 3)
			for i := range procs {
				env := append([]string{"FOUNDATION_LOG_LEVEL=warn", "FOUNDATION_NAME=by-env",
					"FOUNDATION_SECRET=by-env-secret-0123456789", "FOUNDATION_HOST=127.0.0.1",
					// The provider makes it the production profile, whose
					// HTTP listener is :7352: three on one host need free ports.
					"FOUNDATION_TELEMETRY_ADDRESS=127.0.0.1:0",
					"FOUNDATION_PORT=" + strconv.Itoa(ports[i]), "FOUNDATION_CLUSTER_PORT=" + strconv.Itoa(cports[i])}, b.Env(i)...)
				p, err := nodeproc.Start(name+strconv.Itoa(i), bin, []string{"-grains=false"}, env, testWriter{t})
				if err != nil {
					t.Fatal(err)
				}
				procs[i] = p
				defer func() { _ = p.Kill(); _ = p.Wait(5 * time.Second) }()
			}
			for _, p := range procs {
				if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members=3" }, 20*time.Second); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			l, _, err := procs[2].WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			leaving := nodeproc.Field(l, "id")
			marks := []int{len(procs[0].Lines()), len(procs[1].Lines())}
			if err := procs[2].Terminate(); err != nil {
				t.Fatal(err)
			}
			for i, p := range procs[:2] {
				if _, _, err := p.WaitLine(marks[i], func(l string) bool {
					return strings.HasPrefix(l, "event left ") && nodeproc.Field(l, "id") == leaving
				}, 5*time.Second); err != nil {
					t.Fatalf("%s: %s did not see the member leave: %v", name, p.Name, err)
				}
			}
			if err := procs[2].Wait(5 * time.Second); err != nil {
				t.Fatalf("%s: stopped member: %v", name, err)
			}
		})
	}
}
