package work_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/work"
)

// lossCase runs 90 tasks over three members of the role from a
// coordinator outside it. Member 3, the victim, answers its first three
// tasks and then holds every task it gets without answering; once it holds
// at least two, lose(3) takes it away. Every task must have exactly one
// result, in its place, with the right value; the tasks the victim held
// ran again elsewhere (executed twice, kept once).
func lossCase(t *testing.T, lose func(e *env)) {
	var (
		mu      sync.Mutex
		execs   = map[int]int{}
		held    = map[int]bool{}
		victims int
	)
	kind := func(member int) work.Kind[int, int] {
		return work.Kind[int, int]{Name: "square", Handler: func(ctx context.Context, i int) (int, error) {
			mu.Lock()
			execs[i]++
			hold := false
			if member == 3 {
				victims++
				if victims > 3 {
					hold, held[i] = true, true
				}
			}
			mu.Unlock()
			if hold {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			if err := wait(ctx, 2*time.Millisecond); err != nil {
				return 0, err
			}
			return i * i, nil
		}}
	}
	e := start(t, 4, coordinatorAndWorkers(func(i int) []work.AnyKind { return []work.AnyKind{kind(i)} }))
	ctx := ctxT(t, 60*time.Second)
	type out struct {
		res []work.Result[int]
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := work.Run(ctx, e.host(0), kind(-1), ints(90), work.Role(ai), work.ChunkSize(2))
		done <- out{res, err}
	}()
	clustertest.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(held) >= 2
	}, 20*time.Second, "the victim holds tasks")
	lose(e)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if len(o.res) != 90 {
		t.Fatalf("%d results for 90 tasks", len(o.res))
	}
	victim := e.id(3)
	mu.Lock()
	defer mu.Unlock()
	for i, r := range o.res {
		if r.Err != nil || r.Value != i*i {
			t.Fatalf("result %d = %+v, want %d", i, r, i*i)
		}
		if held[i] && (r.Member == victim || execs[i] < 2) {
			t.Fatalf("task %d, held by the lost member: result from %s after %d executions", i, r.Member, execs[i])
		}
	}
}

// TestMemberKilledMidRun: the victim crashes (its ports close at once).
func TestMemberKilledMidRun(t *testing.T) {
	lossCase(t, func(e *env) { e.c.Kill(3) })
}

// TestMemberUnreachableMidRun: the victim's network vanishes (no RST);
// the membership reports it unreachable.
func TestMemberUnreachableMidRun(t *testing.T) {
	lossCase(t, func(e *env) { e.c.Isolate(3) })
}

// TestMemberJoiningMidRunTakesPart: a member of the role that joins
// during a run gets tasks of it.
func TestMemberJoiningMidRunTakesPart(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	ran := map[int]int{}
	kind := func(member int) work.Kind[int, int] {
		return work.Kind[int, int]{Name: "square", Handler: func(ctx context.Context, i int) (int, error) {
			mu.Lock()
			ran[member]++
			mu.Unlock()
			if member == 1 {
				select { // the first member is slow until the newcomer worked
				case <-gate:
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
			return i * i, nil
		}}
	}
	e := start(t, 2, coordinatorAndWorkers(func(i int) []work.AnyKind { return []work.AnyKind{kind(i)} }))
	ctx := ctxT(t, 60*time.Second)
	type out struct {
		res []work.Result[int]
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := work.Run(ctx, e.host(0), kind(-1), ints(40), work.Role(ai))
		done <- out{res, err}
	}()
	clustertest.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return ran[1] == 2 }, 20*time.Second, "member 1's pool is busy")
	if _, err := e.c.Add(); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return ran[2] > 0 }, 20*time.Second, "the new member runs tasks of the run")
	close(gate)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	newcomer := e.id(2)
	n := 0
	for i, r := range o.res {
		if r.Err != nil || r.Value != i*i {
			t.Fatalf("result %d = %+v", i, r)
		}
		if r.Member == newcomer {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no result from the member that joined")
	}
}
