// Command node runs one Foundation member and logs membership changes. It is
// configured by flags, FOUNDATION_* environment variables or a YAML file
// (flags win over the environment, which wins over the file):
//
//	node -provider static -seeds 127.0.0.1:7351,127.0.0.1:7352 -port 7351
//	FOUNDATION_PROVIDER=mdns node
//	node -config cluster.yaml
//
// It prints one line per membership event and a "view" line with the member
// count after each change, and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		configFile = flag.String("config", "", "YAML configuration file")
		prov       = flag.String("provider", "", "discovery provider: static, mdns, auto (default from config/environment)")
		seeds      = flag.String("seeds", "", "comma-separated host:port seeds for the static provider")
		host       = flag.String("host", "", "listen host")
		port       = flag.Int("port", -1, "listen port (default from the profile: development picks a free port, production 7350)")
		name       = flag.String("name", "", "cluster name")
		secret     = flag.String("secret", "", "cluster secret")
		ifaces     = flag.String("mdns-interfaces", "", "comma-separated interfaces for mDNS")
		kinds      = flag.String("kinds", "", "comma-separated grain kinds hosted")
	)
	flag.Parse()
	opts := []foundation.Option{
		foundation.WithConfig(func(c *cluster.Config) {
			if *prov != "" {
				c.Provider = *prov
			}
			if *seeds != "" {
				c.Seeds = split(*seeds)
			}
			if *host != "" {
				c.Host = *host
			}
			if *port >= 0 {
				c.Port = *port
			}
			if *name != "" {
				c.Name = *name
			}
			if *secret != "" {
				c.Secret = *secret
			}
			if *ifaces != "" {
				c.MDNS.Interfaces = split(*ifaces)
			}
			if *kinds != "" {
				c.Kinds = split(*kinds)
			}
		}),
	}
	if *configFile != "" {
		opts = append(opts, foundation.WithConfigFile(*configFile))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, err := foundation.Start(ctx, opts...)
	if err != nil {
		return err
	}
	events, cancel := node.Membership.Subscribe(256)
	defer cancel()
	self := node.Membership.Self()
	fmt.Printf("started id=%s address=%s\n", self.ID, self.Address)
	fmt.Printf("view members=%d\n", len(node.Membership.Members()))
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case ev, ok := <-events:
			if !ok {
				break loop
			}
			fmt.Printf("event %s id=%s address=%s at=%s", ev.Kind, ev.Member.ID, ev.Member.Address, ev.At.Format("15:04:05.000"))
			if ev.Reason != "" {
				fmt.Printf(" reason=%q", ev.Reason)
			}
			fmt.Println()
			fmt.Printf("view members=%d\n", len(node.Membership.Members()))
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	t0 := time.Now()
	err = node.Stop(sctx)
	fmt.Printf("stopped in %s\n", time.Since(t0).Round(time.Millisecond))
	return err
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
