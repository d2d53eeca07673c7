// Command debugging-example follows requests across three members of one
// cluster and shows how to debug them: an HTTP front on member "front"
// calls the service "orders" on member "orders", whose handler calls the
// grain "inventory" placed on member "inventory". The request id and the
// W3C trace context travel along in message headers. One item is slow, one
// fails; the program finds their traces with the cluster-wide trace query,
// prints each as a tree (member, span, duration, own time) with where the
// time and the error went, and prints the dashboard's address.
//
//	go run ./examples/debugging-example          # print and stop
//	go run ./examples/debugging-example -serve   # and keep serving until Ctrl-C
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/telemetry"
)

func main() {
	serve := flag.Bool("serve", false, "keep the members and the HTTP front running after the printout (Ctrl-C stops them): open the dashboard in a browser")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*serve {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
	}
	if err := run(ctx, os.Stdout, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "debugging-example:", err)
		os.Exit(1)
	}
}

// The members' roles, in start order: member i has label role=roles[i].
var roles = []string{"front", "orders", "inventory"}

const (
	// headerRequestID is the request id's header, on HTTP and on messages.
	headerRequestID = "request-id"
	// slowItem's stock lives in a slow warehouse system; brokenItem's
	// lookup fails.
	slowItem, brokenItem = "piano", "typewriter"
	// slowWarehouse is how long the warehouse takes to answer for slowItem.
	slowWarehouse = 300 * time.Millisecond
)

// initialStock is each item's stock when its inventory grain activates.
var initialStock = map[string]int{"book": 5, "piano": 2, "typewriter": 1}

// run starts the cluster, sends three requests through it, and prints how
// to debug them. With serve it then keeps everything running until ctx
// ends.
func run(ctx context.Context, w io.Writer, serve bool) (err error) {
	out := &syncWriter{w: w}
	nodes, stopNodes, err := startMembers(ctx)
	defer stopNodes()
	if err != nil {
		return err
	}
	front, orders := nodes[0], nodes[1]
	names := map[string]string{} // member id -> role
	for i, n := range nodes {
		names[n.Membership.Self().ID] = roles[i]
	}

	// The service "orders" on member orders; it calls the grain inventory.
	pid, err := orders.System.Spawn(&ordersService{grains: orders.Grains})
	if err != nil {
		return err
	}
	if _, err := orders.Services.Register(ctx, "orders", pid); err != nil {
		return err
	}
	// The HTTP front on member front.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fe := &httpFront{node: front, log: out}
	srv := &http.Server{Handler: fe, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
	}()

	// Ready: the front sees the service, orders sees inventory's member.
	if err := poll(ctx, 20*time.Second, "the front sees the service orders", func() bool {
		in, err := front.Services.Discover("orders")
		return err == nil && len(in) > 0
	}); err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = orders.Membership.Await(actx, cluster.HostingKind("inventory", 1))
	cancel()
	if err != nil {
		return fmt.Errorf("member orders never saw a member hosting inventory: %w", err)
	}
	dash := "http://" + front.Telemetry.Address()
	fmt.Fprintln(out, "cluster shop up: three members on 127.0.0.1")
	for i, n := range nodes {
		fmt.Fprintf(out, "  %-9s member %s  telemetry http://%s\n", roles[i], n.Membership.Self().ID, n.Telemetry.Address())
	}
	fmt.Fprintf(out, "HTTP front: http://%s/checkout?item=NAME\n", ln.Addr())
	fmt.Fprintf(out, "dashboard:  %s/dashboard\n\n", dash)

	// Three requests, as a browser or a load balancer would send them.
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	type request struct{ id, item, trace string }
	reqs := []request{{id: "req-1", item: "book"}, {id: "req-2", item: slowItem}, {id: "req-3", item: brokenItem}}
	for i := range reqs {
		r := &reqs[i]
		hr, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ln.Addr().String()+"/checkout?item="+r.item, nil)
		if err != nil {
			return err
		}
		hr.Header.Set("X-Request-Id", r.id)
		resp, err := client.Do(hr)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r.trace = resp.Header.Get("X-Trace-Id")
	}

	// Every request's trace, gathered from the three members' flight
	// recorders. The last spans may end on their members just after the
	// reply reached the front: wait until each trace has them all.
	traces := map[string]*telemetry.Trace{}
	for _, r := range reqs {
		var tr *telemetry.Trace
		if err := poll(ctx, 10*time.Second, "the trace of "+r.id+" on three members", func() bool {
			qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			tr, err = front.Telemetry.ClusterTrace(qctx, r.trace)
			return err == nil && len(tr.Members()) == 3 && hasSpan(tr, "grain.receive inventory")
		}); err != nil {
			return err
		}
		traces[r.id] = tr
	}

	// Without a trace id: the recent traces of every member, as the
	// dashboard lists them.
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	sums := front.Telemetry.ClusterSummaries(qctx)
	cancel()
	fmt.Fprintln(out, "\nrecent traces, cluster-wide (the dashboard's list):")
	for _, s := range mergeSummaries(sums) {
		fmt.Fprintf(out, "  %s  %-22s %2d spans  %d errors  %v\n", s.TraceID, s.Root, s.Spans, s.Errors, roundDur(s.Duration))
	}

	for _, r := range reqs[1:] {
		tr := traces[r.id]
		fmt.Fprintf(out, "\n%s (GET /checkout?item=%s): trace %s, gathered from every member:\n", r.id, r.item, r.trace)
		a := printTree(out, tr, names)
		if a.errSpan != nil {
			fmt.Fprintf(out, "=> the error starts at %s on %s: %s\n", a.errSpan.Name, names[a.errSpan.Member], a.errSpan.Error)
		} else {
			fmt.Fprintf(out, "=> the time went to %s on %s: %v of %v\n", a.slowest.Name, names[a.slowest.Member], roundDur(a.slowestOwn), roundDur(a.total))
		}
	}

	fmt.Fprintf(out, "\nin the dashboard: %s/dashboard (Recent traces, click a trace)\n", dash)
	for _, r := range reqs {
		fmt.Fprintf(out, "  %s: %s/debug/traces/%s?format=text\n", r.id, dash, r.trace)
	}
	fmt.Fprintf(out, "or: go run ./cmd/foundation trace %s --addr %s\n", reqs[2].trace, front.Telemetry.Address())
	if !serve {
		return nil
	}
	fmt.Fprintf(out, "\nserving until interrupted (Ctrl-C); more requests: curl -H 'X-Request-Id: req-9' 'http://%s/checkout?item=%s'\n", ln.Addr(), slowItem)
	<-ctx.Done()
	return nil
}

// startMembers starts the three members on 127.0.0.1 and waits until
// each sees the others. stop stops those that started, in reverse order.
func startMembers(ctx context.Context) (nodes []*foundation.Node, stop func(), err error) {
	stop = func() {
		for i := len(nodes) - 1; i >= 0; i-- {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = nodes[i].Stop(sctx)
			cancel()
		}
	}
	ports, err := nodeproc.FreePorts(2 * len(roles))
	if err != nil {
		return nil, stop, err
	}
	var seeds []string
	for _, p := range ports[len(roles):] {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	kind := grain.Kind{Name: "inventory", Placement: grain.Role, Role: map[string]string{"role": "inventory"}}
	for i, role := range roles {
		opts := []foundation.Option{
			foundation.WithEnv(func(string) (string, bool) { return "", false }),
			foundation.WithLogger(zap.NewNop()),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Name = "shop"
				c.Secret = "debugging-example-secret"
				c.Provider, c.Seeds = cluster.ProviderStatic, seeds
				c.Host, c.Port, c.ClusterPort = "127.0.0.1", ports[i], ports[len(roles)+i]
				c.Labels = map[string]string{"role": role}
				c.Telemetry.Address = "127.0.0.1:0"
				// follow: record the traces a caller sampled (the HTTP
				// front samples every request); start none of our own.
				c.Telemetry.Tracing = cluster.TelemetryFollow
				// SWIM timings that a loaded machine (tests under the race
				// detector) does not trip over: a member suspected by a
				// late probe would see its grains moved.
				c.ProbeInterval, c.ProbeTimeout = time.Second, 500*time.Millisecond
			}),
		}
		switch role {
		case "orders": // calls inventory
			opts = append(opts, foundation.WithGrains(kind))
		case "inventory": // hosts it
			k := kind
			k.New = func(string) grain.Grain { return &inventoryGrain{} }
			opts = append(opts, foundation.WithGrains(k))
		}
		n, err := foundation.Start(ctx, opts...)
		if err != nil {
			return nodes, stop, fmt.Errorf("member %s: %w", role, err)
		}
		nodes = append(nodes, n)
	}
	for i, n := range nodes {
		actx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := n.Membership.Await(actx, cluster.AtLeast(len(roles)))
		cancel()
		if err != nil {
			return nodes, stop, fmt.Errorf("member %s does not see %d members: %w", roles[i], len(roles), err)
		}
	}
	return nodes, stop, nil
}

// httpFront is the HTTP front of member front: GET /checkout?item=X calls
// the service orders with the request id and the trace context in the
// message headers, and answers with X-Request-Id and X-Trace-Id.
type httpFront struct {
	node *foundation.Node
	log  io.Writer
	seq  atomic.Int64
}

func (f *httpFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/checkout" {
		http.Error(w, "GET /checkout?item=NAME", http.StatusNotFound)
		return
	}
	item := r.URL.Query().Get("item")
	if item == "" {
		http.Error(w, "?item= is required", http.StatusBadRequest)
		return
	}
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		id = "front-" + strconv.FormatInt(f.seq.Add(1), 10)
	}
	// The trace: the caller's when it sent a W3C traceparent, else a new
	// one, sampled. Its context travels in the message headers with the
	// request id, to every member the request reaches.
	sc, h := traceContext(r.Header)
	h[headerRequestID] = id
	ctx, cancel := context.WithTimeout(actor.WithHeaders(r.Context(), h), 5*time.Second)
	defer cancel()
	reply, err := foundation.Call[*wrapperspb.StringValue](ctx, f.node, foundation.ToService("orders"), wrapperspb.String(item))
	w.Header().Set("X-Request-Id", id)
	w.Header().Set("X-Trace-Id", sc.TraceID().String())
	code, body := http.StatusOK, reply.GetValue()
	if err != nil {
		code, body = http.StatusBadGateway, err.Error()
	}
	w.WriteHeader(code)
	fmt.Fprintln(w, body)
	// The access log: the line a user's complaint about a request id
	// leads to, with the trace id that explains it.
	fmt.Fprintf(f.log, "front: GET /checkout?item=%-10s %d request-id=%s trace=%s %8v  %s\n",
		item, code, id, sc.TraceID(), roundDur(time.Since(start)), body)
}

// traceContext returns the trace context of an incoming request: the
// caller's W3C traceparent when it sent a valid one, else a new sampled
// trace; and the message headers that carry it.
func traceContext(in http.Header) (trace.SpanContext, actor.Headers) {
	prop := propagation.TraceContext{}
	ctx := prop.Extract(context.Background(), propagation.HeaderCarrier(in))
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		var tid trace.TraceID
		var sid trace.SpanID
		_, _ = rand.Read(tid[:])
		_, _ = rand.Read(sid[:])
		sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	}
	h := propagation.MapCarrier{}
	prop.Inject(trace.ContextWithRemoteSpanContext(context.Background(), sc), h)
	return sc, actor.Headers(h)
}

// ordersService is the service orders: it reserves the item with the
// item's inventory grain, wherever that runs, with the caller's context
// (its request id and trace go along).
type ordersService struct {
	actor.ServerBase
	grains *grain.Host
}

func (s *ordersService) HandleCall(p actor.Process, req any) (any, error) {
	item := req.(*wrapperspb.StringValue).GetValue()
	ctx, cancel := context.WithTimeout(actor.ContextOf(p), 5*time.Second)
	defer cancel()
	left, err := grain.Get[*wrapperspb.Int64Value](s.grains, "inventory", item).Call(ctx, wrapperspb.String(p.Header(headerRequestID)))
	if err != nil {
		return nil, fmt.Errorf("orders: reserving %s: %w", item, err)
	}
	return wrapperspb.String(fmt.Sprintf("order for %s: reserved, %d left", item, left.GetValue())), nil
}

// inventoryGrain is one item's stock.
type inventoryGrain struct{ stock int }

func (g *inventoryGrain) OnActivate(ctx *grain.Context) error {
	g.stock = initialStock[ctx.Identity()]
	return nil
}

func (g *inventoryGrain) Receive(ctx *grain.Context, _ any) (any, error) {
	switch item := ctx.Identity(); item {
	case brokenItem:
		return nil, fmt.Errorf("inventory: %s is discontinued (request-id %s)", item, ctx.Header(headerRequestID))
	case slowItem:
		// The warehouse system that knows this item's stock is slow
		// (simulated: it answers after slowWarehouse).
		t := time.NewTimer(slowWarehouse)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if g.stock == 0 {
		return nil, fmt.Errorf("inventory: %s is sold out", ctx.Identity())
	}
	g.stock--
	return wrapperspb.Int64(int64(g.stock)), nil
}

// analysis is what printTree found in a trace.
type analysis struct {
	total      time.Duration
	slowest    *telemetry.SpanNode // the span with the most time of its own
	slowestOwn time.Duration
	errSpan    *telemetry.SpanNode // the deepest span that failed
}

// printTree prints the trace's causal tree: each span's name, member,
// duration and own time (its duration less its children's), marking the
// span with the most time of its own and the deepest one that failed.
func printTree(w io.Writer, tr *telemetry.Trace, names map[string]string) analysis {
	var a analysis
	var first, last time.Time
	for i, s := range tr.Spans {
		if i == 0 || s.Start.Before(first) {
			first = s.Start
		}
		if s.End.After(last) {
			last = s.End
		}
	}
	a.total = last.Sub(first)
	roots := tr.Tree()
	own := map[*telemetry.SpanNode]time.Duration{}
	errDepth := -1
	var visit func(n *telemetry.SpanNode, depth int)
	visit = func(n *telemetry.SpanNode, depth int) {
		d := n.Duration()
		for _, c := range n.Children {
			d -= c.Duration()
			visit(c, depth+1)
		}
		own[n] = max(d, 0)
		if own[n] > a.slowestOwn || a.slowest == nil {
			a.slowest, a.slowestOwn = n, own[n]
		}
		if n.Error != "" && depth > errDepth {
			a.errSpan, errDepth = n, depth
		}
	}
	for _, r := range roots {
		visit(r, 0)
	}
	fmt.Fprintf(w, "  %-40s %-10s %10s %10s\n", "span", "member", "took", "own")
	var walk func(n *telemetry.SpanNode, prefix, branch string)
	walk = func(n *telemetry.SpanNode, prefix, branch string) {
		mark := ""
		switch {
		case n == a.errSpan:
			mark = "  <- the error starts here: " + n.Error
		case n.Error != "":
			mark = "  (failed)"
		case n == a.slowest && a.errSpan == nil:
			mark = "  <- most time"
		}
		fmt.Fprintf(w, "  %-40s %-10s %10v %10v%s\n", prefix+branch+n.Name, names[n.Member], roundDur(n.Duration()), roundDur(own[n]), mark)
		next := prefix
		switch branch {
		case "├─ ":
			next += "│  "
		case "└─ ":
			next += "   "
		}
		for i, c := range n.Children {
			b := "├─ "
			if i == len(n.Children)-1 {
				b = "└─ "
			}
			walk(c, next, b)
		}
	}
	for _, r := range roots {
		walk(r, "", "")
	}
	for _, m := range tr.Missing {
		fmt.Fprintf(w, "  (no answer from %s)\n", m)
	}
	return a
}

func hasSpan(tr *telemetry.Trace, name string) bool {
	for _, s := range tr.Spans {
		if s.Name == name {
			return true
		}
	}
	return false
}

// mergeSummaries merges the members' recent traces into one row per trace
// (spans and errors added up, from the earliest start to the latest end),
// newest first, as the dashboard does.
func mergeSummaries(sums []telemetry.MemberSummary) []telemetry.TraceSummary {
	by := map[string]*telemetry.TraceSummary{}
	ends := map[string]time.Time{}
	for _, s := range sums {
		for _, t := range s.RecentTraces {
			m := by[t.TraceID]
			if m == nil {
				m = &telemetry.TraceSummary{TraceID: t.TraceID, Root: t.Root, Start: t.Start}
				by[t.TraceID] = m
			}
			if t.Start.Before(m.Start) {
				m.Start, m.Root = t.Start, t.Root
			}
			if end := t.Start.Add(t.Duration); end.After(ends[t.TraceID]) {
				ends[t.TraceID] = end
			}
			m.Spans += t.Spans
			m.Errors += t.Errors
		}
	}
	out := make([]telemetry.TraceSummary, 0, len(by))
	for id, m := range by {
		m.Duration = ends[id].Sub(m.Start)
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out
}

// poll checks cond until it holds, for at most d (or until ctx ends).
func poll(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, d)
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

func roundDur(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// syncWriter serialises writes: the HTTP front's access log and run's
// printout share it.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
