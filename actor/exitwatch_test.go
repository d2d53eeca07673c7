package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foundation-go/foundation/actor"
)

// slowTerminate signals when its Terminate starts and finishes it only when
// released.
type slowTerminate struct {
	actor.ServerBase
	in, release chan struct{}
}

func (s *slowTerminate) Terminate(actor.Process, actor.Reason) {
	close(s.in)
	<-s.release
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func registered(s *actor.System) int {
	n := 0
	for _, b := range s.ProtoActor().ProcessRegistry.LocalPIDs.LocalPIDs {
		n += b.Count()
	}
	return n
}

// TestWatchExitBeforeStop: a watch started before the exit signal closes
// Done only once the process has finished, Terminate included, although the
// engine unregisters the process before Terminate runs.
func TestWatchExitBeforeStop(t *testing.T) {
	s := start(t)
	b := &slowTerminate{in: make(chan struct{}), release: make(chan struct{})}
	pid, err := s.Spawn(b)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.WatchExit(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if closed(w.Done()) {
		t.Fatal("Done closed for a live process")
	}
	if err := s.Exit(pid, actor.Shutdown); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.in:
	case <-time.After(5 * time.Second):
		t.Fatal("Terminate did not run")
	}
	if closed(w.Done()) {
		t.Fatal("Done closed while Terminate is running")
	}
	close(b.release)
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the process finished")
	}
}

// TestWatchExitDeadAndInvalid: an unknown or dead pid is closed at once;
// nil is ErrInvalid; a system not started is ErrStopped.
func TestWatchExitDeadAndInvalid(t *testing.T) {
	s := start(t)
	w, err := s.WatchExit(s.ProtoActor().NewLocalPID("nobody"))
	if err != nil {
		t.Fatal(err)
	}
	if !closed(w.Done()) {
		t.Fatal("Done not closed at once for an unknown pid")
	}
	w.Close()
	w.Close() // idempotent
	if _, err := s.WatchExit(nil); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("WatchExit(nil) = %v, want ErrInvalid", err)
	}
	if err := s.Wait(context.Background(), nil); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("Wait(nil) = %v, want ErrInvalid", err)
	}
	idle, err := actor.NewSystem()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idle.WatchExit(s.ProtoActor().NewLocalPID("x")); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("WatchExit before Start = %v, want ErrStopped", err)
	}
}

// TestWatchExitClose: Close releases the watch's registration and the
// watched process no longer reports to it.
func TestWatchExitClose(t *testing.T) {
	s := start(t)
	pid, err := s.Spawn(newRecorder(false))
	if err != nil {
		t.Fatal(err)
	}
	n0 := registered(s)
	w, err := s.WatchExit(pid)
	if err != nil {
		t.Fatal(err)
	}
	if n := registered(s); n != n0+1 {
		t.Fatalf("%d processes registered with a watch, want %d", n, n0+1)
	}
	w.Close()
	w.Close()
	if n := registered(s); n != n0 {
		t.Fatalf("%d processes registered after Close, want %d", n, n0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Exit(pid, actor.Shutdown); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(ctx, pid); err != nil {
		t.Fatal(err)
	}
	if closed(w.Done()) {
		t.Fatal("a closed watch reported the exit")
	}
}
