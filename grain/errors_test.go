package grain_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/grain"
)

var errDB = errors.New("database is down")

// slow blocks on a channel message until released or its context ends.
type slow struct{ release chan struct{} }

func (s *slow) Receive(ctx *grain.Context, msg any) (any, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return wrapperspb.String("late"), nil
}

func TestErrors(t *testing.T) {
	reg := newRegistry()
	release := make(chan struct{})
	defer close(release)
	c := startCluster(t, 2, func(i int) []grain.Kind {
		bad := grain.Kind{Name: "bad", New: func(string) grain.Grain { return &counter{reg: reg, failActivate: errDB} }}
		return []grain.Kind{
			counterKind(reg, "counter", grain.Partitioned),
			{Name: "slow", New: func(string) grain.Grain { return &slow{release: release} }},
			bad,
			{Name: "nobody"}, // declared, hosted nowhere
		}
	})
	h0, h1 := c.Host(0), c.Host(1)
	// An identity local to h0 and one remote from it, for each case.
	var local, remote string
	for i := 0; local == "" || remote == ""; i++ {
		id := string(rune('a' + i))
		if grain.Get[any](h0, "counter", id).Where() == h0.Self() {
			local = id
		} else {
			remote = id
		}
	}
	ctx := func(d time.Duration) context.Context { return ctxT(t, d) }

	t.Run("unknown kind", func(t *testing.T) {
		_, err := grain.Get[any](h0, "nope", "x").Call(ctx(time.Second), wrapperspb.Int64(1))
		if !errors.Is(err, grain.ErrUnknownKind) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("empty identity", func(t *testing.T) {
		_, err := grain.Get[any](h0, "counter", "").Call(ctx(time.Second), wrapperspb.Int64(1))
		if !errors.Is(err, grain.ErrInvalid) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no member for kind", func(t *testing.T) {
		_, err := grain.Get[any](h0, "nobody", "x").Call(ctx(time.Second), wrapperspb.Int64(1))
		if !errors.Is(err, grain.ErrNoMemberForKind) {
			t.Fatalf("got %v", err)
		}
	})
	for _, id := range []string{local, remote} {
		where := "local"
		if id == remote {
			where = "remote"
		}
		t.Run("activation failed "+where, func(t *testing.T) {
			_, err := grain.Get[any](h0, "bad", id).Call(ctx(2*time.Second), wrapperspb.Int64(1))
			if !errors.Is(err, grain.ErrActivationFailed) {
				t.Fatalf("got %v", err)
			}
			if where == "local" && grain.Get[any](h0, "bad", id).Where() == h0.Self() && !errors.Is(err, errDB) {
				t.Fatalf("local activation error does not wrap OnActivate's: %v", err)
			}
		})
		t.Run("timeout "+where, func(t *testing.T) {
			start := time.Now()
			_, err := grain.Get[any](h0, "slow", id).Call(ctx(200*time.Millisecond), wrapperspb.Int64(1))
			if !errors.Is(err, grain.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("timed out after %v", d)
			}
		})
		t.Run("grain error "+where, func(t *testing.T) {
			_, err := grain.Get[any](h0, "counter", id).Call(ctx(time.Second), wrapperspb.String("fail"))
			if err == nil || !contains(err.Error(), "asked to fail") {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("bad reply type "+where, func(t *testing.T) {
			_, err := grain.Get[*wrapperspb.BoolValue](h0, "counter", id).Call(ctx(time.Second), wrapperspb.Int64(1))
			if !errors.Is(err, grain.ErrBadReply) {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("not serializable remote", func(t *testing.T) {
		_, err := grain.Get[any](h0, "counter", remote).Call(ctx(time.Second), struct{ X int }{1})
		if !errors.Is(err, grain.ErrNotSerializable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("tell", func(t *testing.T) {
		before := get(t, h0, "counter", remote)
		if err := grain.Get[any](h0, "counter", remote).Tell(context.Background(), wrapperspb.Int64(5)); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return get(t, h1, "counter", remote) == before+5 }, 5*time.Second, "tell delivered")
		if err := grain.Get[any](h0, "nobody", "x").Tell(context.Background(), wrapperspb.Int64(1)); !errors.Is(err, grain.ErrNoMemberForKind) {
			t.Fatalf("tell to a kind nobody hosts: %v", err)
		}
	})
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || index(s, sub) >= 0) }

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestBadConfig(t *testing.T) {
	kind := func(k grain.Kind) grain.Config { return grain.Config{Kinds: []grain.Kind{k}} }
	cases := []struct {
		name string
		cfg  grain.Config
		want string
	}{
		{"empty name", kind(grain.Kind{}), "Kind.Name"},
		{"role without labels", kind(grain.Kind{Name: "r", Placement: grain.Role}), "Kind.Role"},
		{"unknown placement", kind(grain.Kind{Name: "p", Placement: grain.Placement(42)}), "Placement"},
		{"negative timeout", grain.Config{CallTimeout: -1}, "Config.CallTimeout"},
		{"retry max below min", grain.Config{RetryMin: time.Second, RetryMax: time.Millisecond}, "Config.RetryMax"},
		{"kind declared twice", grain.Config{Kinds: []grain.Kind{{Name: "k"}, {Name: "k"}}}, "declared twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, 1, func(int) []grain.Kind { return nil })
			m := c.Member(0)
			_, err := grain.NewHost(m.System, m.Membership, tc.cfg)
			if !errors.Is(err, grain.ErrInvalid) || !contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalid naming %q", err, tc.want)
			}
		})
	}
}
