package grain_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/grain"
)

// headerGrain answers a call with its request-id header and the member it
// runs on, and records what OnActivate saw.
type headerGrain struct{}

func (headerGrain) OnActivate(c *grain.Context) error {
	if h := c.Header("request-id"); h != "" {
		return fmt.Errorf("OnActivate saw header %q", h)
	}
	return nil
}

func (headerGrain) Receive(c *grain.Context, _ any) (any, error) {
	return wrapperspb.String(c.Header("request-id") + "@" + c.Member()), nil
}

// TestCallHeadersReachTheGrain: headers attached to a call's ctx reach the
// grain whether it runs on the caller's member or another; a call without
// them sees none.
func TestCallHeadersReachTheGrain(t *testing.T) {
	c := startCluster(t, 2, func(int) []grain.Kind {
		return []grain.Kind{{Name: "hdr", New: func(string) grain.Grain { return headerGrain{} }}}
	})
	h0, h1 := c.Host(0), c.Host(1)
	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		id := fmt.Sprintf("id-%d", i)
		want := "req-" + id
		ctx := actor.WithHeaders(ctxT(t, 5*time.Second), actor.Headers{"request-id": want})
		got, err := grain.Get[*wrapperspb.StringValue](h0, "hdr", id).Call(ctx, wrapperspb.String("x"))
		if err != nil {
			t.Fatal(err)
		}
		member := h1.Self()
		if got.Value == want+"@"+h0.Self() {
			member = h0.Self()
		} else if got.Value != want+"@"+h1.Self() {
			t.Fatalf("%s answered %q, want %q at one of the members", id, got.Value, want)
		}
		seen[member] = true
		// The same grain, called without headers, sees none.
		plain, err := grain.Get[*wrapperspb.StringValue](h0, "hdr", id).Call(ctxT(t, 5*time.Second), wrapperspb.String("x"))
		if err != nil {
			t.Fatal(err)
		}
		if plain.Value != "@"+member {
			t.Fatalf("%s without headers answered %q", id, plain.Value)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("identities landed on %d member(s); want both, local and remote", len(seen))
	}
}

// tellHeaderGrain records the request-id header of each message it is told.
type tellHeaderGrain struct{ seen chan<- string }

func (g tellHeaderGrain) Receive(c *grain.Context, _ any) (any, error) {
	g.seen <- c.Header("request-id") + "@" + c.Member()
	return nil, nil
}

// TestTellHeadersReachTheGrain: Tell carries ctx's headers to the grain,
// on the caller's member and across members, for placed and sticky kinds.
func TestTellHeadersReachTheGrain(t *testing.T) {
	seen := make(chan string, 100)
	c := startCluster(t, 2, func(int) []grain.Kind {
		return []grain.Kind{
			{Name: "th", New: func(string) grain.Grain { return tellHeaderGrain{seen} }},
			{Name: "ths", Placement: grain.PreferLocal, New: func(string) grain.Grain { return tellHeaderGrain{seen} }},
		}
	})
	h0, h1 := c.Host(0), c.Host(1)
	for _, kind := range []string{"th", "ths"} {
		members := map[string]bool{}
		for i := 0; i < 40 && len(members) < 2; i++ {
			id := fmt.Sprintf("%s-%d", kind, i)
			want := "t-" + id
			ctx := actor.WithHeaders(ctxT(t, 5*time.Second), actor.Headers{"request-id": want})
			if err := grain.Get[any](h0, kind, id).Tell(ctx, wrapperspb.String("x")); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-seen:
				switch got {
				case want + "@" + h0.Self():
					members[h0.Self()] = true
				case want + "@" + h1.Self():
					members[h1.Self()] = true
				default:
					t.Fatalf("%s saw %q, want %q at a member", id, got, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: tell not delivered", id)
			}
		}
		if kind == "th" && len(members) != 2 {
			t.Fatalf("kind %s: tells landed on %d member(s); want local and remote", kind, len(members))
		}
	}
}
