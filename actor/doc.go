// Package actor is Foundation's process model: Erlang/OTP's processes,
// gen_server, links, monitors, names and groups, on the proto.actor engine.
//
// # Systems and processes
//
// A System wraps one proto.actor ActorSystem. NewSystem configures it, Start
// starts it (and remoting, with WithRemote), Stop stops every process —
// children before their parents — and waits for them. Start and Stop are
// idempotent.
//
// A process runs one behaviour, one message at a time:
//
//   - a Server, in the manner of gen_server: Init, HandleCall (reply now, or
//     return NoReply and answer later with Process.Reply), HandleCast,
//     HandleInfo and Terminate. Embed ServerBase for defaults.
//   - a plain proto.actor Actor, or a func(Context).
//
// Spawn starts a process; Process.Spawn starts a child. PID, Context and
// Actor are proto.actor's own types, so engine and Foundation code mix.
//
// # Messages
//
// Tell sends without waiting. Call[R] sends a request and waits for a reply of
// type R, for local and remote PIDs alike; its context bounds the wait, a dead
// target answers ErrNoProcess at once, and a reply of the wrong type is
// ErrBadReply. The local path uses a pooled, pre-registered reply slot rather
// than a future process per request (see BENCHMARKS.md for the figures).
// Headers attached with WithHeaders or TellWithHeaders travel in the engine's
// envelope header, across members too; a message without headers carries no
// header at all.
//
// Every process has Foundation's mailbox: messages from one sender arrive in
// the order sent, and the engine's system messages (stop, watch, suspend)
// overtake user messages already queued. The receiving side takes queued
// messages in batches, one lock per batch rather than per message, which is
// why Tell outruns the engine's own mailbox (BENCHMARKS.md). It is
// unbounded, as the engine's default is.
//
// # Exits, links and monitors
//
// A process exits with a Reason: Normal, Shutdown, Killed, NoProc, or an
// error (a panic in a handler becomes ErrorReason with the panic value).
// Links are bidirectional: when a process exits abnormally, linked processes
// exit with the same reason, unless they trap exits (Process.TrapExit), in
// which case they receive an Exit message. A Normal exit kills nobody. Kill
// cannot be trapped. Monitors are one way: the watcher receives exactly one
// Down with the reason, or NoProc at once when the target was already dead;
// Demonitor guarantees no Down arrives afterwards.
//
// Links, monitors, exit signals (Exit, ExitFrom, Kill), names and groups are
// local to one member: unlike Erlang's, they do not cross members, and there
// is no noconnection reason. Given the PID of a process on another member,
// Link, Monitor, Exit, ExitFrom, Kill, Register, Join and the WithLink spawn
// option return ErrNotLocal at once and set nothing up, so nothing waits for
// a Down or an Exit that would never come. To follow a process on another
// member, call it (a dead one answers ErrNoProcess, an unreachable one times
// out) or watch membership (cluster.Membership.Subscribe).
//
// System.Wait blocks until a process has finished (its Terminate included);
// System.WatchExit starts such a wait without blocking, so that it can be set
// up before the process is asked to stop and awaited from inside a handler
// (a supervisor stopping its child does this). Neither puts anything in the
// watched process's mailbox.
//
// Register, Whereis and Unregister name processes; Join, Leave and Members
// keep local process groups. Names and memberships disappear with their
// process.
//
// # Logging and time
//
// Logs go to the zap logger given with WithLogger; the engine's own slog
// output is routed into the same zap core. Time comes from a Clock (WithClock)
// so that idle timeouts can be tested without sleeping (see actortest).
package actor
