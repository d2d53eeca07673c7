package work_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/work"
)

// square is the test's kind: i -> i*i, after d.
func square(d time.Duration) work.Kind[int, int] {
	return work.Kind[int, int]{Name: "square", Handler: func(ctx context.Context, i int) (int, error) {
		if err := wait(ctx, d); err != nil {
			return 0, err
		}
		return i * i, nil
	}}
}

func ints(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestResultsInOrderOverTheRole(t *testing.T) {
	e := start(t, 4, coordinatorAndWorkers(func(int) []work.AnyKind { return []work.AnyKind{square(time.Millisecond)} }))
	ctx := ctxT(t, 30*time.Second)
	res, err := work.Run(ctx, e.host(0), square(0), ints(300), work.Role(ai))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 300 {
		t.Fatalf("%d results for 300 tasks", len(res))
	}
	used := map[string]int{}
	for i, r := range res {
		if r.Err != nil || r.Value != i*i || r.Cached {
			t.Fatalf("result %d = %+v, want %d", i, r, i*i)
		}
		used[r.Member]++
	}
	if used[e.id(0)] > 0 || len(used) != 3 {
		t.Fatalf("tasks per member %v: want the three members of the role, not the coordinator %s", used, e.id(0))
	}
}

func TestCallingMemberOfTheRoleTakesPart(t *testing.T) {
	e := start(t, 2, func(int) spec { return spec{labels: ai, kinds: []work.AnyKind{square(2 * time.Millisecond)}} })
	res, err := work.Run(ctxT(t, 30*time.Second), e.host(0), square(0), ints(100), work.Role(ai), work.ChunkSize(1))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	for i, r := range res {
		if r.Err != nil || r.Value != i*i {
			t.Fatalf("result %d = %+v", i, r)
		}
		used[r.Member]++
	}
	if used[e.id(0)] == 0 || used[e.id(1)] == 0 {
		t.Fatalf("tasks per member %v: want both, the caller included", used)
	}
}

func TestChunkSize(t *testing.T) {
	e := start(t, 3, coordinatorAndWorkers(func(int) []work.AnyKind { return []work.AnyKind{square(time.Millisecond)} }))
	ctx := ctxT(t, 30*time.Second)
	// Chunks of 10: each aligned block of 10 tasks ran on one member.
	res, err := work.Run(ctx, e.host(0), square(0), ints(100), work.ChunkSize(10))
	if err != nil {
		t.Fatal(err)
	}
	members := map[string]bool{}
	for b := 0; b < 100; b += 10 {
		for i := b; i < b+10; i++ {
			if res[i].Member != res[b].Member || res[i].Value != i*i {
				t.Fatalf("task %d ran on %s with %d, task %d of its chunk on %s", i, res[i].Member, res[i].Value, b, res[b].Member)
			}
		}
		members[res[b].Member] = true
	}
	if len(members) != 2 {
		t.Fatalf("chunks ran on %d members, want both workers", len(members))
	}
	// One chunk: one member.
	res, err = work.Run(ctx, e.host(0), square(0), ints(50), work.ChunkSize(50))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Member != res[0].Member {
			t.Fatalf("task %d on %s, task 0 on %s: one chunk should go to one member", i, r.Member, res[0].Member)
		}
	}
}

// TestWorkersCapConcurrency: two callers run at once over the same members;
// no member ever runs more tasks of the kind at once than its pool (2 in
// the harness, 3 for the kind that sets Workers), and the pools fill up.
func TestWorkersCapConcurrency(t *testing.T) {
	var mu sync.Mutex
	running, peak := map[int]int{}, map[int]int{}
	kind := func(member, workers int) work.Kind[int, int] {
		return work.Kind[int, int]{Name: "capped", Workers: workers, Handler: func(ctx context.Context, i int) (int, error) {
			mu.Lock()
			running[member]++
			peak[member] = max(peak[member], running[member])
			mu.Unlock()
			defer func() { mu.Lock(); running[member]--; mu.Unlock() }()
			return i, wait(ctx, 3*time.Millisecond)
		}}
	}
	e := start(t, 4, func(i int) spec {
		switch i {
		case 0, 1:
			return spec{}
		case 2:
			return spec{labels: ai, kinds: []work.AnyKind{kind(i, 0)}} // Config.Workers: 2
		}
		return spec{labels: ai, kinds: []work.AnyKind{kind(i, 3)}}
	})
	if w := e.host(2).Workers("capped"); w != 2 {
		t.Fatalf("Workers = %d, want Config.Workers 2", w)
	}
	ctx := ctxT(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := work.Run(ctx, e.host(c), kind(-1, 0), ints(120), work.Role(ai), work.ChunkSize(5))
			if err == nil {
				for i, r := range res {
					if r.Err != nil || r.Value != i {
						err = fmt.Errorf("result %d = %+v", i, r)
						break
					}
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if peak[2] != 2 || peak[3] != 3 {
		t.Fatalf("most tasks at once: member 2 %d (pool 2), member 3 %d (pool 3)", peak[2], peak[3])
	}
}

func TestProgressReachesTotal(t *testing.T) {
	e := start(t, 2, coordinatorAndWorkers(func(int) []work.AnyKind { return []work.AnyKind{square(time.Millisecond)} }))
	var (
		mu      sync.Mutex
		calls   [][2]int
		inside  atomic.Int32
		overlap atomic.Bool
	)
	res, err := work.Run(ctxT(t, 30*time.Second), e.host(0), square(0), ints(64), work.ChunkSize(4),
		work.Progress(func(done, total int) {
			if inside.Add(1) > 1 {
				overlap.Store(true)
			}
			defer inside.Add(-1)
			mu.Lock()
			calls = append(calls, [2]int{done, total})
			mu.Unlock()
		}))
	if err != nil || len(res) != 64 {
		t.Fatal(len(res), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap.Load() {
		t.Fatal("progress calls overlapped")
	}
	if len(calls) < 2 || calls[len(calls)-1] != [2]int{64, 64} {
		t.Fatalf("progress calls %v: want the last to be 64 of 64", calls)
	}
	for k := 1; k < len(calls); k++ {
		if calls[k][0] <= calls[k-1][0] || calls[k][1] != 64 {
			t.Fatalf("progress calls %v: done must grow", calls)
		}
	}
}

// TestCancelStopsRemoteWork: cancelling the caller's ctx returns at once
// with its error, and the members stop the run's tasks.
func TestCancelStopsRemoteWork(t *testing.T) {
	var running, started atomic.Int32
	block := work.Kind[int, int]{Name: "block", Handler: func(ctx context.Context, i int) (int, error) {
		started.Add(1)
		running.Add(1)
		defer running.Add(-1)
		<-ctx.Done()
		return 0, ctx.Err()
	}}
	e := start(t, 3, coordinatorAndWorkers(func(int) []work.AnyKind { return []work.AnyKind{block} }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type out struct {
		res []work.Result[int]
		err error
		at  time.Time
	}
	done := make(chan out, 1)
	go func() {
		res, err := work.Run(ctx, e.host(0), block, ints(100))
		done <- out{res, err, time.Now()}
	}()
	clustertest.Eventually(t, func() bool { return running.Load() == 4 }, 10*time.Second, "both members' pools are busy")
	cancelled := time.Now()
	cancel()
	o := <-done
	if !errors.Is(o.err, context.Canceled) || o.res != nil {
		t.Fatalf("Run after cancel = %d results, %v; want context.Canceled", len(o.res), o.err)
	}
	if d := o.at.Sub(cancelled); d > time.Second {
		t.Fatalf("Run returned %v after the cancel", d)
	}
	clustertest.Eventually(t, func() bool { return running.Load() == 0 }, 10*time.Second, "the members' handlers return")
	// The members dropped the run's queued tasks: a new run (six tasks:
	// two running and one queued on each member) gets their whole pools.
	before := started.Load()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	second := make(chan error, 1)
	go func() { _, err := work.Run(ctx2, e.host(0), block, ints(6)); second <- err }()
	clustertest.Eventually(t, func() bool { return running.Load() == 4 }, 10*time.Second, "a new run's tasks run")
	if n := started.Load() - before; n != 4 {
		t.Fatalf("%d handlers started after the cancel, want only the new run's 4", n)
	}
	cancel2()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("second run: %v", err)
	}
	clustertest.Eventually(t, func() bool { return running.Load() == 0 }, 10*time.Second, "the second run's handlers return")
}

func TestTaskErrorsArePerResult(t *testing.T) {
	flaky := work.Kind[int, string]{Name: "flaky", Handler: func(_ context.Context, i int) (string, error) {
		switch i % 3 {
		case 1:
			return "", fmt.Errorf("odd input %d", i)
		case 2:
			panic("handler panic")
		}
		return strconv.Itoa(i), nil
	}}
	e := start(t, 2, func(int) spec { return spec{labels: ai, kinds: []work.AnyKind{flaky}} })
	ctx := ctxT(t, 30*time.Second)
	res, err := work.Run(ctx, e.host(0), flaky, ints(30), work.ChunkSize(1))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		var te *work.TaskError
		switch i % 3 {
		case 0:
			if r.Err != nil || r.Value != strconv.Itoa(i) {
				t.Fatalf("task %d: %+v", i, r)
			}
		case 1:
			if !errors.Is(r.Err, work.ErrTask) || !errors.As(r.Err, &te) || te.Index != i || te.Message != fmt.Sprintf("odd input %d", i) || te.Kind != "flaky" || te.Member != r.Member {
				t.Fatalf("task %d: %+v (%#v)", i, r, te)
			}
		case 2:
			if !errors.As(r.Err, &te) || te.Message != "panic: handler panic" {
				t.Fatalf("task %d: %+v", i, r)
			}
		}
	}
	res, err = work.Run(ctx, e.host(0), flaky, ints(30), work.FailFast())
	var te *work.TaskError
	if !errors.Is(err, work.ErrTask) || !errors.As(err, &te) || te.Index%3 == 0 || res != nil {
		t.Fatalf("FailFast: %d results, %v", len(res), err)
	}
}

func TestBadInput(t *testing.T) {
	e := start(t, 1, func(int) spec { return spec{kinds: []work.AnyKind{square(0)}} })
	ctx := ctxT(t, 10*time.Second)
	h := e.host(0)
	c, err := cache.New[int, string](nil, "wrong", cache.JSON[int, string](), cache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"nil host", runErr(work.Run(ctx, nil, square(0), ints(1))), work.ErrInvalid},
		{"empty kind name", runErr(work.Run(ctx, h, work.Kind[int, int]{}, ints(1))), work.ErrInvalid},
		{"negative chunk", runErr(work.Run(ctx, h, square(0), ints(1), work.ChunkSize(-1))), work.ErrInvalid},
		{"empty role key", runErr(work.Run(ctx, h, square(0), ints(1), work.Role(map[string]string{"": "x"}))), work.ErrInvalid},
		{"cache of other types", runErr(work.Run(ctx, h, square(0), ints(1), work.CacheResults(c, func(i int) int { return i }))), work.ErrInvalid},
		{"nil key function", runErr(work.Run(ctx, h, square(0), ints(1), work.CacheResults[int, int, string](c, nil))), work.ErrInvalid},
		{"nil handler", h.Register(work.Kind[int, int]{Name: "x"}), work.ErrInvalid},
		{"negative workers", h.Register(work.Kind[int, int]{Name: "x", Handler: square(0).Handler, Workers: -1}), work.ErrInvalid},
		{"duplicate kind", h.Register(square(0)), work.ErrInvalid},
		{"nil kind", h.Register(nil), work.ErrInvalid},
		{"nil membership", hostErr(work.NewHost(nil, work.Config{})), work.ErrInvalid},
		{"negative Config.Workers", hostErr(work.NewHost(e.c.Member(0).Membership, work.Config{Workers: -2})), work.ErrInvalid},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	unstarted, err := work.NewHost(e.c.Member(0).Membership, work.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := work.Run(ctx, unstarted, square(0), ints(1)); !errors.Is(err, work.ErrClosed) {
		t.Fatalf("Run on a host not started: %v", err)
	}
	if err := unstarted.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := work.Run(ctx, h, square(0), nil); err != nil || len(res) != 0 {
		t.Fatalf("no tasks: %v, %v", res, err)
	}
	if got := h.Kinds(); len(got) != 1 || got[0] != "square" {
		t.Fatalf("Kinds after failed registrations = %v", got)
	}
}

func runErr[T any](_ T, err error) error    { return err }
func hostErr(_ *work.Host, err error) error { return err }

func TestNoWorkers(t *testing.T) {
	other := work.Kind[int, int]{Name: "other", Handler: square(0).Handler}
	e := start(t, 3, coordinatorAndWorkers(func(int) []work.AnyKind { return []work.AnyKind{other} }))
	ctx := ctxT(t, 30*time.Second)
	_, err := work.Run(ctx, e.host(0), square(0), ints(3), work.Role(map[string]string{"tier": "gpu"}))
	if !errors.Is(err, work.ErrNoWorkers) {
		t.Fatalf("a role nobody has: %v", err)
	}
	_, err = work.Run(ctx, e.host(0), square(0), ints(3), work.Role(ai))
	if !errors.Is(err, work.ErrNoWorkers) {
		t.Fatalf("a kind no member of the role runs: %v", err)
	}
	t.Log(err)
}

func TestCachedResultsAreNotDispatched(t *testing.T) {
	var runs atomic.Int32
	counted := work.Kind[int, int]{Name: "counted", Handler: func(_ context.Context, i int) (int, error) {
		runs.Add(1)
		return i * 10, nil
	}}
	e := start(t, 2, coordinatorAndWorkers(func(int) []work.AnyKind { return []work.AnyKind{counted} }))
	ctx := ctxT(t, 30*time.Second)
	c, err := cache.New[string, int](nil, "results", cache.JSON[string, int](), cache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	key := func(i int) string { return "counted/" + strconv.Itoa(i) }
	if err := c.Put(ctx, key(3), 333, 0); err != nil {
		t.Fatal(err)
	}
	res, err := work.Run(ctx, e.host(0), counted, ints(10), work.CacheResults(c, key))
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 9 || !res[3].Cached || res[3].Value != 333 || res[3].Member != "" || res[4].Cached || res[4].Value != 40 {
		t.Fatalf("first run: %d handler calls, results %+v", runs.Load(), res)
	}
	var last [2]int
	res, err = work.Run(ctx, e.host(0), counted, ints(12), work.CacheResults(c, key),
		work.Progress(func(done, total int) { last = [2]int{done, total} }))
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 11 || last != [2]int{12, 12} {
		t.Fatalf("second run: %d handler calls in all (want 9 + 2 new), last progress %v", runs.Load(), last)
	}
	for i, r := range res {
		if r.Cached != (i < 10) || (i != 3 && r.Value != i*10) {
			t.Fatalf("second run, result %d: %+v", i, r)
		}
	}
	// Everything cached: no member is needed, not even one of the role.
	res, err = work.Run(ctx, e.host(0), counted, ints(12), work.CacheResults(c, key), work.Role(map[string]string{"tier": "gpu"}))
	if err != nil || len(res) != 12 || !res[11].Cached || runs.Load() != 11 {
		t.Fatalf("all cached: %v, %d handler calls", err, runs.Load())
	}
}

func TestStopEndsRuns(t *testing.T) {
	var running atomic.Int32
	block := work.Kind[int, int]{Name: "block", Handler: func(ctx context.Context, i int) (int, error) {
		running.Add(1)
		defer running.Add(-1)
		<-ctx.Done()
		return 0, ctx.Err()
	}}
	e := start(t, 2, coordinatorAndWorkers(func(int) []work.AnyKind { return []work.AnyKind{block} }))
	done := make(chan error, 1)
	go func() {
		_, err := work.Run(context.Background(), e.host(0), block, ints(10))
		done <- err
	}()
	clustertest.Eventually(t, func() bool { return running.Load() == 2 }, 10*time.Second, "the worker's pool is busy")
	ctx := ctxT(t, 10*time.Second)
	if err := e.host(0).Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, work.ErrClosed) {
		t.Fatalf("Run during Stop: %v", err)
	}
	if err := e.host(0).Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	clustertest.Eventually(t, func() bool { return running.Load() == 0 }, 10*time.Second, "the worker's handlers return")
	if _, err := work.Run(ctx, e.host(0), block, ints(1)); !errors.Is(err, work.ErrClosed) {
		t.Fatalf("Run after Stop: %v", err)
	}
}

// rawBytes is a codec that sends a []byte as it is.
type rawBytes struct{}

func (rawBytes) Encode(b []byte) ([]byte, error) { return b, nil }
func (rawBytes) Decode(b []byte) ([]byte, error) { return b, nil }

// TestTaskSizeLimit: an input or an output larger than MaxTaskSize fails
// its own task with ErrCodec, on a remote member and on the caller, and
// the run's other tasks complete.
func TestTaskSizeLimit(t *testing.T) {
	// Each task's input is a length to answer with; the input itself is
	// that many bytes only for the oversized-input task.
	echo := work.Kind[[]byte, []byte]{Name: "sized", Input: rawBytes{}, Output: rawBytes{},
		Handler: func(_ context.Context, in []byte) ([]byte, error) {
			n, err := strconv.Atoi(string(in))
			if err != nil {
				return nil, err
			}
			return make([]byte, n), nil
		}}
	e := start(t, 2, coordinatorAndWorkers(func(int) []work.AnyKind { return []work.AnyKind{echo} }))
	ctx := ctxT(t, 30*time.Second)
	tasks := [][]byte{
		[]byte("10"),
		make([]byte, work.MaxTaskSize+1),           // input too large
		[]byte(strconv.Itoa(work.MaxTaskSize + 1)), // output too large
		[]byte(strconv.Itoa(1000)),
	}
	res, err := work.Run(ctx, e.host(0), echo, tasks, work.Role(ai))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results for 4 tasks", len(res))
	}
	if res[0].Err != nil || len(res[0].Value) != 10 || res[3].Err != nil || len(res[3].Value) != 1000 {
		t.Fatalf("the tasks within the limit: %+v / %v, %d / %v", len(res[0].Value), res[0].Err, len(res[3].Value), res[3].Err)
	}
	for _, i := range []int{1, 2} {
		if !errors.Is(res[i].Err, work.ErrCodec) {
			t.Errorf("task %d: %v, want ErrCodec", i, res[i].Err)
		}
	}
}
