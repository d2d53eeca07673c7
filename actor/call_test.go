package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/internal/protos"
)

// holder keeps every call for a deferred reply that never comes, and tells
// entered when it holds one.
type holder struct {
	actor.ServerBase
	entered chan struct{}
}

func (h *holder) HandleCall(actor.Process, any) (any, error) {
	h.entered <- struct{}{}
	return actor.NoReply, nil
}

// TestCallContextErrors: on the local and the remote path, a canceled ctx
// is ErrCanceled and context.Canceled, never ErrTimeout; a deadline is
// ErrTimeout and context.DeadlineExceeded, never ErrCanceled; whether ctx
// ends before the call or while the callee holds it for a deferred reply.
func TestCallContextErrors(t *testing.T) {
	a := start(t, actor.WithRemote("127.0.0.1:0"))
	b := start(t, actor.WithRemote("127.0.0.1:0"))
	h := &holder{entered: make(chan struct{}, 16)}
	localPID, err := a.Spawn(h)
	if err != nil {
		t.Fatal(err)
	}
	remotePID, err := b.Spawn(h)
	if err != nil {
		t.Fatal(err)
	}
	canceled := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, actor.ErrCanceled) || !errors.Is(err, context.Canceled) ||
			errors.Is(err, actor.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v; want ErrCanceled and context.Canceled, not ErrTimeout", err)
		}
	}
	timedOut := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, actor.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, actor.ErrCanceled) || errors.Is(err, context.Canceled) {
			t.Fatalf("got %v; want ErrTimeout and context.DeadlineExceeded, not ErrCanceled", err)
		}
	}
	held := func(t *testing.T, ctx context.Context, pid *actor.PID, end func()) error {
		t.Helper()
		errc := make(chan error, 1)
		go func() {
			_, err := actor.Call[*protos.Pong](ctx, a, pid, &protos.Ping{Text: "hold"})
			errc <- err
		}()
		select {
		case <-h.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the callee never received the call")
		}
		end()
		select {
		case err := <-errc:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Call did not return after its ctx ended")
			return nil
		}
	}
	for _, tc := range []struct {
		where string
		pid   *actor.PID
	}{{"local", localPID}, {"remote", remotePID}} {
		t.Run(tc.where+"/canceled before", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := actor.Call[*protos.Pong](ctx, a, tc.pid, &protos.Ping{})
			canceled(t, err)
		})
		t.Run(tc.where+"/deadline before", func(t *testing.T) {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			_, err := actor.Call[*protos.Pong](ctx, a, tc.pid, &protos.Ping{})
			timedOut(t, err)
		})
		t.Run(tc.where+"/canceled while held", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			canceled(t, held(t, ctx, tc.pid, cancel))
		})
		t.Run(tc.where+"/deadline while held", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			timedOut(t, held(t, ctx, tc.pid, func() {}))
		})
		t.Run(tc.where+"/cause does not change the kind", func(t *testing.T) {
			// WithCancelCause and WithTimeoutCause keep ctx.Err() the
			// plain context error; only context.Cause differs.
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(errors.New("caller gave up"))
			_, err := actor.Call[*protos.Pong](ctx, a, tc.pid, &protos.Ping{})
			canceled(t, err)
			tctx, tcancel := context.WithDeadlineCause(context.Background(), time.Now().Add(-time.Second), errors.New("budget spent"))
			defer tcancel()
			_, err = actor.Call[*protos.Pong](tctx, a, tc.pid, &protos.Ping{})
			timedOut(t, err)
		})
	}
}
