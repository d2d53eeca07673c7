// Package work runs lists of tasks over the members of a cluster: the
// tasks go out in chunks to the members of a role, each member runs them
// on a worker pool of bounded size, and the caller gets one result per
// task, in the order of the tasks, even when members die during the run.
//
// # Kinds, pools and runs
//
// A task kind is a name, a handler func(ctx, In) (Out, error) and the
// codecs of In and Out (Kind; JSON by default). Go functions do not
// travel between members, names do: every member that runs a kind
// registers it (Host.Register, or foundation.WithTasks at Start), and a
// caller names it by passing the same Kind to Run. Each member has one
// worker pool per kind, of Kind.Workers or Config.Workers (default
// runtime.GOMAXPROCS), and never runs more of the kind's tasks at once,
// whatever the number of runs and callers.
//
//	score := work.Kind[Prompt, float64]{Name: "score", Handler: scorePrompt, Workers: 4}
//	node, _ := foundation.Start(ctx, foundation.WithTasks(score), ...) // members labelled tier=ai
//	results, err := work.Run(ctx, node.Work, score, prompts, work.Role(map[string]string{"tier": "ai"}))
//
// Run takes the Up members whose labels include every pair of the Role
// (cluster.Member.HasLabels: the matching of grain.Role placement) and
// asks each whether it runs the kind and with how many workers; the
// calling member takes part directly when it qualifies. Tasks go out in
// chunks (ChunkSize; by default guided: large while much waits, one task
// at a time near the end, so members finish together), on demand: a
// member gets another chunk while it holds fewer tasks than its workers
// plus one chunk, so a fast member takes more and a slow one less. Members
// that join during the run take part once they accept it; a member that
// refused the run (it did not serve the kind yet) or was lost from it is
// asked again a second later while the view has it Up.
//
// # Promises
//
// Every task appears exactly once in Run's results, at its index. Its
// execution is at least once: when a member is lost during a run — its
// stream breaks (a crash closes its port at once), the membership reports
// it unreachable, removed or gone, or a write to it fails — the tasks it
// held without answering run again on other members, though it may have
// run them already (or, only unreachable, still be running them). The
// caller keeps the first result of each task and drops later ones. On a
// cluster where no member is lost, each task runs once. Handlers with side
// effects should therefore be idempotent. A member that is slow but
// reachable is waited for: bound a run with its ctx.
//
// A task's failure (its handler's error or panic: a *TaskError matching
// ErrTask; an input or output its codecs cannot handle: ErrCodec) is that
// task's Result.Err and the run goes on, unless FailFast. Run's own error
// is ErrInvalid (bad arguments, naming the field), ErrNoWorkers (no Up
// member has the role, none of them runs the kind, or all were lost;
// the message says why for each member), ErrClosed (the host stopped) or
// the ctx's error: Run returns promptly once ctx ends, and tells the
// members to cancel the run's tasks (their handlers' ctx ends; queued
// tasks never start). A run's tasks on a member are also cancelled when
// the calling member is gone (its stream closes).
//
// Progress reports (done, total) from one goroutine, coalescing counts so
// that a slow callback never slows the run. CacheResults reads each task's
// result from a cache of package cache before the run (a cached task is
// not dispatched) and stores the results the run computed: with a
// partitioned or multilevel cache, another member's run of the same tasks
// is served from the cache cluster-wide.
//
// # Transport
//
// Runs travel on the member-to-member streams of the cluster port
// (cluster.ProtocolWork, through Membership.Dial and Membership.Handle):
// authenticated by the cluster secret, under mutual TLS when configured,
// one stream from a calling member to each member it uses, shared by its
// runs. That transport is the one whose failure detection fits: a
// member's crash breaks the stream at once (the caller re-runs its tasks
// within milliseconds, and a refused connection removes the member from
// the view), and a member that vanishes without a reset is caught by the
// membership's SWIM verdicts (unreachable, removed, left), on which the
// host closes the stream. Cancellation travels on the same stream. The
// service registry's calls go through actor remoting, where a dead
// member shows only as a call's timeout (the engine retries a refused
// connection for seconds); the grain transport places identities, it does
// not spread work.
//
// A Host serves other members' runs on goroutines it owns: Stop cancels
// them (their callers re-run the tasks elsewhere) and ends this member's
// own runs with ErrClosed. A foundation.Node has a Host (Node.Work) that
// stops with the node.
package work
