package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/pubsub"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sharedInterest is an in-process stand-in for the replicated interest:
// one map shared by every member of a test, consistent at once. The
// cluster tests of crdt_test.go use the real replicator.
type sharedInterest struct {
	mu sync.Mutex
	m  map[string]map[string]bool
}

func (s *sharedInterest) Set(topic, entry string, present bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]map[string]bool{}
	}
	if s.m[topic] == nil {
		s.m[topic] = map[string]bool{}
	}
	if present {
		s.m[topic][entry] = true
	} else {
		delete(s.m[topic], entry)
	}
	return nil
}

func (s *sharedInterest) Forget(member string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, es := range s.m {
		for e := range es {
			if e == member || strings.HasPrefix(e, member+"|") {
				delete(es, e)
			}
		}
	}
	return nil
}

func (s *sharedInterest) Entries(topic string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for e := range s.m[topic] {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// layer attaches a PubSub to each clustertest member.
type layer struct {
	interest pubsub.Interest
	ps       *pubsub.PubSub
}

func (l *layer) Prepare(*clustertest.Member, *cluster.Member) error { return nil }

func (l *layer) Start(m *clustertest.Member) error {
	ps, err := pubsub.New(m.System, m.Membership, l.interest, pubsub.Config{})
	if err != nil {
		return err
	}
	l.ps = ps
	return ps.Start(context.Background())
}

func (l *layer) Stop(ctx context.Context) error {
	if l.ps == nil {
		return nil
	}
	return l.ps.Stop(ctx)
}

func (l *layer) Abort() {
	if l.ps != nil {
		_ = l.ps.Stop(context.Background())
	}
}

// env is a test cluster with a PubSub per member.
type env struct {
	c        *clustertest.Cluster
	ps       []*pubsub.PubSub
	interest *sharedInterest
}

func (e env) id(i int) string            { return e.c.Member(i).Membership.Self().ID }
func (e env) system(i int) *actor.System { return e.c.Member(i).System }

func start(t *testing.T, n int) env {
	t.Helper()
	in := &sharedInterest{}
	var layers []*layer
	var mu sync.Mutex
	c := clustertest.Start(t, n, clustertest.Options{Layer: func(int) clustertest.Layer {
		l := &layer{interest: in}
		mu.Lock()
		layers = append(layers, l)
		mu.Unlock()
		return l
	}})
	var out []*pubsub.PubSub
	for _, l := range layers {
		out = append(out, l.ps)
	}
	return env{c: c, ps: out, interest: in}
}

// inbox collects what a SubscribeFunc receives.
type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (b *inbox) add(m pubsub.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, m.Payload.(*wrapperspb.StringValue).Value)
}

func (b *inbox) get() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.msgs)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A publish on one member reaches subscribers on every member, in each
// publisher's order; PublishLocal stays on its member; Direct reaches one.
func TestPublishAcrossMembersInOrder(t *testing.T) {
	e := start(t, 3)
	ps := e.ps
	boxes := make([]*inbox, 3)
	for i := range ps {
		boxes[i] = &inbox{}
		if _, err := ps[i].SubscribeFunc("news", boxes[i].add); err != nil {
			t.Fatal(err)
		}
	}
	const n = 200
	for i := 0; i < n; i++ {
		if err := ps[0].Publish(ctxT(t), "news", wrapperspb.String(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range boxes {
		clustertest.Eventually(t, func() bool { return len(b.get()) == n }, 5*time.Second, fmt.Sprintf("member %d got %d messages", i, n))
		for j, m := range b.get() {
			if m != fmt.Sprint(j) {
				t.Fatalf("member %d: message %d is %s: out of order", i, j, m)
			}
		}
	}
	if err := ps[1].PublishLocal(ctxT(t), "news", wrapperspb.String("local")); err != nil {
		t.Fatal(err)
	}
	if err := ps[0].Direct(ctxT(t), e.id(2), "news", wrapperspb.String("direct")); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		return slices.Contains(boxes[1].get(), "local") && slices.Contains(boxes[2].get(), "direct")
	}, 5*time.Second, "the local and the direct message arrive")
	if slices.Contains(boxes[0].get(), "local") || slices.Contains(boxes[2].get(), "local") ||
		slices.Contains(boxes[0].get(), "direct") || slices.Contains(boxes[1].get(), "direct") {
		t.Fatal("a local or direct message reached another member")
	}
}

// Groups: each message reaches exactly one subscriber of each group,
// cluster-wide, and plain subscribers all.
func TestGroupsGetEachMessageOnce(t *testing.T) {
	ps := start(t, 3).ps
	var mu sync.Mutex
	got := map[string]int{} // message -> deliveries to group g
	plain := &inbox{}
	for i := range ps {
		for j := 0; j < 2; j++ {
			if _, err := ps[i].SubscribeFunc("jobs", func(m pubsub.Message) {
				mu.Lock()
				got[m.Payload.(*wrapperspb.StringValue).Value]++
				mu.Unlock()
			}, pubsub.InGroup("workers")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := ps[2].SubscribeFunc("jobs", plain.add); err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := 0; i < n; i++ {
		if err := ps[i%3].Publish(ctxT(t), "jobs", wrapperspb.String(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n && len(plain.get()) == n
	}, 5*time.Second, "every job delivered to the group and to the plain subscriber")
	mu.Lock()
	defer mu.Unlock()
	for m, k := range got {
		if k != 1 {
			t.Fatalf("job %s reached the group %d times", m, k)
		}
	}
}

// A process subscriber gets messages by Tell; its exit ends the
// subscription everywhere (nothing more is sent to its member for it).
func TestProcessSubscriberDeathEndsSubscription(t *testing.T) {
	e := start(t, 2)
	ps := e.ps
	got := make(chan string, 16)
	node := e.system(1)
	pid, err := node.Spawn(func(ctx actor.Context) {
		if s, ok := ctx.Message().(*wrapperspb.StringValue); ok {
			got <- s.Value
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps[1].Subscribe("t", pid); err != nil {
		t.Fatal(err)
	}
	if err := ps[0].Publish(ctxT(t), "t", wrapperspb.String("one")); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "one" {
			t.Fatal(v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the process subscriber got nothing")
	}
	if err := node.Kill(pid); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { return len(e.interest.Entries("t")) == 0 }, 5*time.Second, "the dead subscriber's interest is withdrawn")
}

func TestBadInput(t *testing.T) {
	ps := start(t, 1).ps
	p := ps[0]
	if _, err := p.SubscribeFunc("", func(pubsub.Message) {}); !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("empty topic: %v", err)
	}
	if _, err := p.SubscribeFunc("a|b", func(pubsub.Message) {}); !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("topic with |: %v", err)
	}
	if _, err := p.SubscribeFunc("t", nil); !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("nil handler: %v", err)
	}
	if _, err := p.Subscribe("t", nil); !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("nil pid: %v", err)
	}
	if _, err := p.Subscribe("t", &actor.PID{Address: "10.0.0.1:7350", Id: "x"}); !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("remote pid: %v", err)
	}
	if err := p.Publish(ctxT(t), "t", nil); !errors.Is(err, pubsub.ErrInvalid) {
		t.Fatalf("nil message: %v", err)
	}
	if err := p.Direct(ctxT(t), "nobody", "t", wrapperspb.String("x")); !errors.Is(err, pubsub.ErrUnknownMember) {
		t.Fatalf("unknown member: %v", err)
	}
	s, err := p.SubscribeFunc("t", func(pubsub.Message) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(); err != nil {
		t.Fatal("Unsubscribe twice:", err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctxT(t), "t", wrapperspb.String("x")); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("after Stop: %v", err)
	}
	if _, err := p.SubscribeFunc("t", func(pubsub.Message) {}); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("subscribe after Stop: %v", err)
	}
}
