package protocluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines. proto.actor's own cluster (used
// here as it is, since it is what the adapter plugs into) leaves goroutines
// behind on Shutdown: its gossip keeps dialing a crashed member through an
// endpoint writer that sleeps between five connection attempts and never
// closes the gRPC connections it opened, and its throttles outlive it. Those
// are ignored by name; the adapter's own goroutines are not.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/remote.(*endpointWriter).initialize"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/cluster.NewGossipActor.NewThrottleWithLogger.func2.1"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc.(*addrConn).resetTransport"),
		// grpc >= 1.7x names it resetTransportAndUnlock.
		goleak.IgnoreAnyFunction("google.golang.org/grpc.(*addrConn).resetTransportAndUnlock"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
	)
}
