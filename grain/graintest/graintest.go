package graintest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/grain"
)

// Options configures a grain test cluster. Zero values are the defaults.
type Options struct {
	// Cluster configures the members (timing, logger, name, secret); its
	// Kinds and Layer are set by this package.
	Cluster clustertest.Options
	// Kinds returns the kinds member index declares (hosted ones have New).
	// Required.
	Kinds func(index int) []grain.Kind
	// Labels returns member index's labels. Nil: none.
	Labels func(index int) map[string]string
	// Config adjusts each member's grain.Config (timeouts). Nil: defaults,
	// with SerializeMessages on: a message that could not cross members
	// fails even when caller and grain share a member.
	Config func(index int, c *grain.Config)
}

// Cluster is a clustertest.Cluster whose members host grains.
type Cluster struct {
	*clustertest.Cluster
	mu    sync.Mutex
	hosts map[int]*grain.Host
}

// Start starts n members with grain hosts and waits until every member sees
// all n.
func Start(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	c := &Cluster{hosts: map[int]*grain.Host{}}
	co := o.Cluster
	co.Layer = func(i int) clustertest.Layer { return &layer{c: c, o: o, co: &co, index: i} }
	if co.Name == "" {
		co.Name = "clustertest"
	}
	if co.Secret == "" {
		co.Secret = "clustertest-secret"
	}
	c.Cluster = clustertest.Start(t, n, co)
	// Membership views agree now; each grain host applies membership
	// events on its own goroutine, so wait until the hosts have too (a call
	// made in between is placed on a smaller view).
	c.WaitViews(t, n, 10*time.Second)
	return c
}

// Host returns the grain host of member index (stopped ones included).
func (c *Cluster) Host(index int) *grain.Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[index]
}

// Hosts returns the hosts of the running members.
func (c *Cluster) Hosts() []*grain.Host {
	var out []*grain.Host
	for _, m := range c.Running() {
		out = append(out, c.Host(m.Index))
	}
	return out
}

// WaitViews waits until every running host's view has n members.
func (c *Cluster) WaitViews(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	clustertest.Eventually(t, func() bool {
		for _, h := range c.Hosts() {
			if h.ViewSize() != n {
				return false
			}
		}
		return true
	}, timeout, fmt.Sprintf("every grain host sees %d members", n))
}

// WaitServing waits until every running member serves (joined, not
// fenced or downed) and their views agree on the same members.
func (c *Cluster) WaitServing(t testing.TB, timeout time.Duration) {
	t.Helper()
	clustertest.Eventually(t, func() bool {
		var first []string
		for _, m := range c.Running() {
			v := m.Membership.View()
			if v.Self != cluster.Serving {
				return false
			}
			var ids []string
			for _, x := range v.Members {
				if x.Status != cluster.Up {
					return false
				}
				ids = append(ids, x.ID)
			}
			slices.Sort(ids)
			if first == nil {
				first = ids
			} else if !slices.Equal(first, ids) {
				return false
			}
		}
		return true
	}, timeout, "every member serves and the views agree")
}

type layer struct {
	c     *Cluster
	o     Options
	co    *clustertest.Options
	index int
	h     *grain.Host
	kinds []grain.Kind
}

func (l *layer) Prepare(m *clustertest.Member, self *cluster.Member) error {
	if l.o.Labels != nil {
		maps.Copy(self.Labels, l.o.Labels(l.index))
	}
	l.kinds = l.o.Kinds(l.index)
	for _, k := range l.kinds {
		if k.New != nil && !slices.Contains(self.Kinds, k.Name) {
			self.Kinds = append(self.Kinds, k.Name)
		}
	}
	return nil
}

func (l *layer) Start(m *clustertest.Member) error {
	cfg := grain.Config{Kinds: l.kinds, Logger: l.co.Logger, SerializeMessages: true}
	if l.o.Config != nil {
		l.o.Config(l.index, &cfg)
	}
	h, err := grain.NewHost(m.System, m.Membership, cfg)
	if err != nil {
		return err
	}
	if err := h.Start(context.Background()); err != nil {
		return err
	}
	l.h = h
	l.c.mu.Lock()
	l.c.hosts[l.index] = h
	l.c.mu.Unlock()
	return nil
}

func (l *layer) Stop(ctx context.Context) error {
	if l.h == nil {
		return nil
	}
	return l.h.Stop(ctx)
}

func (l *layer) Abort() {
	if l.h != nil {
		l.h.Abort()
	}
}
