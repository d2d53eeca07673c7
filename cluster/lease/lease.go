package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/foundation-go/foundation/cluster"
)

// Errors returned by this package. Compare with errors.Is.
var (
	// ErrInvalid: a constructor argument is missing or out of range; the
	// message names it.
	ErrInvalid = errors.New("lease: invalid argument")
	// ErrUnavailable: the lease store could not be reached or refused the
	// request (an etcd error, a Kubernetes API error such as a missing
	// RBAC permission on leases); the cause is wrapped.
	ErrUnavailable = errors.New("lease: store unavailable")
)

// Etcd is a cluster.Lease on an etcd key held by an etcd lease of TTL.
type Etcd struct {
	cli *clientv3.Client
	key string
	ttl time.Duration
}

var _ cluster.Lease = (*Etcd)(nil)

// NewEtcd returns a lease on key of the etcd cli, held for ttl (whole
// seconds, at least one) once acquired. The caller owns cli.
func NewEtcd(cli *clientv3.Client, key string, ttl time.Duration) (*Etcd, error) {
	switch {
	case cli == nil:
		return nil, fmt.Errorf("%w: etcd client is nil", ErrInvalid)
	case key == "":
		return nil, fmt.Errorf("%w: key is empty", ErrInvalid)
	case ttl < time.Second:
		return nil, fmt.Errorf("%w: ttl %v must be >= 1s (etcd grants whole seconds)", ErrInvalid, ttl)
	}
	return &Etcd{cli: cli, key: key, ttl: ttl}, nil
}

// Acquire takes the key for owner unless another owner holds it.
func (e *Etcd) Acquire(ctx context.Context, owner string) (bool, error) {
	g, err := e.cli.Grant(ctx, int64(e.ttl/time.Second))
	if err != nil {
		return false, fmt.Errorf("%w: etcd: granting a lease: %w", ErrUnavailable, err)
	}
	r, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(e.key), "=", 0)).
		Then(clientv3.OpPut(e.key, owner, clientv3.WithLease(g.ID))).
		Else(clientv3.OpGet(e.key)).
		Commit()
	if err != nil {
		return false, fmt.Errorf("%w: etcd: taking %s: %w", ErrUnavailable, e.key, err)
	}
	if r.Succeeded {
		return true, nil
	}
	_, _ = e.cli.Revoke(context.WithoutCancel(ctx), g.ID) // unused
	kvs := r.Responses[0].GetResponseRange().Kvs
	return len(kvs) == 1 && string(kvs[0].Value) == owner, nil
}

// Kubernetes is a cluster.Lease on a coordination.k8s.io/v1 Lease object.
type Kubernetes struct {
	c         kubernetes.Interface
	namespace string
	name      string
	ttl       time.Duration
	now       func() time.Time
}

var _ cluster.Lease = (*Kubernetes)(nil)

// NewKubernetes returns a lease on the Lease object name in namespace, held
// for ttl once acquired. The service account needs get, create and update
// on leases in the namespace.
func NewKubernetes(c kubernetes.Interface, namespace, name string, ttl time.Duration) (*Kubernetes, error) {
	switch {
	case c == nil:
		return nil, fmt.Errorf("%w: Kubernetes client is nil", ErrInvalid)
	case namespace == "" || name == "":
		return nil, fmt.Errorf("%w: namespace %q and name %q must not be empty", ErrInvalid, namespace, name)
	case ttl < time.Second:
		return nil, fmt.Errorf("%w: ttl %v must be >= 1s", ErrInvalid, ttl)
	}
	return &Kubernetes{c: c, namespace: namespace, name: name, ttl: ttl, now: time.Now}, nil
}

// Acquire takes the Lease for owner when it is free, expired, or already
// owner's; updates are conditional on the object's resourceVersion, so two
// sides never both win.
//
// A Lease held by another owner that expires within a short grace (a
// quarter of the ttl, at most 250ms) is waited for and asked again once:
// the members of one side ask at slightly different moments, and without
// the wait those asking just before the expiry would be refused while
// their side's first member after it takes the Lease.
func (k *Kubernetes) Acquire(ctx context.Context, owner string) (bool, error) {
	return k.acquire(ctx, owner, true)
}

// expiryGrace bounds the wait for a Lease about to expire.
const expiryGrace = 250 * time.Millisecond

func (k *Kubernetes) acquire(ctx context.Context, owner string, wait bool) (bool, error) {
	leases := k.c.CoordinationV1().Leases(k.namespace)
	now := metav1.NewMicroTime(k.now())
	secs := int32(k.ttl / time.Second)
	cur, err := leases.Get(ctx, k.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.name, Namespace: k.namespace},
			Spec:       coordv1.LeaseSpec{HolderIdentity: &owner, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
		}, metav1.CreateOptions{})
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsAlreadyExists(err):
			// Created first by another side, or by another member of this
			// side, which names the same owner.
			return k.heldBy(ctx, owner)
		}
		return false, fmt.Errorf("%w: kubernetes: creating lease %s/%s: %w", ErrUnavailable, k.namespace, k.name, err)
	}
	if err != nil {
		return false, fmt.Errorf("%w: kubernetes: reading lease %s/%s: %w", ErrUnavailable, k.namespace, k.name, err)
	}
	sp := cur.Spec
	held := sp.HolderIdentity != nil && *sp.HolderIdentity != ""
	if held && *sp.HolderIdentity == owner {
		return true, nil
	}
	if held && sp.RenewTime != nil && sp.LeaseDurationSeconds != nil {
		expiry := sp.RenewTime.Add(time.Duration(*sp.LeaseDurationSeconds) * time.Second)
		if left := expiry.Sub(k.now()); left > 0 {
			if !wait || left > min(expiryGrace, k.ttl/4) {
				return false, nil
			}
			t := time.NewTimer(left + 10*time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return false, nil
			case <-t.C:
			}
			return k.acquire(ctx, owner, false)
		}
	}
	next := cur.DeepCopy()
	next.Spec.HolderIdentity, next.Spec.LeaseDurationSeconds, next.Spec.AcquireTime, next.Spec.RenewTime = &owner, &secs, &now, &now
	if _, err := leases.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			// Taken meanwhile by another side, or renewed by another member
			// of this side.
			return k.heldBy(ctx, owner)
		}
		return false, fmt.Errorf("%w: kubernetes: updating lease %s/%s: %w", ErrUnavailable, k.namespace, k.name, err)
	}
	return true, nil
}

// heldBy reports whether the Lease names owner, after a create or update
// lost a race: every member of a side asks for the lease with the same
// owner, so the winner may have been a member of owner's own side.
func (k *Kubernetes) heldBy(ctx context.Context, owner string) (bool, error) {
	cur, err := k.c.CoordinationV1().Leases(k.namespace).Get(ctx, k.name, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("%w: kubernetes: reading lease %s/%s: %w", ErrUnavailable, k.namespace, k.name, err)
	}
	h := cur.Spec.HolderIdentity
	return h != nil && *h == owner, nil
}
