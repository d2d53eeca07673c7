// Command node runs one Foundation member and logs membership changes. It is
// configured by flags, FOUNDATION_* environment variables or a YAML file
// (flags win over the environment, which wins over the file):
//
//	node -provider static -seeds 127.0.0.1:7451,127.0.0.1:7452 -port 7350 -cluster-port 7451

// Seeds are cluster ports (-cluster-port): the port of membership gossip
// and grain traffic, which joins use. -port is actor remoting's.
//
//	FOUNDATION_PROVIDER=mdns node
//	node -config cluster.yaml
//
// It prints one line per membership event and a "view" line with the member
// count after each change, and stops gracefully on SIGINT or SIGTERM.
//
// Every node declares two grain kinds (turn them off with -grains=false):
// "counter", partitioned by rendezvous hash, and "singleton", whose
// identities all live on the oldest member. It prints a "grain activate" or
// "grain deactivate" line as their activations come and go here, and with
// -drive it calls one kind in a loop and prints a "call" line per call:
//
//	node -provider static -seeds ... -drive singleton -drive-interval 20ms
//	call kind=singleton id=leader member=<id> ok=true took=310µs at=<unix nanos> err=""
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
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
		seeds      = flag.String("seeds", "", "comma-separated host:port seeds for the static provider (members' cluster ports)")
		host       = flag.String("host", "", "listen host")
		port       = flag.Int("port", -1, "actor remoting port (default from the profile: development picks a free port, production 7350)")
		cport      = flag.Int("cluster-port", -1, "cluster port: gossip and grain traffic, TCP and UDP (development: a free port; production 7351)")
		advertise  = flag.String("advertise-cluster-address", "", "host:port others dial for the cluster port (default: host and the bound port)")
		name       = flag.String("name", "", "cluster name")
		secret     = flag.String("secret", "", "cluster secret")
		ifaces     = flag.String("mdns-interfaces", "", "comma-separated interfaces for mDNS")
		kinds      = flag.String("kinds", "", "comma-separated grain kinds hosted")
		grains     = flag.Bool("grains", true, "declare the grain kinds counter (partitioned) and singleton")
		grainHost  = flag.Bool("grain-host", true, "host the grain kinds; false: only call them")
		driveKind  = flag.String("drive", "", "call a grain kind in a loop and print each call: singleton or counter")
		driveEvery = flag.Duration("drive-interval", 20*time.Millisecond, "interval between driven calls")
		driveIDs   = flag.Int("drive-ids", 10, "number of counter identities driven (c0, c1, ...)")
		appVersion = flag.String("app-version", "", "this program's version, announced as the member label \"version\" (a rolling upgrade shows it)")
		protocol   = flag.Int("protocol-version", 0, "announce this wire protocol version instead of Foundation's (rehearses an upgrade across a protocol change)")
	)
	flag.Parse()
	switch {
	case *driveKind != "" && *driveKind != kindSingleton && *driveKind != kindCounter:
		return fmt.Errorf("-drive %q: want %s, %s or empty", *driveKind, kindSingleton, kindCounter)
	case *driveKind != "" && !*grains:
		return fmt.Errorf("-drive %s needs -grains=true", *driveKind)
	case *driveEvery <= 0:
		return fmt.Errorf("-drive-interval %v: want > 0", *driveEvery)
	case *driveIDs < 1:
		return fmt.Errorf("-drive-ids %d: want >= 1", *driveIDs)
	case *protocol < 0:
		return fmt.Errorf("-protocol-version %d: want >= 0 (0: Foundation's)", *protocol)
	}
	out := &printer{}
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
			if *cport >= 0 {
				c.ClusterPort = *cport
			}
			if *advertise != "" {
				c.AdvertiseClusterAddress = *advertise
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
			if *appVersion != "" {
				if c.Labels == nil {
					c.Labels = map[string]string{}
				}
				c.Labels["version"] = *appVersion
			}
		}),
		foundation.WithProtocolVersion(*protocol),
	}
	if *configFile != "" {
		opts = append(opts, foundation.WithConfigFile(*configFile))
	}
	if *grains {
		opts = append(opts, foundation.WithGrains(grainKinds(out, *grainHost)...))
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
	out.linef("started id=%s address=%s cluster_address=%s version=%s protocol=%d", self.ID, self.Address, self.ClusterAddress, self.Labels["version"], self.Protocol)
	out.linef("view members=%d", len(node.Membership.Members()))
	var driver sync.WaitGroup
	if *driveKind != "" {
		driver.Go(func() { drive(ctx, node, out, *driveKind, *driveEvery, *driveIDs) })
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case ev, ok := <-events:
			if !ok {
				break loop
			}
			reason := ""
			if ev.Reason != "" {
				reason = fmt.Sprintf(" reason=%q", ev.Reason)
			}
			if ev.Kind == cluster.SelfChanged {
				out.linef("event self status=%s at=%s ns=%d%s", ev.Self, ev.At.Format("15:04:05.000"), ev.At.UnixNano(), reason)
				continue
			}
			out.linef("event %s id=%s address=%s at=%s ns=%d%s", ev.Kind, ev.Member.ID, ev.Member.Address, ev.At.Format("15:04:05.000"), ev.At.UnixNano(), reason)
			out.linef("view members=%d", len(node.Membership.Members()))
		}
	}
	stop() // ends the driver when the event stream ended first
	driver.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	t0 := time.Now()
	err = node.Stop(sctx)
	out.linef("stopped in %s", time.Since(t0).Round(time.Millisecond))
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
