package telemetry

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/foundation-go/foundation/actor"
)

// Recommendation is one finding of the performance advisor.
type Recommendation struct {
	Member string `json:"member"`
	// Rule names the check that fired: "mailbox-pressure",
	// "pool-idle", "false-suspicions", "call-latency", "call-errors",
	// "membership-events-dropped", "expected-members".
	Rule string `json:"rule"`
	// Target is what it is about: a process kind, a tunable's name.
	Target   string `json:"target,omitempty"`
	Severity string `json:"severity"` // info or warning
	Message  string `json:"message"`
	// Applied is set when the advisor (AdvisorApply) changed a Tunable:
	// "pool-a: 4 -> 8".
	Applied string `json:"applied,omitempty"`
}

// Tunable is a setting the advisor may change at run time, within bounds:
// a router pool's size, a worker count. Register it with RegisterTunable;
// Get and Set are called from the advisor's goroutine and must be safe for
// concurrent use with the owner's own.
type Tunable interface {
	// Get is the current value.
	Get() int
	// Set changes it; values are within Bounds.
	Set(v int) error
	// Bounds are the least and greatest values the advisor may set.
	Bounds() (lo, hi int)
	// Kind is the process kind whose mailbox pressure the value relieves
	// (a pool's routee kind, see actor.KindOf); "" for none.
	Kind() string
}

// RegisterTunable lets the advisor change t (AdvisorApply) under name; a
// nil t removes it. The advisor grows a tunable whose kind's mailboxes are
// under pressure (doubling, up to its upper bound) and shrinks one whose
// kind stays idle (halving, down to its lower bound).
func (t *Telemetry) RegisterTunable(name string, tu Tunable) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tu == nil {
		delete(t.tunables, name)
		return
	}
	t.tunables[name] = tu
}

// TunableState is a Tunable's state as the advisor sees it.
type TunableState struct {
	Name   string
	Kind   string
	Value  int
	Lo, Hi int
}

func tunableStates(ts map[string]Tunable) []TunableState {
	out := make([]TunableState, 0, len(ts))
	for name, tu := range ts {
		lo, hi := tu.Bounds()
		out = append(out, TunableState{Name: name, Kind: tu.Kind(), Value: tu.Get(), Lo: lo, Hi: hi})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AdvisorInput is what the advisor looks at: one member's last sample.
type AdvisorInput struct {
	Member      string
	Performance Performance
	Kinds       []actor.KindStats
	// FlapsPerMinute: members that became unreachable and then reachable
	// again (refuted suspicions) in the last minute.
	FlapsPerMinute int
	// MembershipDropped: membership events not delivered to a full
	// subscriber, since the start.
	MembershipDropped uint64
	Tunables          []TunableState
}

// Thresholds of the advisor's rules.
const (
	// MailboxPressure: a kind whose average mailbox holds more messages
	// than this (or whose largest holds 10 times as many) is under
	// pressure.
	MailboxPressure = 100
	// FlapsWarn: this many refuted suspicions a minute mean the failure
	// detector's timings are too tight for the network or the GC pauses.
	FlapsWarn = 3
	// LatencySpread: a call p99 this many times the p50 (and over 10ms).
	LatencySpread = 50
)

// Advise is the performance advisor: a pure function of one sample. Its
// rules:
//
//   - mailbox-pressure: a kind's mailboxes hold more than MailboxPressure
//     messages on average: its processes cannot keep up. With a Tunable of
//     that kind, grow it (doubling, within its bounds); else spread the
//     work over a router pool.
//   - pool-idle: a Tunable's kind has empty mailboxes and handled no
//     message while its value is above its lower bound: shrink it.
//   - false-suspicions: FlapsWarn or more members a minute were suspected
//     and then answered again: probe_timeout and suspicion_multiplier are
//     too tight for this network (or GC pauses are long).
//   - call-latency: call p99 is LatencySpread times p50 and over 10ms: a
//     slow handler blocks its process (move blocking work off it).
//   - call-errors: more than 5% of calls fail.
//   - membership-events-dropped: a membership subscriber falls behind.
func Advise(in AdvisorInput) []Recommendation {
	var out []Recommendation
	add := func(rule, target, sev, msg string) {
		out = append(out, Recommendation{Member: in.Member, Rule: rule, Target: target, Severity: sev, Message: msg})
	}
	tunableFor := map[string]TunableState{}
	for _, ts := range in.Tunables {
		if ts.Kind != "" {
			tunableFor[ts.Kind] = ts
		}
	}
	for _, k := range in.Kinds {
		if k.Processes == 0 {
			continue
		}
		avg := k.MailboxDepth / k.Processes
		if avg > MailboxPressure || k.MaxMailbox > 10*MailboxPressure {
			if ts, ok := tunableFor[k.Kind]; ok && ts.Value < ts.Hi {
				add("mailbox-pressure", ts.Name, "warning", fmt.Sprintf("processes of kind %s have %d messages queued on average (largest %d): grow %s from %d to %d", k.Kind, avg, k.MaxMailbox, ts.Name, ts.Value, min(ts.Value*2, ts.Hi)))
			} else {
				add("mailbox-pressure", k.Kind, "warning", fmt.Sprintf("processes of kind %s have %d messages queued on average (largest %d): they cannot keep up; spread the work over a router pool, or make the handler cheaper", k.Kind, avg, k.MaxMailbox))
			}
		}
	}
	for _, ts := range in.Tunables {
		if ts.Kind == "" || ts.Value <= ts.Lo {
			continue
		}
		for _, k := range in.Kinds {
			if k.Kind == ts.Kind && k.MailboxDepth == 0 && in.Performance.MessagesPerSec == 0 {
				add("pool-idle", ts.Name, "info", fmt.Sprintf("%s (kind %s) is idle: shrink it from %d to %d", ts.Name, ts.Kind, ts.Value, max(ts.Value/2, ts.Lo)))
			}
		}
	}
	if in.FlapsPerMinute >= FlapsWarn {
		add("false-suspicions", "membership", "warning", fmt.Sprintf("%d members were suspected unreachable and then answered again in the last minute: the failure detector is too tight for this network or for GC pauses; raise probe_timeout and suspicion_multiplier (or use the production profile)", in.FlapsPerMinute))
	}
	p := in.Performance
	if p.CallP99 > 10 && p.CallP50 > 0 && p.CallP99 > LatencySpread*p.CallP50 {
		add("call-latency", "calls", "info", fmt.Sprintf("call p99 %.1fms is %.0f times p50 %.2fms: some handlers block their process; move blocking work (I/O, long computations) off the handler", p.CallP99, p.CallP99/p.CallP50, p.CallP50))
	}
	if total := p.CallsPerSec + p.GrainCallsPerSec; total > 10 && p.CallErrorsPerSec > 0.05*total {
		add("call-errors", "calls", "warning", fmt.Sprintf("%.0f of %.0f calls a second fail: see the logs and /debug/traces", p.CallErrorsPerSec, total))
	}
	if in.MembershipDropped > 0 {
		add("membership-events-dropped", "membership", "info", fmt.Sprintf("%d membership events were dropped by a subscriber that fell behind: give Subscribe a larger buffer", in.MembershipDropped))
	}
	return out
}

// apply applies the recommendations that change a Tunable and marks them.
func (t *Telemetry) apply(recs []Recommendation, tunables map[string]Tunable) []Recommendation {
	for i, r := range recs {
		tu := tunables[r.Target]
		if tu == nil || (r.Rule != "mailbox-pressure" && r.Rule != "pool-idle") {
			continue
		}
		lo, hi := tu.Bounds()
		cur := tu.Get()
		next := min(cur*2, hi)
		if r.Rule == "pool-idle" {
			next = max(cur/2, lo)
		}
		if next == cur {
			continue
		}
		if err := tu.Set(next); err != nil {
			recs[i].Applied = "failed: " + err.Error()
			continue
		}
		recs[i].Applied = r.Target + ": " + strconv.Itoa(cur) + " -> " + strconv.Itoa(next)
		t.rec.event(Event{Kind: "advisor", Message: "applied " + recs[i].Applied + " (" + strings.SplitN(r.Message, ":", 2)[0] + ")"})
	}
	return recs
}

func itoa(n int) string { return strconv.Itoa(n) }
