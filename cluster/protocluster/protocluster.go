package protocluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/provider"
)

// ErrClientMode: StartClient is not supported; every proto.actor cluster
// using this provider is a full member.
var ErrClientMode = errors.New("protocluster: client mode is not supported")

// Provider is a proto.actor ClusterProvider backed by a Foundation provider
// and Membership.
type Provider struct {
	p   provider.Provider
	cfg cluster.MembershipConfig

	mu          sync.Mutex
	m           *cluster.Membership
	cancel      func()
	wg          sync.WaitGroup
	incarnation map[string]int  // foundation id -> times re-admitted after removal
	removed     map[string]bool // foundation ids currently removed
}

var _ pcluster.ClusterProvider = (*Provider)(nil)

// NewProvider returns a ClusterProvider. cfg gives the cluster port (Bind:
// the provider's addresses are cluster ports), SWIM's timing, the
// split-brain resolver, the secret and the logger; its Cluster, Self.ID,
// Self.Address and Self.Kinds are taken from the proto.actor cluster at
// StartMember. A bad cfg or a nil p is an error wrapping
// cluster.ErrMembershipConfig here: proto.actor panics on an error from
// StartMember.
func NewProvider(p provider.Provider, cfg cluster.MembershipConfig) (*Provider, error) {
	check := cfg
	if check.Cluster == "" {
		check.Cluster = "from-proto.actor" // filled in at StartMember
	}
	check.Self.Address = "127.0.0.1:1" // likewise
	err := check.Validate()
	if p == nil {
		err = errors.Join(err, fmt.Errorf("%w: provider: must not be nil", cluster.ErrMembershipConfig))
	}
	if err != nil {
		return nil, fmt.Errorf("protocluster: NewProvider: %w", err)
	}
	return &Provider{p: p, cfg: cfg, incarnation: map[string]int{}, removed: map[string]bool{}}, nil
}

// Membership returns the running Membership (nil before StartMember).
func (a *Provider) Membership() *cluster.Membership {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m
}

// StartMember starts membership on the proto.actor member's address.
func (a *Provider) StartMember(c *pcluster.Cluster) error {
	cfg := a.cfg
	if cfg.Cluster == "" {
		cfg.Cluster = c.Config.Name
	}
	cfg.Self.ID = c.ActorSystem.ID
	cfg.Self.Address = c.ActorSystem.Address()
	cfg.Self.Kinds = c.GetClusterKinds()
	m, err := cluster.NewMembership(cfg, a.p)
	if err != nil {
		return err
	}
	events, cancel := m.Subscribe(1024)
	if err := m.Start(context.Background()); err != nil {
		cancel()
		return err
	}
	a.mu.Lock()
	a.m, a.cancel = m, cancel
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.push(c, m)
		for ev := range events {
			switch ev.Kind {
			case cluster.Joined, cluster.Left, cluster.Removed:
				a.mu.Lock()
				if ev.Kind == cluster.Joined && a.removed[ev.Member.ID] {
					a.incarnation[ev.Member.ID]++
					delete(a.removed, ev.Member.ID)
				}
				if ev.Kind != cluster.Joined {
					a.removed[ev.Member.ID] = true
				}
				a.mu.Unlock()
				a.push(c, m)
			}
		}
	}()
	return nil
}

// push gives proto.actor the current view (unreachable members stay until
// Foundation removes them: proto.actor would block them forever).
func (a *Provider) push(c *pcluster.Cluster, m *cluster.Membership) {
	var members pcluster.Members
	for _, mem := range m.Members() {
		host, port, err := net.SplitHostPort(mem.Address)
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(port)
		id := mem.ID
		a.mu.Lock()
		if n := a.incarnation[mem.ID]; n > 0 {
			id = fmt.Sprintf("%s~%d", mem.ID, n)
		}
		a.mu.Unlock()
		members = append(members, &pcluster.Member{Host: host, Port: int32(p), Id: id, Kinds: mem.Kinds})
	}
	c.MemberList.UpdateClusterTopology(members)
}

// StartClient is not supported.
func (a *Provider) StartClient(*pcluster.Cluster) error { return ErrClientMode }

// Shutdown leaves the cluster (gracefully: peers see "left") and stops.
func (a *Provider) Shutdown(graceful bool) error {
	a.mu.Lock()
	m, cancel := a.m, a.cancel
	a.m, a.cancel = nil, nil
	a.mu.Unlock()
	if m == nil {
		return nil
	}
	var err error
	if graceful {
		ctx, c := context.WithTimeout(context.Background(), time.Second)
		err = m.Stop(ctx)
		c()
	} else {
		m.Abort()
	}
	cancel()
	a.wg.Wait()
	return err
}
