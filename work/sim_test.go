package work

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
)

// simEvent is one step of the scheduling simulation.
type simEvent struct {
	at     float64 // ms
	kind   int     // simChunk, simDone, simResult
	member string
	tasks  []int
}

const (
	simChunk  = iota // a chunk reaches its member
	simDone          // a task ends on its member
	simResult        // a task's result reaches the caller
)

type simQueue []simEvent

func (q simQueue) Len() int           { return len(q) }
func (q simQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q simQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)        { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	o := *q
	x := o[len(o)-1]
	*q = o[:len(o)-1]
	return x
}

// simulate runs n tasks of dur ms (plus up to jitter ms, drawn from rng)
// over members with workers each, a one-way hop of hop ms between the
// caller and a member, through sched with guided chunks; it returns when
// the last result reached the caller (ms) and the tasks per member.
func simulate(rng *rand.Rand, n, members, workers int, dur, jitter, hop float64) (float64, map[string]int) {
	s := newSched(make([]bool, n), 0)
	q := &simQueue{}
	busy, queue := map[string]int{}, map[string][]int{}
	for m := range members {
		s.add(fmt.Sprint("m", m), workers)
	}
	per := map[string]int{}
	dispatch := func(now float64) {
		for {
			id, c, ok := s.next()
			if !ok {
				return
			}
			heap.Push(q, simEvent{at: now + hop, kind: simChunk, member: id, tasks: c})
		}
	}
	start := func(now float64, id string) {
		for busy[id] < workers && len(queue[id]) > 0 {
			t := queue[id][0]
			queue[id] = queue[id][1:]
			busy[id]++
			heap.Push(q, simEvent{at: now + dur + rng.Float64()*jitter, kind: simDone, member: id, tasks: []int{t}})
		}
	}
	dispatch(0)
	end := 0.0
	for q.Len() > 0 {
		ev := heap.Pop(q).(simEvent)
		switch ev.kind {
		case simChunk:
			queue[ev.member] = append(queue[ev.member], ev.tasks...)
			start(ev.at, ev.member)
		case simDone:
			busy[ev.member]--
			start(ev.at, ev.member)
			heap.Push(q, simEvent{at: ev.at + hop, kind: simResult, member: ev.member, tasks: ev.tasks})
		case simResult:
			if s.complete(ev.member, ev.tasks[0]) {
				per[ev.member]++
			}
			end = ev.at
			dispatch(ev.at)
		}
	}
	return end, per
}

// TestSchedMakespan: 400 tasks of 20-22 ms over 5 members of 4 workers
// finish within a few percent of the ideal (400 × 21 ms / 20 workers),
// and 5 members are at least 4.8 times as fast as one: the guided chunks
// and the tail rule leave no member long idle while another still works.
func TestSchedMakespan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, hop := range []float64{0.1, 0.5} {
		var five, one float64
		const runs = 10
		for range runs {
			d5, per := simulate(rng, 400, 5, 4, 20, 2, hop)
			d1, _ := simulate(rng, 400, 1, 4, 20, 2, hop)
			if len(per) != 5 {
				t.Fatalf("tasks per member %v", per)
			}
			five += d5 / runs
			one += d1 / runs
		}
		ideal := 400 * 21.0 / 20
		if five > ideal*1.05 || one/five < 4.8 {
			t.Errorf("hop %.1f ms: 5 members %.1f ms (ideal %.0f), 1 member %.1f ms, ratio %.3f", hop, five, ideal, one, one/five)
		}
		t.Logf("hop %.1f ms: 5 members %.1f ms (ideal %.0f), 1 member %.1f ms, ratio %.3f", hop, five, ideal, one, one/five)
	}
}
