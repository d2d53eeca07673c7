package work

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/protos"
)

// Result is one task's outcome, at the task's index in Run's answer.
type Result[Out any] struct {
	// Value is the task's output (the zero value when Err is set).
	Value Out
	// Err is the task's error: a *TaskError (ErrTask) when its handler
	// failed or panicked, ErrCodec when its input or output could not be
	// encoded or decoded.
	Err error
	// Member is the id of the member whose result was kept ("" for a
	// result read from the cache).
	Member string
	// Cached: the result was read from the cache (CacheResults), the task
	// did not run.
	Cached bool
}

// Option adjusts one Run.
type Option interface{ apply(*runOptions) }

type optionFunc func(*runOptions)

func (f optionFunc) apply(o *runOptions) { f(o) }

type runOptions struct {
	role     map[string]string
	chunk    int
	progress func(done, total int)
	failFast bool
	cache    any // a cacher[In, Out]
	errs     []error
}

// Role runs the tasks on the members whose labels include every pair of
// labels (cluster.Member.HasLabels, as grain.Role placement matches
// members) and that run the kind. Default: every member that runs it.
// The calling member takes part when it matches and runs the kind.
func Role(labels map[string]string) Option {
	labels = maps.Clone(labels)
	return optionFunc(func(o *runOptions) {
		for k := range labels {
			if k == "" {
				o.errs = append(o.errs, fmt.Errorf("%w: Role: a label with an empty key", ErrInvalid))
			}
		}
		o.role = labels
	})
}

// ChunkSize sends tasks to members n at a time. 0 (the default): guided
// chunks, the waiting tasks divided by four times the workers of every
// member used (1 to 64), smaller as the run nears its end so that members
// finish together. Negative is ErrInvalid.
func ChunkSize(n int) Option {
	return optionFunc(func(o *runOptions) {
		if n < 0 {
			o.errs = append(o.errs, fmt.Errorf("%w: ChunkSize %d must be >= 0 (0: guided)", ErrInvalid, n))
		}
		o.chunk = n
	})
}

// Progress calls fn with the number of tasks done (results kept, cached
// ones included) and the total. The calls come from one goroutine, in
// order, with growing done; a slow fn sees fewer calls (counts are
// coalesced) and never slows the run. The first call comes at the start,
// the last, with done == total, before Run returns successfully. Run waits
// for that last call to return only until its ctx ends: fn should return
// promptly.
func Progress(fn func(done, total int)) Option {
	return optionFunc(func(o *runOptions) { o.progress = fn })
}

// FailFast ends the run at the first task error: Run returns that error
// (a *TaskError, or ErrCodec) and no results, and the other tasks are
// cancelled. Default: a task's error is its Result.Err and the run goes on.
func FailFast() Option {
	return optionFunc(func(o *runOptions) { o.failFast = true })
}

// CacheResults reads each task's result from c under key(task) before
// the run: a task with a cached value is not dispatched (its Result is
// Cached). Results computed by the run are stored in c (Cache.PutAll,
// with c's default TTL) before Run returns; errors are not stored. A
// failed cache read counts as misses and a failed write is logged: the
// run's results do not depend on the cache. c holds the kind's outputs;
// key must be consistent across members and runs. A c or key of other
// types than the kind's is ErrInvalid when the run starts.
func CacheResults[In any, K comparable, Out any](c CacheOf[K, Out], key func(In) K) Option {
	return optionFunc(func(o *runOptions) {
		if c == nil || key == nil {
			o.errs = append(o.errs, fmt.Errorf("%w: CacheResults needs a cache and a key function", ErrInvalid))
			return
		}
		o.cache = cacheOpt[In, K, Out]{c: c, key: key}
	})
}

// CacheOf is the part of a *cache.Cache[K, V] (package cache) that
// CacheResults uses.
type CacheOf[K comparable, V any] interface {
	GetAll(ctx context.Context, keys []K) (map[K]V, error)
	PutAll(ctx context.Context, m map[K]V, ttl time.Duration) error
}

type cacher[In, Out any] interface {
	lookup(ctx context.Context, tasks []In) (map[int]Out, error)
	store(ctx context.Context, tasks []In, results map[int]Out) error
}

type cacheOpt[In any, K comparable, Out any] struct {
	c   CacheOf[K, Out]
	key func(In) K
}

func (co cacheOpt[In, K, Out]) lookup(ctx context.Context, tasks []In) (map[int]Out, error) {
	keys := make([]K, len(tasks))
	uniq := make([]K, 0, len(tasks))
	seen := make(map[K]bool, len(tasks))
	for i, t := range tasks {
		keys[i] = co.key(t)
		if !seen[keys[i]] {
			seen[keys[i]] = true
			uniq = append(uniq, keys[i])
		}
	}
	got, err := co.c.GetAll(ctx, uniq)
	if err != nil {
		return nil, err
	}
	hits := map[int]Out{}
	for i, k := range keys {
		if v, ok := got[k]; ok {
			hits[i] = v
		}
	}
	return hits, nil
}

func (co cacheOpt[In, K, Out]) store(ctx context.Context, tasks []In, results map[int]Out) error {
	m := make(map[K]Out, len(results))
	for i, v := range results {
		m[co.key(tasks[i])] = v
	}
	return co.c.PutAll(ctx, m, 0)
}

// Run runs tasks of kind k on the members of h's cluster that run the kind
// (and have the Role, when given) and returns their results in the order
// of tasks, one per task. Tasks travel in chunks (ChunkSize); each member
// runs at most its worker pool's size of the kind's tasks at once, over
// every run; members that finish get the next chunks, and the calling
// member takes part when it qualifies (without encoding anything).
//
// A task's failure is its Result.Err; Run's own error is ErrInvalid (bad
// arguments), ErrNoWorkers (no member runs the kind, or all were lost),
// ErrClosed (h stopped), ctx's error (Run returns promptly once ctx ends,
// after telling the members to cancel the run's tasks: their handlers'
// ctx is cancelled) or, with FailFast, the first task's error. With an
// error Run returns no results.
//
// Promise: every task appears exactly once in the results, in its place.
// Execution is at least once: when a member is lost during the run (its
// stream breaks, the membership reports it unreachable, removed or gone),
// the tasks it held without answering run again on other members, though
// it may have run them already (or still be running them, when it was
// only unreachable); the first result that reaches the caller is kept and
// later ones are dropped. Handlers with side effects should make them
// idempotent. A member that is slow but reachable is waited for: bound the
// run with ctx.
func Run[In, Out any](ctx context.Context, h *Host, k Kind[In, Out], tasks []In, opts ...Option) ([]Result[Out], error) {
	if h == nil {
		return nil, fmt.Errorf("%w: Run: nil Host", ErrInvalid)
	}
	if k.Name == "" {
		return nil, fmt.Errorf("%w: Run: Kind.Name is empty", ErrInvalid)
	}
	if len(tasks) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: Run: %d tasks, at most %d", ErrInvalid, len(tasks), uint64(math.MaxUint32))
	}
	var o runOptions
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if len(o.errs) > 0 {
		return nil, errors.Join(o.errs...)
	}
	var cc cacher[In, Out]
	if o.cache != nil {
		var ok bool
		if cc, ok = o.cache.(cacher[In, Out]); !ok {
			return nil, fmt.Errorf("%w: CacheResults: %T does not match kind %q's input and output types", ErrInvalid, o.cache, k.Name)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rs, err := h.openRun(ctx)
	if err != nil {
		return nil, err
	}
	defer h.closeRun(rs)
	inc, outc := k.codecs()
	r := &run[In, Out]{h: h, rs: rs, kind: k, inc: inc, outc: outc, tasks: tasks, o: o, cache: cc,
		results: make([]Result[Out], len(tasks)), inputs: make([][]byte, len(tasks)),
		state: map[string]*peer{}}
	return r.run(ctx)
}

// run is one Run: its state lives on the caller's goroutine; the streams,
// the local workers and the host post events into rs's inbox.
type run[In, Out any] struct {
	h     *Host
	rs    *runState
	kind  Kind[In, Out]
	inc   Codec[In]
	outc  Codec[Out]
	tasks []In
	o     runOptions
	cache cacher[In, Out]

	results  []Result[Out]
	inputs   [][]byte // encoded inputs, on first dispatch to another member
	s        *sched
	state    map[string]*peer
	opening  int // members being connected or asked
	roleSeen int // members of the role seen in the view
	failed   error
	prog     *progress
	local    *entry // this member's entry of the kind, when it takes part
}

// peer is one member's part in a run.
type peer struct {
	phase phase
	cc    *cconn
	why   string    // phaseOut: why the member is not used
	retry time.Time // phaseOut: when a scan may ask it again
}

// retryOut is how long a member that refused the run or was lost from it
// waits before a scan asks it again (while it is Up): a member that has
// just joined may not serve the work protocol or the kind yet.
const retryOut = time.Second

type phase uint8

const (
	phaseDialing phase = iota + 1
	phaseOpening
	phaseActive
	phaseOut
)

func (r *run[In, Out]) run(ctx context.Context) ([]Result[Out], error) {
	total := len(r.tasks)
	done := make([]bool, total)
	if r.cache != nil {
		hits, err := r.cache.lookup(r.rs.ctx, r.tasks)
		if err != nil {
			r.h.log.Warn("work: reading cached results failed; running every task", zap.String("kind", r.kind.Name), zap.Error(err))
		}
		for i, v := range hits {
			r.results[i] = Result[Out]{Value: v, Cached: true}
			done[i] = true
		}
	}
	r.s = newSched(done, r.o.chunk)
	r.prog = r.h.startProgress(r.o.progress, total, total-r.s.remaining())
	err := r.loop()
	r.end()
	if err != nil {
		r.prog.stop(ctx)
		if errors.Is(context.Cause(r.rs.ctx), ErrClosed) {
			return nil, fmt.Errorf("%w: run of kind %q ended with %d of %d tasks done", ErrClosed, r.kind.Name, total-r.s.remaining(), total)
		}
		return nil, err
	}
	if r.cache != nil {
		computed := map[int]Out{}
		for i, res := range r.results {
			if !res.Cached && res.Err == nil {
				computed[i] = res.Value
			}
		}
		if len(computed) > 0 {
			if err := r.cache.store(ctx, r.tasks, computed); err != nil {
				r.h.log.Warn("work: storing results in the cache failed", zap.String("kind", r.kind.Name), zap.Error(err))
			}
		}
	}
	r.prog.stop(ctx)
	return r.results, nil
}

func (r *run[In, Out]) loop() error {
	if r.s.finished() {
		return nil // every result was cached
	}
	r.scan()
	for {
		r.dispatch()
		if r.failed != nil {
			return r.failed
		}
		if r.s.finished() {
			return nil
		}
		if r.s.active() == 0 && r.opening == 0 {
			r.scan()
			if r.s.active() == 0 && r.opening == 0 {
				return r.noWorkers()
			}
			continue
		}
		select {
		case <-r.rs.inbox.signal:
		case <-r.rs.ctx.Done():
			return fmt.Errorf("work: run of kind %q stopped with %d of %d tasks done: %w",
				r.kind.Name, len(r.tasks)-r.s.remaining(), len(r.tasks), r.rs.ctx.Err())
		}
		for _, ev := range r.rs.inbox.drain() {
			r.handle(ev)
		}
	}
}

// scan takes the members of the role not yet seen, and those out of the
// run for retryOut: this member at once when it runs the kind, the others
// once they accept the run.
func (r *run[In, Out]) scan() {
	r.rs.viewPending.Store(false)
	now := time.Now()
	for _, m := range r.h.ms.View().Members {
		if (m.Status != cluster.Up && m.ID != r.h.self) || !m.HasLabels(r.o.role) {
			continue
		}
		if p, seen := r.state[m.ID]; !seen {
			r.roleSeen++
		} else if p.phase != phaseOut || now.Before(p.retry) {
			continue
		}
		if m.ID == r.h.self {
			if e := r.h.kind(r.kind.Name); e != nil {
				r.local = e
				r.state[m.ID] = &peer{phase: phaseActive}
				r.s.add(m.ID, e.workers)
			} else {
				r.state[m.ID] = &peer{phase: phaseOut, why: "does not run the kind", retry: now.Add(retryOut)}
			}
			continue
		}
		r.state[m.ID] = &peer{phase: phaseDialing}
		r.opening++
		c, err := r.h.client(m.ID)
		id, rs := m.ID, r.rs
		if err != nil || !r.h.goFunc(func() {
			cc, err := c.connect(rs.ctx)
			if err != nil {
				rs.inbox.post(event{kind: evRefused, member: id, err: err})
				return
			}
			rs.inbox.post(event{kind: evConnected, member: id, cc: cc})
		}) {
			r.out(id, "the host stopped")
		}
	}
}

// out takes member id out of the run; its unanswered tasks wait again.
func (r *run[In, Out]) out(id, why string) {
	p := r.state[id]
	if p == nil || p.phase == phaseOut {
		return
	}
	if p.phase == phaseDialing || p.phase == phaseOpening {
		r.opening--
	}
	if p.phase == phaseActive {
		if n := r.s.lose(id); n > 0 {
			r.h.log.Info("work: member lost during a run; its tasks run again elsewhere", zap.String("kind", r.kind.Name),
				zap.String("member", id), zap.Int("tasks", n), zap.String("reason", why))
		}
	}
	if p.cc != nil {
		p.cc.detach(r.rs)
		_ = p.cc.write(&protos.WorkRequest{Run: r.rs.id, Op: protos.WorkOp_WORK_OP_CLOSE})
	}
	p.phase, p.why, p.cc, p.retry = phaseOut, why, nil, time.Now().Add(retryOut)
}

func (r *run[In, Out]) handle(ev event) {
	p := r.state[ev.member]
	switch ev.kind {
	case evView:
		r.scan()
	case evConnected:
		if p == nil || p.phase != phaseDialing {
			return
		}
		if !ev.cc.attach(r.rs) {
			r.out(ev.member, "stream closed")
			return
		}
		p.cc, p.phase = ev.cc, phaseOpening
		if err := ev.cc.write(&protos.WorkRequest{Run: r.rs.id, Op: protos.WorkOp_WORK_OP_OPEN, Kind: r.kind.Name}); err != nil {
			r.out(ev.member, err.Error())
		}
	case evRefused, evLost:
		r.out(ev.member, ev.err.Error())
	case evOpened:
		if p == nil || p.phase != phaseOpening {
			return
		}
		if ev.workers < 1 {
			r.out(ev.member, "no workers for the kind")
			return
		}
		r.opening--
		p.phase = phaseActive
		r.s.add(ev.member, ev.workers)
	case evResult:
		if !r.s.complete(ev.member, ev.index) {
			return // a late duplicate, or a task of a member lost earlier that another member answered
		}
		res := Result[Out]{Member: ev.member}
		switch {
		case ev.failed && ev.codec:
			res.Err = fmt.Errorf("%w: task %d: %s", ErrCodec, ev.index, ev.text)
		case ev.failed:
			res.Err = &TaskError{Kind: r.kind.Name, Index: ev.index, Member: ev.member, Message: ev.text}
		case ev.local:
			res.Value = ev.value.(Out)
		default:
			v, err := r.outc.Decode(ev.output)
			if err != nil {
				res.Err = fmt.Errorf("%w: task %d: decoding the output: %v", ErrCodec, ev.index, err)
			}
			res.Value = v
		}
		r.results[ev.index] = res
		r.prog.advance()
		if res.Err != nil && r.o.failFast && r.failed == nil {
			r.failed = res.Err
		}
	}
}

// dispatch sends every chunk the scheduler hands out now.
func (r *run[In, Out]) dispatch() {
	for r.failed == nil {
		id, chunk, ok := r.s.next()
		if !ok {
			return
		}
		if id == r.h.self {
			r.runLocal(chunk)
			continue
		}
		r.send(id, chunk)
	}
}

// send writes a chunk to member id, in frames of up to maxChunkBytes of
// inputs. A task whose input cannot be encoded fails with ErrCodec here.
func (r *run[In, Out]) send(id string, chunk []int) {
	p := r.state[id]
	req := &protos.WorkRequest{Run: r.rs.id, Op: protos.WorkOp_WORK_OP_CHUNK}
	size := 0
	flush := func() bool {
		if len(req.Tasks) == 0 {
			return true
		}
		err := p.cc.write(req)
		req = &protos.WorkRequest{Run: r.rs.id, Op: protos.WorkOp_WORK_OP_CHUNK}
		size = 0
		if err != nil {
			r.out(id, "write failed: "+err.Error())
			return false
		}
		return true
	}
	for _, i := range chunk {
		b, err := r.input(i)
		if err != nil {
			r.handle(event{kind: evResult, member: id, index: i, failed: true, codec: true, text: err.Error()})
			continue
		}
		if size > 0 && size+len(b) > maxChunkBytes && !flush() {
			return
		}
		req.Tasks = append(req.Tasks, &protos.WorkTask{Index: uint32(i), Input: b})
		size += len(b)
	}
	flush()
}

func (r *run[In, Out]) input(i int) ([]byte, error) {
	if r.inputs[i] != nil {
		return r.inputs[i], nil
	}
	b, err := r.inc.Encode(r.tasks[i])
	if err != nil {
		return nil, fmt.Errorf("encoding the input: %v", err)
	}
	if len(b) > MaxTaskSize {
		return nil, fmt.Errorf("input of %d bytes exceeds MaxTaskSize (%d)", len(b), MaxTaskSize)
	}
	if b == nil {
		b = []byte{}
	}
	r.inputs[i] = b
	return b, nil
}

// runLocal runs a chunk on this member's pool, on goroutines of the host
// (a handler that ignores its ctx does not hold Run up).
func (r *run[In, Out]) runLocal(chunk []int) {
	e, rs, self := r.local, r.rs, r.h.self
	typed, _ := e.typed.(func(context.Context, In) (Out, error))
	for _, i := range chunk {
		in := r.tasks[i]
		ok := r.h.goFunc(func() {
			if !e.acquire(rs.ctx) {
				return
			}
			ev := event{kind: evResult, member: self, index: i}
			err := protect(func() error {
				if typed != nil {
					out, err := typed(rs.ctx, in)
					ev.value, ev.local = out, true
					return err
				}
				// Registered with other types: through the codecs.
				b, err := r.inc.Encode(in)
				if err != nil {
					ev.codec = true
					return fmt.Errorf("encoding the input: %v", err)
				}
				ob, err := e.call(rs.ctx, b)
				if err != nil {
					ev.codec = errors.Is(err, ErrCodec)
					return err
				}
				ev.output = ob
				return nil
			})
			e.release()
			if rs.ctx.Err() != nil {
				return
			}
			if err != nil {
				ev.failed, ev.text, ev.value, ev.local, ev.output = true, err.Error(), nil, false, nil
			}
			rs.inbox.post(ev)
		})
		if !ok {
			return // the host stopped: the run ends with ErrClosed
		}
	}
}

// end tells every member used to forget the run (cancelling its tasks
// there) and stops this member's tasks of the run.
func (r *run[In, Out]) end() {
	r.rs.cancel(context.Canceled)
	for _, p := range r.state {
		if p.cc != nil {
			p.cc.detach(r.rs)
			_ = p.cc.write(&protos.WorkRequest{Run: r.rs.id, Op: protos.WorkOp_WORK_OP_CLOSE})
		}
	}
}

func (r *run[In, Out]) noWorkers() error {
	role := "any role"
	if len(r.o.role) > 0 {
		keys := slices.Sorted(maps.Keys(r.o.role))
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(k + "=" + r.o.role[k])
		}
		role = "role " + b.String()
	}
	if r.roleSeen == 0 {
		return fmt.Errorf("%w: kind %q: no Up member has %s", ErrNoWorkers, r.kind.Name, role)
	}
	ids := slices.Sorted(maps.Keys(r.state))
	var why []string
	for _, id := range ids {
		why = append(why, fmt.Sprintf("member %s: %s", id, r.state[id].why))
	}
	return fmt.Errorf("%w: kind %q, %s: no member can run its tasks (%d of %d unfinished): %s",
		ErrNoWorkers, r.kind.Name, role, r.s.remaining(), len(r.tasks), strings.Join(why, "; "))
}

// progress reports a run's progress from one goroutine of the host,
// coalescing counts when fn is slow.
type progress struct {
	fn       func(done, total int)
	total    int
	done     atomic.Int64
	signal   chan struct{}
	final    chan struct{}
	finished chan struct{}
	started  bool
}

func (h *Host) startProgress(fn func(done, total int), total, done int) *progress {
	p := &progress{fn: fn, total: total, signal: make(chan struct{}, 1), final: make(chan struct{}), finished: make(chan struct{})}
	p.done.Store(int64(done))
	if fn == nil {
		return p
	}
	p.started = h.goFunc(func() {
		defer close(p.finished)
		last := -1
		report := func() {
			if d := int(p.done.Load()); d != last {
				last = d
				fn(d, p.total)
			}
		}
		report()
		for {
			select {
			case <-p.signal:
				report()
			case <-p.final:
				report()
				return
			}
		}
	})
	return p
}

func (p *progress) advance() {
	p.done.Add(1)
	if p.started {
		select {
		case p.signal <- struct{}{}:
		default:
		}
	}
}

// stop makes the last report and waits for it until ctx ends.
func (p *progress) stop(ctx context.Context) {
	if !p.started {
		return
	}
	close(p.final)
	select {
	case <-p.finished:
	case <-ctx.Done():
	}
}
