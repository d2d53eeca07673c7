// Command chat-app is a chat room over a three-node Foundation cluster in
// one process on 127.0.0.1. Rooms are pub/sub topics, users are grains
// (their rooms and post count, saved in the replicator), presence is a
// replicated add-wins set per room, and every node serves the same web
// page: join a room on one node, post on another, and the message arrives
// live everywhere (Server-Sent Events).
//
//	go run ./examples/chat-app                  # web pages on 127.0.0.1:8080, :8081, :8082
//	go run ./examples/chat-app -http 127.0.0.1:0 -for 30s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/nodeproc"
)

// nodes is the size of the demo's cluster.
const nodes = 3

func main() {
	var o options
	flag.StringVar(&o.HTTP, "http", "127.0.0.1:8080", "host:port of node1's web page; node2 and node3 take the next ports (port 0: free ports)")
	flag.DurationVar(&o.For, "for", 0, "stop after this long (0: run until interrupted)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.For > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.For)
		defer cancel()
	}
	log, err := zap.NewDevelopment(zap.IncreaseLevel(zap.WarnLevel))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat-app:", err)
		os.Exit(1)
	}
	o.Log = log
	if err := run(ctx, os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "chat-app:", err)
		os.Exit(1)
	}
}

// options configure run.
type options struct {
	// HTTP is the host:port of node1's web server; node i listens on the
	// port i-1 above it, or on a free port when the port is 0.
	HTTP string
	// For is only main's: how long to run.
	For time.Duration
	// Log receives the nodes' warnings. Nil: none.
	Log *zap.Logger
	// Ready, when set, is called with the nodes' base URLs ("http://...")
	// once the cluster has formed and every page is served.
	Ready func(urls []string)
}

// run starts the cluster and the web servers, prints the URLs to open, and
// serves until ctx ends; then it stops everything and returns.
func run(ctx context.Context, out io.Writer, o options) error {
	host, port, err := net.SplitHostPort(o.HTTP)
	if err != nil {
		return fmt.Errorf("-http %q: want host:port: %w", o.HTTP, err)
	}
	basePort, err := strconv.Atoi(port)
	if err != nil || basePort < 0 || basePort > 65535-nodes {
		return fmt.Errorf("-http %q: want a port from 0 to %d", o.HTTP, 65535-nodes)
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}

	ns, err := startCluster(ctx, log)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := len(ns) - 1; i >= 0; i-- {
			_ = ns[i].node.Load().Stop(sctx)
		}
	}()
	if err != nil {
		return err
	}

	// One web server per node; their requests end when serveCtx does, so
	// that open event streams let Shutdown finish.
	serveCtx, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	var servers []*http.Server
	served := make(chan error, nodes)
	defer func() {
		endRequests()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
		for range servers {
			<-served
		}
	}()
	var urls []string
	for i, cn := range ns {
		p := 0
		if basePort != 0 {
			p = basePort + i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("%s's web server: %w", cn.name, err)
		}
		s := &http.Server{
			Handler:           cn.handler(),
			ReadHeaderTimeout: 5 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return serveCtx },
		}
		servers = append(servers, s)
		go func() {
			err := s.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			served <- err
		}()
		urls = append(urls, "http://"+ln.Addr().String()+"/")
	}
	fmt.Fprintf(out, "chat: %d nodes up (%s, %s, %s), one cluster on 127.0.0.1\n", nodes, ns[0].name, ns[1].name, ns[2].name)
	fmt.Fprintf(out, "open %s in a browser (%s); the same chat is served by %s at %s and %s at %s\n",
		urls[0], ns[0].name, ns[1].name, urls[1], ns[2].name, urls[2])
	if o.Ready != nil {
		o.Ready(urls)
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		served <- err // counted again by the deferred wait
		if err != nil {
			return fmt.Errorf("web server: %w", err)
		}
	}
	fmt.Fprintln(out, "chat: stopping")
	return nil
}

// startCluster starts the nodes on 127.0.0.1 (remoting on free ports,
// cluster ports from a free list, each the others' seed) and waits until
// each sees all of them and hosts users. It returns the nodes started so
// far even on error, for the caller to stop.
func startCluster(ctx context.Context, log *zap.Logger) ([]*chatNode, error) {
	ports, err := nodeproc.FreePorts(nodes)
	if err != nil {
		return nil, err
	}
	var seeds []string
	for _, p := range ports {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	var ns []*chatNode
	for i, port := range ports {
		cn := newChatNode(fmt.Sprintf("node%d", i+1))
		n, err := foundation.Start(ctx,
			foundation.WithEnv(func(string) (string, bool) { return "", false }),
			foundation.WithLogger(log.Named(cn.name)),
			foundation.WithGrains(cn.userKind()),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Name = "chat"
				c.Secret = "chat-app-demo-secret-0123456789"
				c.Host, c.Port, c.ClusterPort = "127.0.0.1", 0, port
				c.Provider = cluster.ProviderStatic
				c.Seeds = seeds
				c.Labels = map[string]string{labelNode: cn.name}
				c.Telemetry.Address = cluster.TelemetryOff
				// Patient failure detection: three nodes in one process share
				// its CPU (with the race detector, in CI, on a busy machine),
				// where the development profile would take a node starved for
				// 300ms for a dead one. A suspected node now has 4s to answer
				// (20 × 200ms); probes stay short, so that none outlives Stop
				// for long.
				c.ProbeInterval, c.ProbeTimeout, c.SuspicionMultiplier = 200*time.Millisecond, 100*time.Millisecond, 20
				c.SplitBrain.StableAfter = 2 * time.Second
			}))
		if err != nil {
			return ns, fmt.Errorf("%s: %w", cn.name, err)
		}
		cn.node.Store(n)
		ns = append(ns, cn)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, cn := range ns {
		n := cn.node.Load()
		if err := n.Membership.Await(wctx, cluster.HostingKind(kindUser, nodes)); err != nil {
			return ns, fmt.Errorf("%s: the cluster did not form: %w", cn.name, err)
		}
		if err := awaitGrainView(wctx, n); err != nil {
			return ns, fmt.Errorf("%s: %w", cn.name, err)
		}
	}
	return ns, nil
}

// awaitGrainView waits until n's grain host places users over every node:
// its view follows the membership's a moment later.
func awaitGrainView(ctx context.Context, n *foundation.Node) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for n.Grains.ViewSize() != nodes {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the grain host sees %d of %d nodes: %w", n.Grains.ViewSize(), nodes, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}
