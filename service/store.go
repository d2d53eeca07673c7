package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/internal/protos"
)

// keyPrefix is the prefix of the registry's keys in the replicator: one
// LWWMap per service ("service/<name>"), from instance id to the
// instance's record.
const keyPrefix = "service/"

// NewStore returns a Store replicated by r (package crdt): one last-writer-
// wins map per service, written by the member that owns each record with
// consistency Local (a registration returns at once and reaches every
// member within the replicator's batch window, a few milliseconds; anti-
// entropy repairs what a lost frame missed). Reads are this member's
// replica. Close it (or stop r) when done.
func NewStore(r *crdt.Replicator) (*ReplicatedStore, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: NewStore: nil replicator", ErrInvalid)
	}
	return &ReplicatedStore{r: r, done: make(chan struct{})}, nil
}

// ReplicatedStore is the Store kept by a crdt.Replicator (NewStore).
type ReplicatedStore struct {
	r *crdt.Replicator

	mu     sync.Mutex
	fs     []func(string)
	sub    *crdt.Subscription
	done   chan struct{}
	wg     sync.WaitGroup
	closed bool
}

func serviceKey(name string) crdt.Key[*crdt.LWWMap[string, []byte]] {
	return crdt.LWWMapKey(keyPrefix+name, crdt.StringCodec(), crdt.BytesCodec())
}

// Put records inst.
func (s *ReplicatedStore) Put(ctx context.Context, inst Instance) error {
	b, err := proto.Marshal(&protos.ServiceInstance{
		Service: inst.Service, Member: inst.Member, PidAddress: inst.PID.Address, PidId: inst.PID.Id,
		Metadata: inst.Metadata, Capabilities: inst.Capabilities, Unhealthy: !inst.Healthy,
		RegisteredUnixNano: inst.Registered.UnixNano(),
	})
	if err != nil {
		return err
	}
	id := inst.ID()
	return crdt.Update(ctx, s.r, serviceKey(inst.Service), crdt.Local, func(m *crdt.LWWMap[string, []byte], op crdt.Op) {
		m.Put(op.Replica, id, b, op.Clock, op.Now)
	})
}

// Delete removes the record id of service.
func (s *ReplicatedStore) Delete(ctx context.Context, service, id string) error {
	return crdt.Update(ctx, s.r, serviceKey(service), crdt.Local, func(m *crdt.LWWMap[string, []byte], op crdt.Op) {
		if m.Contains(id) {
			m.Remove(op.Replica, id)
		}
	})
}

// List returns the records of service on this member's replica.
func (s *ReplicatedStore) List(service string) []Instance {
	m, err := crdt.Get(context.Background(), s.r, serviceKey(service), crdt.Local)
	if err != nil || m == nil {
		return nil
	}
	var out []Instance
	for _, b := range m.All() {
		var p protos.ServiceInstance
		if proto.Unmarshal(b, &p) != nil {
			continue
		}
		out = append(out, Instance{
			Service: p.Service, Member: p.Member, PID: &actor.PID{Address: p.PidAddress, Id: p.PidId},
			Metadata: p.Metadata, Capabilities: p.Capabilities, Healthy: !p.Unhealthy,
			Registered: time.Unix(0, p.RegisteredUnixNano),
		})
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.ID(), b.ID()) })
	return out
}

// Services lists the services with at least one record.
func (s *ReplicatedStore) Services() []string {
	var out []string
	for _, k := range s.r.Keys(keyPrefix + "*") {
		name := strings.TrimPrefix(k, keyPrefix)
		m, err := crdt.Get(context.Background(), s.r, serviceKey(name), crdt.Local)
		if err == nil && m != nil && m.Len() > 0 {
			out = append(out, name)
		}
	}
	return out
}

// OnChange registers f, called with a service's name when its records
// change on this member's replica (a local write or a peer's merged). The
// first call subscribes to the replicator, which must be running.
func (s *ReplicatedStore) OnChange(f func(service string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.fs = append(s.fs, f)
	if s.sub != nil {
		return
	}
	sub, err := s.r.Subscribe(keyPrefix + "*")
	if err != nil {
		return
	}
	s.sub = sub
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.done:
				return
			case ch, ok := <-sub.C():
				if !ok {
					return
				}
				s.mu.Lock()
				fs := slices.Clone(s.fs)
				s.mu.Unlock()
				for _, k := range ch.Keys {
					for _, f := range fs {
						f(strings.TrimPrefix(k, keyPrefix))
					}
				}
			}
		}
	}()
}

// Close ends the change notifications. Idempotent.
func (s *ReplicatedStore) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	sub := s.sub
	s.mu.Unlock()
	if sub != nil {
		sub.Close()
	}
	s.wg.Wait()
}
