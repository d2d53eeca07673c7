package supervision

import (
	"sync"

	pa "github.com/asynkron/protoactor-go/actor"

	"github.com/foundation-go/foundation/actor"
)

// waiter lets a supervisor wait for a child to be gone without reading its
// own mailbox, where the child's Exit would arrive behind the message being
// handled. It is an engine process (no goroutine, no mailbox) registered in
// proto.actor's process registry: the supervisor sends the child the
// engine's Watch system message naming the waiter, and the engine sends the
// waiter Terminated once the child's process has finished (its Terminate
// has run). Terminated closes the channel watch returned. A pid that is
// already gone gets Terminated too (from the engine's dead-letter handling)
// or, if it is not registered at all, a closed channel at once.
//
// OTP's supervisor does the same with a monitor and a receive with timeout
// (supervisor:shutdown/2); a Foundation Monitor would deliver its Down to
// the supervisor's mailbox, which is busy with the very message waiting.
type waiter struct {
	as  *pa.ActorSystem
	pid *actor.PID

	mu     sync.Mutex
	w      map[string]chan struct{}
	closed bool
}

var _ pa.Process = (*waiter)(nil)

func newWaiter(sys *actor.System) *waiter {
	as := sys.ProtoActor()
	w := &waiter{as: as, w: make(map[string]chan struct{})}
	w.pid, _ = as.ProcessRegistry.Add(w, "supervision"+as.ProcessRegistry.NextId())
	return w
}

// watch returns a channel closed when pid's process has finished.
func (w *waiter) watch(pid *actor.PID) <-chan struct{} {
	ch := make(chan struct{})
	proc, ok := w.as.ProcessRegistry.Get(pid)
	if !ok {
		close(ch)
		return ch
	}
	w.mu.Lock()
	if prev, dup := w.w[pid.Id]; dup {
		w.mu.Unlock()
		return prev
	}
	w.w[pid.Id] = ch
	w.mu.Unlock()
	proc.SendSystemMessage(pid, &pa.Watch{Watcher: w.pid})
	return ch
}

// forget drops the wait for pid (a child that would not stop).
func (w *waiter) forget(pid *actor.PID) {
	w.mu.Lock()
	delete(w.w, pid.Id)
	w.mu.Unlock()
}

// close unregisters the waiter. It is idempotent.
func (w *waiter) close() {
	w.mu.Lock()
	done := w.closed
	w.closed = true
	w.w = nil
	w.mu.Unlock()
	if !done {
		w.as.ProcessRegistry.Remove(w.pid)
	}
}

// SendSystemMessage receives Terminated from the engine.
func (w *waiter) SendSystemMessage(_ *pa.PID, m any) {
	t, ok := m.(*pa.Terminated)
	if !ok || t.Who == nil {
		return
	}
	w.mu.Lock()
	ch := w.w[t.Who.Id]
	delete(w.w, t.Who.Id)
	w.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// SendUserMessage ignores user messages.
func (w *waiter) SendUserMessage(*pa.PID, any) {}

// Stop does nothing: the owner closes the waiter.
func (w *waiter) Stop(*pa.PID) {}
