// Package actortest runs one actor.Server without the runtime: no
// goroutines, no mailboxes, no sleeps. A test builds a Harness around the
// Server, delivers messages one at a time on its own goroutine, and checks
// what came back and what the Server did.
//
// # The model
//
// The Harness stands in for the runtime and for the Server's actor.Process.
// Every message is handled synchronously, in the order the test delivers it:
//
//	h := actortest.New(t, &myServer{})
//	if err := h.Init(); err != nil { ... }      // Init, as Spawn runs it
//	r := h.Call(get{})                           // HandleCall
//	h.Cast(incr{})                               // HandleCast
//	h.Info(actor.Timeout{})                      // HandleInfo
//	h.Terminate(actor.Shutdown)                  // Terminate
//
// A Call has a fresh caller each time. Its CallResult holds what that caller
// would receive: the reply, or the error, or, when HandleCall returned
// actor.NoReply, nothing yet (Pending) until a later message makes the
// Server answer through Process.Reply. Call[R] is the typed form, with
// actor.Call's errors.
//
// The Process the Server sees does nothing outside the Harness: it records.
// Sends, replies, spawned children, links, monitors, the trap-exit flag and
// Stop are kept in order and read back with Sent, Replies, Spawned, Linked,
// Unlinked, Monitored, Demonitored, TrapsExit and Stopped. Messages the
// Server sends, to itself included, are not delivered; children are not
// run. Assertions read the same records:
//
//	h.ShouldSend().To(peer).Message(ping{}).Once()
//	h.ShouldSend().To(logger).Never()
//
// Messages compare with proto.Equal when both are proto messages and
// reflect.DeepEqual otherwise (see Equal).
//
// # Runtime rules the Harness keeps
//
//   - Init runs first and once; a message before Init, or after the process
//     stopped, fails the test, since no process would receive it.
//   - A panic in a handler crashes the process: the current call gets an
//     error wrapping actor.ErrNoProcess and the process stops with an
//     actor.ErrorReason. Init's error or panic stops it the same way.
//   - Process.Stop takes effect after the current message: the first reason
//     wins and Terminate runs once with it.
//   - Exit delivers an exit signal as a link would: actor.Exit to a Server
//     that traps exits, otherwise nothing for actor.Normal and a stop for
//     any other reason. Down delivers actor.Down only for a live monitor.
//   - Replying twice to one call: the caller receives the first reply.
//   - When the process exits, deferred calls still unanswered fail with an
//     error wrapping actor.ErrNoProcess, before Terminate runs.
//
// # Time
//
// Time is a Clock that moves only when the test calls Advance, which runs
// the timers that fall due, in order, on the test's goroutine. With
// WithIdleTimeout the Harness arms the idle timeout as the runtime does, so
// Advance delivers actor.Timeout when the Server has been idle long enough.
// A Clock can also drive a real actor.System through actor.WithClock.
package actortest
