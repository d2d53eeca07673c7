package grain_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/grain"
)

// held signals that it holds a call, then blocks until released or its
// context ends.
type held struct {
	entered chan string
	release chan struct{}
}

func (g *held) Receive(ctx *grain.Context, msg any) (any, error) {
	g.entered <- ctx.Identity()
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return wrapperspb.String("late"), nil
}

// TestCallCanceled: a call whose ctx is canceled fails with an error that
// matches context.Canceled and not grain.ErrTimeout, on every path: before
// any connection to the member exists (the dial fails and the retry loop
// sees the ctx end), and while a local or remote grain holds the call. A
// deadline stays ErrTimeout (TestErrors).
func TestCallCanceled(t *testing.T) {
	entered, release := make(chan string, 16), make(chan struct{})
	defer close(release)
	c := startCluster(t, 2, func(int) []grain.Kind {
		return []grain.Kind{{Name: "held", New: func(string) grain.Grain { return &held{entered: entered, release: release} }}}
	})
	h0 := c.Host(0)
	var local, remote string
	for i := 0; local == "" || remote == ""; i++ {
		id := string(rune('a' + i))
		if grain.Get[any](h0, "held", id).Where() == h0.Self() {
			local = id
		} else {
			remote = id
		}
	}
	check := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) || errors.Is(err, grain.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v; want an error matching context.Canceled and not grain.ErrTimeout", err)
		}
	}

	t.Run("canceled before the first call to a member", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := grain.Get[any](h0, "held", remote).Call(ctx, wrapperspb.Int64(1))
		check(t, err)
	})
	for _, id := range []string{local, remote} {
		where := "local"
		if id == remote {
			where = "remote"
		}
		t.Run("canceled while held "+where, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := grain.Get[any](h0, "held", id).Call(ctx, wrapperspb.Int64(1))
				errc <- err
			}()
			select {
			case got := <-entered:
				if got != id {
					t.Fatalf("grain %q entered, want %q", got, id)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the grain never received the call")
			}
			cancel()
			select {
			case err := <-errc:
				check(t, err)
			case <-time.After(5 * time.Second):
				t.Fatal("Call did not return after its ctx was canceled")
			}
		})
	}
}
