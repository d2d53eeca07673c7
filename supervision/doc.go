// Package supervision builds fault-tolerant trees of processes as Erlang/OTP
// does: supervisors start children, watch them, restart them by a strategy,
// give up when they restart too often, and are themselves children of other
// supervisors.
//
// # The model
//
// A supervisor is an actor.Server that traps exits. It starts its children
// in order with spawn_link semantics (StartContext.Spawn), so every child's
// exit reaches it as an actor.Exit with the child's exit reason. For each
// exit it decides, from the child's restart type and the supervisor's
// strategy and restart history:
//
//   - whether the child is restarted: a Permanent child always, a Transient
//     one only after an abnormal exit (a reason other than actor.Normal and
//     actor.Shutdown), a Temporary one never (its spec is deleted);
//   - which children are restarted with it: OneForOne only it, OneForAll
//     every child (the others are terminated first, in reverse start order,
//     then all start in start order), RestForOne it and the children started
//     after it;
//   - whether it gives up: more than MaxRestarts restarts within Period (the
//     restart intensity; default 1 in 5 s, OTP's) and the supervisor
//     terminates all its children in reverse order and exits with reason
//     actor.Shutdown. Its own supervisor sees that exit like any child's and
//     applies its strategy: the failure escalates up the tree until a
//     supervisor with enough intensity restarts the subtree, or the root
//     gives up.
//
// That decision is a pure function of (strategy, children, restart history,
// now) with no goroutines (decide.go); the supervisor process only applies
// it. Its rules are those of OTP's supervisor module, and its tests are
// table and golden cases taken from OTP's semantics.
//
// # Starting and stopping
//
// Children start in spec order; Start returns when all have started. If one
// fails, those already started stop in reverse order and Start returns a
// *StartError naming the child. Children stop in reverse order: each is sent
// exit signal actor.Shutdown and given its Shutdown timeout (default 5 s for
// a worker, Infinity for a supervisor), then killed; BrutalKill kills at
// once. A worker that traps exits must stop itself when it receives
// actor.Exit with reason actor.Shutdown, or it is killed after its timeout.
//
// A restart can wait a RestartDelay, fixed or exponential with a cap, so
// that a crash loop does not spin. The delay runs on the system's
// actor.Clock.
//
// Children are spawned as top-level processes linked to the supervisor, not
// as proto.actor children of its process, so that it is the supervisor, not
// the engine, that stops them: in order and with their timeouts, even when
// the supervisor itself is stopped by actor.System.Stop.
//
// # Dynamic supervisors
//
// A Dynamic supervisor (OTP simple_one_for_one) starts empty; StartChild
// adds children at run time, each with its own ChildSpec, named by PID and
// restarted one for one. TerminateChild stops and deletes one. When it
// stops, all its children are asked to shut down at once.
//
// # Events
//
// Every supervisor emits ChildStarted, ChildRestarted, ChildTerminated,
// ChildStartFailed and IntensityExceeded and logs them with the system's
// logger: DEBUG for starts and orderly stops, INFO for crashes and restarts,
// WARN for failed starts and exceeded intensity. Nothing is logged at ERROR.
//
// Subscribe receives the events of every supervisor of a system on a
// buffered channel. A supervisor never waits for a subscriber, so a slow or
// stuck reader cannot delay a restart: an event that finds the buffer full
// is dropped for that subscription and counted (Subscription.Dropped).
package supervision
