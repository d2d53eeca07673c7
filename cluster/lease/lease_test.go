package lease_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/foundation-go/foundation/cluster/lease"
	"github.com/foundation-go/foundation/internal/kubeapi"
	"github.com/foundation-go/foundation/provider/etcd/etcdtest"
)

// TestMain checks for leaked goroutines once the tests and the API server
// that the real-server tests share (kubeapi.Shared) have stopped.
func TestMain(m *testing.M) { kubeapi.Main(m) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// Two sides ask for the lease: the first wins, the second is refused, the
// winner asking again still holds it; after the TTL it is free again.
func TestEtcdLease(t *testing.T) {
	srv := etcdtest.Start(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	l, err := lease.NewEtcd(cli, "/test/split-brain", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := l.Acquire(ctx(t), "side-a"); err != nil || !held {
		t.Fatalf("first: %v %v", held, err)
	}
	if held, err := l.Acquire(ctx(t), "side-b"); err != nil || held {
		t.Fatalf("second side: %v %v, want refused", held, err)
	}
	if held, err := l.Acquire(ctx(t), "side-a"); err != nil || !held {
		t.Fatalf("the holder again: %v %v", held, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		held, err := l.Acquire(ctx(t), "side-b")
		if err != nil {
			t.Fatal(err)
		}
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease never expired")
		}
		time.Sleep(50 * time.Millisecond) // polling the store for the TTL's end
	}
}

// The Kubernetes lease on client-go's fake clientset: the same three
// answers, an expired holder is replaced, and a store error is
// ErrUnavailable.
func TestKubernetesLease(t *testing.T) {
	c := fake.NewSimpleClientset()
	l, err := lease.NewKubernetes(c, "default", "shop-split-brain", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := l.Acquire(ctx(t), "side-a"); err != nil || !held {
		t.Fatalf("first: %v %v", held, err)
	}
	if held, err := l.Acquire(ctx(t), "side-b"); err != nil || held {
		t.Fatalf("second side: %v %v, want refused", held, err)
	}
	if held, err := l.Acquire(ctx(t), "side-a"); err != nil || !held {
		t.Fatalf("the holder again: %v %v", held, err)
	}
	later, err := lease.NewKubernetes(c, "default", "shop-split-brain", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lease.SetClock(later, func() time.Time { return time.Now().Add(time.Minute) })
	if held, err := later.Acquire(ctx(t), "side-b"); err != nil || !held {
		t.Fatalf("after the holder's lease expired: %v %v", held, err)
	}
	// The API refuses (RBAC without leases): ErrUnavailable naming the
	// lease, never "held".
	c.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "shop-split-brain", errors.New("RBAC"))
	})
	if held, err := l.Acquire(ctx(t), "side-a"); held || !errors.Is(err, lease.ErrUnavailable) || !strings.Contains(err.Error(), "default/shop-split-brain") {
		t.Fatalf("forbidden: %v %v", held, err)
	}
}

func TestBadArguments(t *testing.T) {
	if _, err := lease.NewEtcd(nil, "k", time.Second); !errors.Is(err, lease.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := lease.NewKubernetes(fake.NewSimpleClientset(), "", "n", time.Second); !errors.Is(err, lease.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := lease.NewKubernetes(fake.NewSimpleClientset(), "ns", "n", time.Millisecond); !errors.Is(err, lease.ErrInvalid) {
		t.Fatal(err)
	}
}
