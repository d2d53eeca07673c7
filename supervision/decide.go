package supervision

import (
	"time"

	"github.com/foundation-go/foundation/actor"
)

// This file is the supervisor's decision core: a pure function of the
// strategy, the children, the restart history and the current time. It has
// no goroutines and reads no clock; the supervisor process (server.go)
// applies what it returns. Its rules are OTP's supervisor module:
// do_restart/4, restart/2, add_restart/3, terminate_children/2 and
// start_children/2.

// policy is a supervisor's restart policy with defaults resolved.
type policy struct {
	strategy    Strategy
	dynamic     bool          // simple_one_for_one: one for one, and children not restarted are deleted
	maxRestarts int           // >= 0
	period      time.Duration // > 0
	delay       RestartDelay
}

// childView is what the core knows of one child.
type childView struct {
	id        string
	restart   Restart
	running   bool      // it has a live process
	startedAt time.Time // when its current or last process started
	streak    int       // consecutive restarts, for the exponential delay
}

// exitEvent is what happened to children[child]: it exited with reason, or
// (startFailed) a restart of it failed, which OTP retries as a new restart.
type exitEvent struct {
	child       int
	reason      actor.Reason
	startFailed bool
}

// plan is the decision. The supervisor applies it in this order: terminate,
// remove, then start (after delay). Indexes refer to the children passed to
// decide.
type plan struct {
	// restart: a restart was due and was counted against the intensity.
	restart bool
	// giveUp: the intensity is exceeded. The supervisor terminates every
	// child (terminate lists the running ones in reverse start order; a
	// dynamic supervisor, which passes only the exited child, terminates all
	// of its children) and exits with reason shutdown.
	giveUp bool
	// terminate: running children to terminate, in this order.
	terminate []int
	// remove: children whose spec is deleted.
	remove []int
	// start: children to start, in this order.
	start []int
	// delay to wait before starting.
	delay time.Duration
	// streak: the exited child's new consecutive-restart count.
	streak int
	// history: the restart history to keep (timestamps within the period).
	history []time.Time
}

// restartDue reports whether a child with restart type r that exited with
// reason must be restarted (OTP do_restart/4).
func restartDue(r Restart, reason actor.Reason) bool {
	switch r {
	case Permanent:
		return true
	case Transient:
		return !reason.IsNormal() && reason != actor.Shutdown
	default:
		return false
	}
}

// addRestart returns history with the restarts older than period before now
// dropped and now added (OTP add_restart/3). history is in time order, so
// the expired restarts are a prefix: the result is a reslice plus an append,
// amortized O(1) even for a large intensity. It never changes history's
// elements but may use its spare capacity: the caller replaces its history
// with the result.
func addRestart(history []time.Time, now time.Time, period time.Duration) []time.Time {
	threshold := now.Add(-period)
	i := 0
	for i < len(history) && history[i].Before(threshold) {
		i++
	}
	return append(history[i:], now)
}

// decide is the supervisor's decision for one exit.
func decide(pol policy, children []childView, ev exitEvent, history []time.Time, now time.Time) plan {
	c := children[ev.child]
	p := plan{history: history, streak: c.streak}
	if !ev.startFailed && !restartDue(c.restart, ev.reason) {
		// Not restarted: a temporary child, and any child of a dynamic
		// supervisor, is deleted; a static transient one keeps its spec.
		if pol.dynamic || c.restart == Temporary {
			p.remove = []int{ev.child}
		}
		return p
	}
	p.restart = true
	p.history = addRestart(history, now, pol.period)
	if len(p.history) > pol.maxRestarts {
		p.giveUp = true
		for i := len(children) - 1; i >= 0; i-- {
			if children[i].running && i != ev.child {
				p.terminate = append(p.terminate, i)
			}
		}
		return p
	}
	switch {
	case ev.startFailed, now.Sub(c.startedAt) < pol.period:
		p.streak = c.streak + 1
	default:
		p.streak = 1 // it ran for a whole period: not a crash loop
	}
	p.delay = pol.delay.after(p.streak)

	from := 0 // one_for_all: every child
	switch {
	case pol.dynamic || pol.strategy == OneForOne:
		p.start = []int{ev.child}
		return p
	case pol.strategy == RestForOne:
		from = ev.child // the exited child and those started after it
	}
	for i := len(children) - 1; i >= from; i-- {
		if children[i].running && i != ev.child {
			p.terminate = append(p.terminate, i)
		}
	}
	for i := from; i < len(children); i++ {
		if i != ev.child && children[i].restart == Temporary {
			// OTP terminate_children/2: a temporary sibling is terminated
			// and deleted, never restarted.
			p.remove = append(p.remove, i)
			continue
		}
		p.start = append(p.start, i)
	}
	return p
}
