package foundation_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/pubsub"
)

// whoAmI answers a call with its request-id header and its member, and
// records the header of every cast.
type whoAmI struct {
	actor.ServerBase
	member string
	casts  chan string
}

func (w *whoAmI) HandleCall(p actor.Process, _ any) (any, error) {
	return wrapperspb.String(p.Header("request-id") + "@" + w.member), nil
}

func (w *whoAmI) HandleCast(p actor.Process, msg any) {
	if s, ok := msg.(*wrapperspb.StringValue); ok {
		w.casts <- s.Value + "|" + p.Header("request-id") + "@" + w.member
	}
}

type whoAmIGrain struct{}

func (whoAmIGrain) Receive(c *grain.Context, _ any) (any, error) {
	return wrapperspb.String(c.Header("request-id") + "@" + c.Member()), nil
}

// TestSendAndCallEveryTarget: one Send and one Call reach a process, a
// name here and on another member, a service, a topic and a grain, from
// any member, with the ctx's headers.
func TestSendAndCallEveryTarget(t *testing.T) {
	nodes := startNodes(t, 3, nil, foundation.WithGrains(grain.Kind{Name: "who", New: func(string) grain.Grain { return whoAmIGrain{} }}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool {
		for _, n := range nodes {
			if len(n.Membership.View().Up()) != 3 {
				return false
			}
		}
		return true
	}, 10*time.Second, "every member sees three Up")
	casts := make(chan string, 64)
	ids := make([]string, 3)
	for i, n := range nodes {
		ids[i] = n.Membership.Self().ID
		pid, err := n.System.Spawn(&whoAmI{member: ids[i], casts: casts})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.System.Register("who", pid); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if _, err := n.Services.Register(ctx, "who-svc", pid); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	got := map[string]string{} // member -> "payload|header"
	for i, n := range nodes[1:] {
		member := ids[i+1]
		if _, err := n.PubSub.SubscribeFunc("news", func(m pubsub.Message) {
			mu.Lock()
			defer mu.Unlock()
			got[member] = m.Payload.(*wrapperspb.StringValue).Value + "|" + m.Headers["request-id"]
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The registry and the interest replicate in a few milliseconds.
	clustertest.Eventually(t, func() bool {
		insts, err := nodes[0].Services.Discover("who-svc")
		return err == nil && len(insts) == 2
	}, 10*time.Second, "member 0 discovers both instances of who-svc")

	from := nodes[0]
	hctx := func(id string) context.Context {
		return actor.WithHeaders(ctx, actor.Headers{"request-id": id})
	}
	call := func(to foundation.Target, id string) string {
		t.Helper()
		r, err := foundation.Call[*wrapperspb.StringValue](hctx(id), from, to, wrapperspb.String("q"))
		if err != nil {
			t.Fatalf("Call %s: %v", to, err)
		}
		return r.Value
	}
	remote := nodes[2].System.Whereis("who")
	if v := call(foundation.ToPID(remote), "r1"); v != "r1@"+ids[2] {
		t.Fatalf("ToPID: %q", v)
	}
	if v := call(foundation.ToName("who"), "r2"); v != "r2@"+ids[0] {
		t.Fatalf("ToName: %q", v)
	}
	if v := call(foundation.ToNameOn(ids[1], "who"), "r3"); v != "r3@"+ids[1] {
		t.Fatalf("ToNameOn: %q", v)
	}
	if v := call(foundation.ToNameOn(ids[0], "who"), "r3b"); v != "r3b@"+ids[0] {
		t.Fatalf("ToNameOn self: %q", v)
	}
	svcSeen := map[string]bool{}
	for i := range 4 {
		id := fmt.Sprintf("s%d", i)
		v := call(foundation.ToService("who-svc"), id)
		switch v {
		case id + "@" + ids[1], id + "@" + ids[2]:
			svcSeen[v[len(id)+1:]] = true
		default:
			t.Fatalf("ToService: %q", v)
		}
	}
	if len(svcSeen) != 2 {
		t.Fatalf("round robin over the service reached %v, want both instances", svcSeen)
	}
	if v := call(foundation.ToGrain("who", "alice"), "g1"); len(v) < 3 || v[:3] != "g1@" {
		t.Fatalf("ToGrain: %q", v)
	}

	// Send: a cast to a name elsewhere and to a service, a publish.
	if err := from.Send(hctx("c1"), foundation.ToNameOn(ids[2], "who"), wrapperspb.String("cast")); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-casts:
		if c != "cast|c1@"+ids[2] {
			t.Fatalf("cast arrived as %q", c)
		}
	case <-ctx.Done():
		t.Fatal("the cast never arrived")
	}
	if err := from.Send(hctx("c2"), foundation.ToService("who-svc"), wrapperspb.String("svc-cast")); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-casts:
		if c != "svc-cast|c2@"+ids[1] && c != "svc-cast|c2@"+ids[2] {
			t.Fatalf("service cast arrived as %q", c)
		}
	case <-ctx.Done():
		t.Fatal("the service cast never arrived")
	}
	clustertest.Eventually(t, func() bool {
		return len(nodes[0].PubSub.Members("news")) == 2
	}, 10*time.Second, "member 0 knows both members' interest in news")
	if err := from.Send(hctx("p1"), foundation.ToTopic("news"), wrapperspb.String("hello")); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[ids[1]] == "hello|p1" && got[ids[2]] == "hello|p1"
	}, 10*time.Second, "both subscribers received the publish with its header")
	if err := from.Send(hctx("g2"), foundation.ToGrain("who", "alice"), wrapperspb.String("tell")); err != nil {
		t.Fatal(err)
	}
}

// TestSendAndCallRefuseBadTargets: every bad target or message is refused
// with the facade's sentinels, nothing sent.
func TestSendAndCallRefuseBadTargets(t *testing.T) {
	nodes := startNodes(t, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.Eventually(t, func() bool {
		return len(nodes[0].Membership.View().Up()) == 2 && len(nodes[1].Membership.View().Up()) == 2
	}, 10*time.Second, "both members see two Up")
	n := nodes[0]
	other, err := nodes[1].System.Spawn(&whoAmI{member: "x", casts: make(chan string, 1)})
	if err != nil {
		t.Fatal(err)
	}
	msg := wrapperspb.String("m")
	cases := []struct {
		to   foundation.Target
		msg  any
		want error
	}{
		{foundation.Target{}, msg, foundation.ErrInvalidTarget},
		{foundation.ToPID(nil), msg, foundation.ErrInvalidTarget},
		{foundation.ToName(""), msg, foundation.ErrInvalidTarget},
		{foundation.ToName("nobody"), msg, foundation.ErrUnknownTarget},
		{foundation.ToNameOn("", "x"), msg, foundation.ErrInvalidTarget},
		{foundation.ToNameOn("no-such-member", "x"), msg, foundation.ErrUnknownTarget},
		{foundation.ToService(""), msg, foundation.ErrInvalidTarget},
		{foundation.ToService("no-such-service"), msg, foundation.ErrUnknownTarget},
		{foundation.ToClient(nil), msg, foundation.ErrInvalidTarget},
		{foundation.ToTopic(""), msg, foundation.ErrInvalidTarget},
		{foundation.ToTopic("nobody-listens"), msg, foundation.ErrUnknownTarget},
		{foundation.ToGrain("who", "a"), msg, foundation.ErrNotEnabled},
		{foundation.ToPID(other), nil, foundation.ErrInvalidTarget},
		{foundation.ToPID(other), struct{ X int }{1}, actor.ErrNotSerializable},
	}
	for _, c := range cases {
		err := n.Send(ctx, c.to, c.msg)
		if !errors.Is(err, c.want) {
			t.Errorf("Send to %s (%T): %v, want %v", c.to, c.msg, err, c.want)
		}
		if c.to.String() == `topic "nobody-listens"` {
			continue // Call to a topic is refused as such, below
		}
		_, err = foundation.Call[*wrapperspb.StringValue](ctx, n, c.to, c.msg)
		if !errors.Is(err, c.want) {
			t.Errorf("Call to %s (%T): %v, want %v", c.to, c.msg, err, c.want)
		}
	}
	if _, err := foundation.Call[*wrapperspb.StringValue](ctx, n, foundation.ToTopic("t"), msg); !errors.Is(err, foundation.ErrInvalidTarget) {
		t.Errorf("Call to a topic: %v, want ErrInvalidTarget", err)
	}
	// A name nobody holds on another member: the call is not delivered.
	_, err = foundation.Call[*wrapperspb.StringValue](ctx, n, foundation.ToNameOn(nodes[1].Membership.Self().ID, "nobody"), msg)
	if !errors.Is(err, actor.ErrNoProcess) {
		t.Errorf("Call to a free name on another member: %v, want actor.ErrNoProcess", err)
	}
}
