package lease_test

// The Kubernetes lease on a real kube-apiserver (internal/kubeapi; `make
// kubeapi` builds it): optimistic concurrency, expiry and RBAC as the real
// server enforces them. Skipped when the harness is not built, failed then
// when CI is set.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/cluster/lease"
	"github.com/foundation-go/foundation/internal/kubeapi"
)

// race has n sides ask for l at once and returns the winners.
func race(t *testing.T, l *lease.Kubernetes, sides ...string) []string {
	t.Helper()
	var mu sync.Mutex
	var winners []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, side := range sides {
		wg.Go(func() {
			<-start
			held, err := l.Acquire(ctx(t), side)
			if err != nil {
				t.Errorf("%s: %v", side, err)
			}
			if held {
				mu.Lock()
				winners = append(winners, side)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return winners
}

// TestKubernetesLeaseRealServer: sides racing for a new Lease object, and
// later for the expired one, are decided by the API server (create is
// refused to all but one, updates carry the resourceVersion read): one wins
// each time. The holder keeps it; after its TTL another takes it over.
func TestKubernetesLeaseRealServer(t *testing.T) {
	srv := kubeapi.Shared(t)
	admin, _ := kubeapi.Client(t, srv.Config())
	ns := kubeapi.NewNamespace(t, admin)
	l, err := lease.NewKubernetes(admin, ns, "shop-split-brain", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sides := []string{"a", "b", "c", "d", "e", "f"}
	winners := race(t, l, sides...)
	if len(winners) != 1 {
		t.Fatalf("winners of a new lease %v; want exactly one", winners)
	}
	first := winners[0]
	if held, err := l.Acquire(ctx(t), first); err != nil || !held {
		t.Fatalf("the holder again: %v %v", held, err)
	}
	obj, err := admin.CoordinationV1().Leases(ns).Get(ctx(t), "shop-split-brain", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h, d := obj.Spec.HolderIdentity, obj.Spec.LeaseDurationSeconds; h == nil || *h != first || d == nil || *d != 1 {
		t.Fatalf("Lease spec %+v; want holder %s for 1s", obj.Spec, first)
	}

	// Expired: the others race again, from the same resourceVersion.
	var others []string
	for _, s := range sides {
		if s != first {
			others = append(others, s)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		winners = race(t, l, others...)
		if len(winners) > 1 {
			t.Fatalf("winners of the expired lease %v; want one", winners)
		}
		if len(winners) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease never expired")
		}
		time.Sleep(50 * time.Millisecond) // polling the lease for its expiry
	}
	if held, err := l.Acquire(ctx(t), first); err != nil || held {
		t.Fatalf("the former holder after the take-over: %v %v; want refused", held, err)
	}

	// The members of one side all ask with the same owner (the side's
	// lowest member id): those that lose the race to create the Lease, or
	// to update it, still hold it.
	same := make([]string, 6)
	for i := range same {
		same[i] = "side-x"
	}
	fresh, err := lease.NewKubernetes(admin, ns, "one-side", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if winners := race(t, fresh, same...); len(winners) != len(same) {
		t.Fatalf("%d of %d members of one side hold a new lease; want all", len(winners), len(same))
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		winners := race(t, fresh, "y", "y", "y", "y")
		if len(winners) == 4 {
			break
		}
		if len(winners) != 0 {
			t.Fatalf("%d of 4 members of one side hold the expired lease; want all or none", len(winners))
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease never expired")
		}
		time.Sleep(50 * time.Millisecond) // polling the lease for its expiry
	}
}

// TestKubernetesLeaseRefusedByRBAC: a service account without any grant on
// leases gets lease.ErrUnavailable carrying the API server's refusal, never
// "held" nor "refused".
func TestKubernetesLeaseRefusedByRBAC(t *testing.T) {
	srv := kubeapi.Shared(t)
	admin, _ := kubeapi.Client(t, srv.Config())
	ns := kubeapi.NewNamespace(t, admin)
	token, err := kubeapi.ServiceAccountToken(ctx(t), admin, ns, "member")
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	cfg.BearerToken = token
	member, _ := kubeapi.Client(t, cfg)
	l, err := lease.NewKubernetes(member, ns, "shop-split-brain", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	held, err := l.Acquire(ctx(t), "a")
	if held || !errors.Is(err, lease.ErrUnavailable) || !strings.Contains(err.Error(), `cannot get resource "leases"`) || !strings.Contains(err.Error(), ns+"/shop-split-brain") {
		t.Fatalf("Acquire without RBAC: %v %v; want ErrUnavailable naming the lease and the refused get", held, err)
	}
}

// TestLeaseMajorityOnRealKubernetes: three members with lease-majority on a
// real Lease object; one is cut off. The two that still see each other
// take the lease and remove it; the cut-off one asks later, is refused by
// the lease, and downs itself. The Lease names one of the two.
func TestLeaseMajorityOnRealKubernetes(t *testing.T) {
	srv := kubeapi.Shared(t)
	admin, _ := kubeapi.Client(t, srv.Config())
	ns := kubeapi.NewNamespace(t, admin)
	l, err := lease.NewKubernetes(admin, ns, "clustertest-split-brain", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// AcquireDelay is the production preset's. The cut-off member fails
	// every probe and so may see the others unreachable before they see it
	// (each probes it only every other interval), then they wait
	// StableAfter, then ask the API server: a delay of a few hundred
	// milliseconds, as in cluster's TestLeaseMajority with a lease in
	// memory, lets the cut-off member win now and then.
	c := clustertest.Start(t, 3, clustertest.Options{SplitBrain: cluster.ResolverConfig{
		Strategy: cluster.LeaseMajority, Lease: l, AcquireDelay: 2 * time.Second}})
	lone := c.Member(2)
	c.Isolate(2)
	clustertest.Eventually(t, func() bool {
		return lone.Membership.Status() == cluster.Downed &&
			len(c.Member(0).Membership.Members()) == 2 && len(c.Member(1).Membership.Members()) == 2
	}, 15*time.Second, "the majority holds the lease and removes the cut-off member, which downs itself")
	obj, err := admin.CoordinationV1().Leases(ns).Get(context.Background(), "clustertest-split-brain", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	holder := ""
	if obj.Spec.HolderIdentity != nil {
		holder = *obj.Spec.HolderIdentity
	}
	if holder != c.Member(0).Membership.Self().ID && holder != c.Member(1).Membership.Self().ID {
		t.Fatalf("the Lease is held by %q; want member 0 (%s) or 1 (%s), not the cut-off %s",
			holder, c.Member(0).Membership.Self().ID, c.Member(1).Membership.Self().ID, lone.Membership.Self().ID)
	}
}
