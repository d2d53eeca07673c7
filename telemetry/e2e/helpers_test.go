package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/telemetry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The OTLP exporters' HTTP client keeps idle connections to the
		// collector until it closes them.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// needTool returns the path of program name (or of the file at path when
// name is absolute), or skips the test; with CI set a missing tool fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err == nil {
			return name
		}
	} else if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (CI is set: .ci/run must install it)", name)
	}
	t.Skipf("%s is missing: install it (see .ci/run) to run this test", name)
	return ""
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The three members of the request path: an entry Server on member 0 calls
// the "middle" grain, hosted only by member 1 (role middle), which calls
// the "leaf" grain, hosted only by member 2 (role leaf), which calls the
// service "answer", whose one instance is a Server on member 2.
const (
	kindMiddle = "middle"
	kindLeaf   = "leaf"
	svcAnswer  = "answer"
	ctxKey     = "request-id"
)

// hosts holds each node for the grains' factories, which run after Start
// returned.
type hosts struct {
	mu sync.Mutex
	n  map[int]*foundation.Node
}

func (hs *hosts) get(i int) *grain.Host { return hs.node(i).Grains }

func (hs *hosts) node(i int) *foundation.Node {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.n[i]
}

type middle struct{ host func() *grain.Host }

func (g *middle) Receive(ctx *grain.Context, msg any) (any, error) {
	// ctx carries the caller's context values and trace: the leaf's call
	// made with it carries them on.
	return grain.Get[*wrapperspb.StringValue](g.host(), kindLeaf, "l1").Call(ctx, msg)
}

type leaf struct{ node func() *foundation.Node }

func (l leaf) Receive(ctx *grain.Context, msg any) (any, error) {
	// A service call through the node's facade, with the grain's context.
	return foundation.Call[*wrapperspb.StringValue](ctx, l.node(), foundation.ToService(svcAnswer), msg)
}

// answer is the instance of the service "answer": it answers "request-id|
// trace id|member" from its context.
type answer struct {
	actor.ServerBase
	member string
}

func (a *answer) HandleCall(p actor.Process, _ any) (any, error) {
	ctx := actor.ContextOf(p)
	return wrapperspb.String(foundation.ContextValue(ctx, ctxKey) + "|" + traceIDOf(ctx) + "|" + a.member), nil
}

// entry is the Server the request enters by on member 0.
type entry struct {
	actor.ServerBase
	host *grain.Host
}

func (e *entry) HandleCall(p actor.Process, req any) (any, error) {
	ctx, cancel := context.WithTimeout(actor.ContextOf(p), 5*time.Second)
	defer cancel()
	return grain.Get[*wrapperspb.StringValue](e.host, kindMiddle, "m1").Call(ctx, req)
}

// testCluster is three in-process members with the request path.
type testCluster struct {
	nodes []*foundation.Node
	entry *actor.PID
}

// startThree starts the three members; env adds to each member's
// environment (OTEL_* variables), extra changes each configuration.
func startThree(t *testing.T, env map[string]string, extra func(i int, c *cluster.Config), opts ...foundation.Option) *testCluster {
	t.Helper()
	all, err := nodeproc.FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for _, p := range all[3:] {
		seeds = append(seeds, "127.0.0.1:"+strconv.Itoa(p))
	}
	errCore, errs := observer.New(zapcore.ErrorLevel)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel), zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, errCore)
	})))
	t.Cleanup(func() {
		for _, e := range errs.All() {
			if strings.HasPrefix(e.Message, "swim: memberlist:") {
				continue // memberlist's own probe timeouts on a loaded machine
			}
			t.Errorf("ERROR logged: %s %s %v", e.LoggerName, e.Message, e.ContextMap())
		}
	})
	hs := &hosts{n: map[int]*foundation.Node{}}
	roles := []string{"entry", kindMiddle, kindLeaf}
	tc := &testCluster{}
	for i := 0; i < 3; i++ {
		i := i
		kinds := []grain.Kind{
			{Name: kindMiddle, Placement: grain.Role, Role: map[string]string{"role": kindMiddle}},
			{Name: kindLeaf, Placement: grain.Role, Role: map[string]string{"role": kindLeaf}},
		}
		switch i {
		case 1:
			kinds[0].New = func(string) grain.Grain { return &middle{host: func() *grain.Host { return hs.get(1) }} }
		case 2:
			kinds[1].New = func(string) grain.Grain { return leaf{node: func() *foundation.Node { return hs.node(2) }} }
		}
		vars := map[string]string{"FOUNDATION_SEEDS": strings.Join(seeds, ",")}
		for k, v := range env {
			vars[k] = v
		}
		node, err := foundation.Start(context.Background(), append([]foundation.Option{
			foundation.WithEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok }),
			foundation.WithLogger(log),
			foundation.WithGrains(kinds...),
			foundation.WithConfig(func(c *cluster.Config) {
				c.Port = all[i]
				c.ClusterPort = all[3+i]
				c.Secret = "test-secret-0123456789"
				c.Labels = map[string]string{"role": roles[i]}
				c.Telemetry.Address = "127.0.0.1:0"
				// SWIM timings that a loaded two-core machine running the
				// race detector, Prometheus or Jaeger beside three members
				// does not trip over: these tests are about telemetry, and
				// a member fenced by a late probe moves the grains away.
				c.ProbeInterval = time.Second
				c.ProbeTimeout = 500 * time.Millisecond
				if extra != nil {
					extra(i, c)
				}
			}),
			foundation.WithTelemetry(func(c *telemetry.Config) { c.SampleEvery = 200 * time.Millisecond }),
		}, opts...)...)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		hs.mu.Lock()
		hs.n[i] = node
		hs.mu.Unlock()
		tc.nodes = append(tc.nodes, node)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = node.Stop(ctx)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i, n := range tc.nodes {
		if err := n.Membership.Await(ctx, cluster.AtLeast(3)); err != nil {
			t.Fatalf("node %d does not see 3 members: %v", i, err)
		}
	}
	tc.entry, err = tc.nodes[0].System.Spawn(&entry{host: tc.nodes[0].Grains})
	if err != nil {
		t.Fatal(err)
	}
	n2 := tc.nodes[2]
	pid, err := n2.System.Spawn(&answer{member: n2.Membership.Self().ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n2.Services.Register(ctx, svcAnswer, pid); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the service registered", func() bool {
		in, err := n2.Services.Discover(svcAnswer)
		return err == nil && len(in) == 1
	})
	return tc
}

// request sends one request through the three members and returns the
// leaf's answer: "request-id|trace id|leaf member".
func (tc *testCluster) request(t *testing.T, id string) []string {
	t.Helper()
	ctx, err := foundation.WithContext(context.Background(), map[string]string{ctxKey: id})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out *wrapperspb.StringValue
	eventually(t, 10*time.Second, "the request to pass", func() bool {
		out, err = actor.Call[*wrapperspb.StringValue](ctx, tc.nodes[0].System, tc.entry, wrapperspb.String("hello"))
		if err != nil {
			t.Logf("request: %v (retrying)", err)
		}
		return err == nil
	})
	parts := strings.Split(out.GetValue(), "|")
	if len(parts) != 3 {
		t.Fatalf("leaf answered %q", out.GetValue())
	}
	return parts
}

// httpGet gets url and returns the status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, err := tryGet(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return code, body
}

// tryGet gets url and returns the status and body, or the error.
func tryGet(url string) (int, string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String(), nil
}

func memberIDs(tc *testCluster) []string {
	var ids []string
	for _, n := range tc.nodes {
		ids = append(ids, n.Membership.Self().ID)
	}
	return ids
}

var _ = fmt.Sprintf

func traceIDOf(ctx context.Context) string {
	if sc := oteltrace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
