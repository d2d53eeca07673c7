package telemetry

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Trace is one trace gathered from the members' flight recorders.
type Trace struct {
	TraceID string       `json:"trace_id"`
	Spans   []SpanRecord `json:"spans"` // by start time
	// Missing lists the members that did not answer, with the cause.
	Missing []string `json:"missing,omitempty"`
}

// Members returns the ids of the members that recorded spans of t, sorted.
func (t *Trace) Members() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range t.Spans {
		if !seen[s.Member] {
			seen[s.Member] = true
			out = append(out, s.Member)
		}
	}
	sort.Strings(out)
	return out
}

// SpanNode is a span with its children: the causal tree of a trace.
type SpanNode struct {
	SpanRecord
	Children []*SpanNode `json:"children,omitempty"`
}

// Tree returns the trace's causal tree: its roots (spans whose parent is
// not among the spans gathered: the trace's root, or the children of a
// span on a member that did not answer), each with its children by start
// time.
func (t *Trace) Tree() []*SpanNode {
	nodes := make(map[string]*SpanNode, len(t.Spans))
	for _, s := range t.Spans {
		nodes[s.SpanID] = &SpanNode{SpanRecord: s}
	}
	var roots []*SpanNode
	for _, s := range t.Spans {
		n := nodes[s.SpanID]
		if p := nodes[s.ParentID]; p != nil && s.ParentID != "" && p != n {
			p.Children = append(p.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	var order func([]*SpanNode)
	order = func(ns []*SpanNode) {
		sort.SliceStable(ns, func(i, j int) bool { return ns[i].Start.Before(ns[j].Start) })
		for _, n := range ns {
			order(n.Children)
		}
	}
	order(roots)
	return roots
}

// Print writes the causal tree with timings: each span's duration, its
// start relative to the trace's first span, and its member.
//
//	trace 4bf92f35... (5 spans on 3 members, 4.1ms)
//	└─ actor.call [a1b2c3] 4.1ms +0s
//	   └─ actor.receive *main.Front [a1b2c3] 3.9ms +0.1ms
//	      └─ grain.call account [a1b2c3] 3.6ms +0.2ms
//	         └─ grain.receive account [d4e5f6] 2.8ms +0.6ms
func (t *Trace) Print(w io.Writer) {
	roots := t.Tree()
	var first, last time.Time
	for i, s := range t.Spans {
		if i == 0 || s.Start.Before(first) {
			first = s.Start
		}
		if s.End.After(last) {
			last = s.End
		}
	}
	fmt.Fprintf(w, "trace %s (%d spans on %d members, %v)\n", t.TraceID, len(t.Spans), len(t.Members()), roundDur(last.Sub(first)))
	var walk func(n *SpanNode, prefix string, lastChild bool)
	walk = func(n *SpanNode, prefix string, lastChild bool) {
		branch, next := "├─ ", "│  "
		if lastChild {
			branch, next = "└─ ", "   "
		}
		errMark := ""
		if n.Error != "" {
			errMark = " ERROR: " + n.Error
		}
		fmt.Fprintf(w, "%s%s%s [%s] %v +%v%s\n", prefix, branch, n.Name, shortID(n.Member), roundDur(n.Duration()), roundDur(n.Start.Sub(first)), errMark)
		for i, c := range n.Children {
			walk(c, prefix+next, i == len(n.Children)-1)
		}
	}
	for i, r := range roots {
		walk(r, "", i == len(roots)-1)
	}
	for _, m := range t.Missing {
		fmt.Fprintf(w, "(no answer from %s)\n", m)
	}
}

// String is Print's output.
func (t *Trace) String() string {
	var b strings.Builder
	t.Print(&b)
	return b.String()
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
