//go:build !race

// This test runs proto.actor's own cluster, which has data races of its own
// (cluster/protocluster's tests say where): under the race detector it
// would report those, so it runs in the ordinary (non -race) pass of the
// suite, as cluster/protocluster's do; see the Makefile's test target.

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines, ignoring those proto.actor's own
// cluster leaves behind on Shutdown (as cluster/protocluster's tests do),
// and the automanaged provider's monitor, which sees the shutdown only
// after its refresh interval's sleep.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged.(*AutoManagedProvider).monitorMemberStatusChanges.func1"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/remote.(*endpointWriter).initialize"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/cluster.NewGossipActor.NewThrottleWithLogger.func2.1"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc.(*addrConn).resetTransport"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc.(*addrConn).resetTransportAndUnlock"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
	)
}

// The proto.actor program answers the script as ../testdata/answers.txt
// says: the answers ../after and ../idiomatic are held to.
func TestAnswers(t *testing.T) {
	want, err := os.ReadFile("../testdata/answers.txt")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := answers(out.String()); got != string(want) {
		t.Fatalf("answers:\n%s\nwant (../testdata/answers.txt):\n%s", got, want)
	}
}

// answers returns the lines of out that answer the script.
func answers(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "member ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
