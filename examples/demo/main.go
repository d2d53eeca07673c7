// Command demo starts a three-member Foundation cluster as three OS
// processes on 127.0.0.1, shows them forming, kills one with kill -9, shows
// the survivors removing it, and stops the rest gracefully.
//
//	make demo                 # static provider (seed list)
//	PROVIDER=mdns make demo   # zero-config mDNS, inside a private network namespace (root)
//
// The single-process tour of the process model is `go run ./examples/process`.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/foundation-go/foundation/internal/nodeproc"
)

const inNamespace = "FOUNDATION_DEMO_NETNS"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	provider := os.Getenv("PROVIDER")
	if provider == "" {
		provider = "static"
	}
	if provider != "static" && provider != "mdns" {
		return fmt.Errorf("PROVIDER=%q: the demo runs static or mdns", provider)
	}
	if provider == "mdns" && os.Getenv(inNamespace) == "" {
		return reexecInNamespace()
	}
	root, err := nodeproc.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "foundation-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Println("building examples/node ...")
	bin, err := nodeproc.Build(root, dir)
	if err != nil {
		return err
	}
	ports, err := nodeproc.FreePorts(3)
	if err != nil {
		return err
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	fmt.Printf("starting 3 nodes (%s provider) on %s\n", provider, strings.Join(seeds, ", "))
	env := []string{"FOUNDATION_LOG_LEVEL=warn", "FOUNDATION_NAME=demo", "FOUNDATION_SECRET=demo-secret-0123456789"}
	var procs []*nodeproc.Proc
	defer func() {
		for _, p := range procs {
			if !p.Exited() {
				_ = p.Kill()
				_ = p.Wait(time.Second)
			}
		}
	}()
	for i, port := range ports {
		args := []string{"-host", "127.0.0.1", "-port", strconv.Itoa(port), "-provider", provider}
		if provider == "static" {
			args = append(args, "-seeds", strings.Join(seeds, ","))
		} else {
			args = append(args, "-mdns-interfaces", "lo")
		}
		p, err := nodeproc.Start(fmt.Sprintf("node%d", i+1), bin, args, env, os.Stdout)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	t0 := time.Now()
	for _, p := range procs {
		if _, _, err := p.WaitLine(0, func(l string) bool { return l == "view members=3" }, 20*time.Second); err != nil {
			return err
		}
	}
	fmt.Printf("== cluster formed: every node sees 3 members (%v after start)\n", time.Since(t0).Round(time.Millisecond))

	victim := procs[2]
	startLine, _, err := victim.WaitLine(0, func(l string) bool { return strings.HasPrefix(l, "started ") }, time.Second)
	if err != nil {
		return err
	}
	victimID := nodeproc.Field(startLine, "id")
	marks := make([]int, 2)
	for i := range marks {
		marks[i] = len(procs[i].Lines())
	}
	fmt.Printf("== kill -9 %s (member %s)\n", victim.Name, victimID)
	killed := time.Now()
	if err := victim.Kill(); err != nil {
		return err
	}
	_ = victim.Wait(5 * time.Second)
	for i, p := range procs[:2] {
		if _, _, err := p.WaitLine(marks[i], func(l string) bool {
			return strings.HasPrefix(l, "event removed ") && nodeproc.Field(l, "id") == victimID
		}, 5*time.Second); err != nil {
			return err
		}
		fmt.Printf("== %s removed %s %v after the kill\n", p.Name, victim.Name, time.Since(killed).Round(time.Millisecond))
	}
	fmt.Println("== stopping the survivors gracefully (SIGTERM)")
	for _, p := range procs[:2] {
		_ = p.Terminate()
	}
	for _, p := range procs[:2] {
		if err := p.Wait(10 * time.Second); err != nil {
			return err
		}
	}
	fmt.Println("== done")
	return nil
}

// reexecInNamespace runs this demo again inside a new network namespace whose
// loopback carries multicast, so that mDNS never reaches a real interface.
func reexecInNamespace() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("PROVIDER=mdns needs root to create a private network namespace (unshare -n); run as root or use the static provider")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("PROVIDER=mdns needs %s (Debian: util-linux, iproute2)", tool)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script := `set -e; ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo; exec "$0"`
	cmd := exec.Command("unshare", "-n", "sh", "-c", script, self)
	cmd.Env = append(os.Environ(), inNamespace+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Println("== entering a private network namespace for mDNS")
	return cmd.Run()
}
