package federation

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/cluster/clustertest"
)

// A grain reference that names another cluster: the call crosses to it and
// is an ordinary grain call there (one activation, its state kept between
// calls); grains are not reachable where GrainService is not exported.
func TestCallGrainInAnotherCluster(t *testing.T) {
	topo := Topology{Kind: Mesh, Clusters: []string{"web", "ai"}}
	f := startFed(t, topo, fedOptions{grains: true, exports: []string{"echo", GrainService}})
	f.waitReachable("web", "ai")
	w := f.worker("web")
	ctx := ctxT(t, 20*time.Second)
	var first string
	clustertest.Eventually(t, func() bool {
		r, err := CallGrain[*wrapperspb.StringValue](ctx, w, "ai", "counter", "model-7", wrapperspb.String("go"))
		first = r.GetValue()
		return err == nil
	}, 15*time.Second, "a grain call from web reaches ai")
	if !strings.HasPrefix(first, "ai:model-7:") {
		t.Fatalf("reply %q: want ai's grain model-7", first)
	}
	// The same activation answers again: its count goes up by one a call.
	n, _ := strconv.Atoi(first[strings.LastIndexByte(first, ':')+1:])
	for i := 1; i <= 3; i++ {
		r, err := CallGrain[*wrapperspb.StringValue](ctx, w, "ai", "counter", "model-7", wrapperspb.String("go"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "ai:model-7:" + strconv.Itoa(n+i); r.GetValue() != want {
			t.Fatalf("reply %q, want %q: not the same activation", r.GetValue(), want)
		}
	}
	// From the other side too, to a grain of web.
	f.waitReachable("ai", "web")
	var back string
	clustertest.Eventually(t, func() bool {
		r, err := CallGrain[*wrapperspb.StringValue](ctx, f.worker("ai"), "web", "counter", "u1", wrapperspb.String("go"))
		back = r.GetValue()
		return err == nil
	}, 15*time.Second, "a grain call from ai reaches web")
	if back != "web:u1:1" {
		t.Fatalf("ai to web's grain: %q", back)
	}
	if _, err := CallGrain[*wrapperspb.StringValue](ctx, w, "ai", "counter", "model-7", wrapperspb.String("fail")); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "counter refuses") {
		t.Fatalf("a grain's error: %v", err)
	}
	if _, err := CallGrain[*wrapperspb.StringValue](ctx, w, "ai", "counter", "", wrapperspb.String("x")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty identity: %v", err)
	}
}

func TestCallGrainNeedsTheExport(t *testing.T) {
	topo := Topology{Kind: Mesh, Clusters: []string{"web", "ai"}}
	f := startFed(t, topo, fedOptions{grains: true})
	f.waitReachable("web", "ai")
	_, err := CallGrain[*wrapperspb.StringValue](ctxT(t, 10*time.Second), f.worker("web"), "ai", "counter", "x", wrapperspb.String("go"))
	if !errors.Is(err, ErrNotExported) {
		t.Fatalf("grains of a cluster that does not export them: %v", err)
	}
}
