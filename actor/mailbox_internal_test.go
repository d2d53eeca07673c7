package actor

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
)

// These tests drive the mailbox directly, with a fake MessageInvoker and a
// fake Dispatcher, to check the engine's mailbox contract message by message.

// mbUser is a user message: the n-th message of poster from.
type mbUser struct{ from, n int }

// mbSys is a system message: the n-th system message of poster from.
type mbSys struct{ from, n int }

func (*mbSys) SystemMessage() {}

// mbBatch is a proto.actor MessageBatch.
type mbBatch struct{ msgs []any }

func (b *mbBatch) GetMessages() []any { return b.msgs }

var _ pa.MessageBatch = (*mbBatch)(nil)

// mbEntry is one call on the invoker, in the order the runner made it.
type mbEntry struct {
	kind   byte // 'u' user, 's' system, 'e' escalation
	msg    any
	reason any
}

// mbInvoker records every call. Its log is written by the runner only and
// read by a test once the mailbox is idle: the mailbox's own lock is what
// orders the two, so the race detector checks the mailbox's hand-offs.
type mbInvoker struct {
	// Calls in progress: more than one means processMessages ran on two
	// goroutines at once.
	active  atomic.Int32
	overlap atomic.Bool

	users, systems, escalations atomic.Int64

	// Set before the first post.
	onUser     func(msg any)
	onSystem   func(msg any)
	onEscalate func(reason, msg any)

	log []mbEntry
}

func (v *mbInvoker) enter() {
	if v.active.Add(1) != 1 {
		v.overlap.Store(true)
	}
}

func (v *mbInvoker) exit() { v.active.Add(-1) }

func (v *mbInvoker) InvokeUserMessage(msg any) {
	v.enter()
	defer v.exit()
	v.log = append(v.log, mbEntry{kind: 'u', msg: msg})
	v.users.Add(1)
	if v.onUser != nil {
		v.onUser(msg)
	}
}

func (v *mbInvoker) InvokeSystemMessage(msg any) {
	v.enter()
	defer v.exit()
	v.log = append(v.log, mbEntry{kind: 's', msg: msg})
	v.systems.Add(1)
	if v.onSystem != nil {
		v.onSystem(msg)
	}
}

func (v *mbInvoker) EscalateFailure(reason, msg any) {
	v.enter()
	defer v.exit()
	v.log = append(v.log, mbEntry{kind: 'e', msg: msg, reason: reason})
	v.escalations.Add(1)
	if v.onEscalate != nil {
		v.onEscalate(reason, msg)
	}
}

// mbDispatcher runs every scheduled function on a new goroutine and tracks
// them: how many were scheduled, how many still live, and the most live at
// once. (Two may legitimately be live at once for an instant: the old runner
// between marking the mailbox idle and returning, the new one starting; the
// invoker's overlap flag is the exact check of mutual exclusion.)
type mbDispatcher struct {
	throughput      int
	throughputCalls atomic.Int64
	schedules       atomic.Int64
	live, maxLive   atomic.Int32
}

func (d *mbDispatcher) Schedule(fn func()) {
	d.schedules.Add(1)
	n := d.live.Add(1)
	for {
		old := d.maxLive.Load()
		if n <= old || d.maxLive.CompareAndSwap(old, n) {
			break
		}
	}
	go func() {
		defer d.live.Add(-1)
		fn()
	}()
}

func (d *mbDispatcher) Throughput() int {
	d.throughputCalls.Add(1)
	return d.throughput
}

// newTestMailbox returns a registered mailbox; at cleanup it waits (bounded)
// for the mailbox to go idle and every runner goroutine to exit, for goleak.
func newTestMailbox(t *testing.T, throughput int) (*mailbox, *mbInvoker, *mbDispatcher) {
	t.Helper()
	m := newMailbox().(*mailbox)
	inv := &mbInvoker{}
	d := &mbDispatcher{throughput: throughput}
	m.RegisterHandlers(inv, d)
	m.Start()
	t.Cleanup(func() {
		if !mbPoll(2*time.Second, func() bool { return mbIdle(m) && d.live.Load() == 0 }) {
			t.Errorf("cleanup: mailbox still running (live runners %d)", d.live.Load())
		}
	})
	return m, inv, d
}

// mbPost runs posters goroutines, each calling post(f, n) for n in
// [0, each), and returns when all have finished.
func mbPost(posters, each int, post func(f, n int)) {
	var wg sync.WaitGroup
	for f := range posters {
		wg.Go(func() {
			for n := range each {
				post(f, n)
			}
		})
	}
	wg.Wait()
}

// mbHoldFirst makes the invoker block in user message number 0: entered
// closes when it is being handled, and it returns when release is closed.
func mbHoldFirst(inv *mbInvoker) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	inv.onUser = func(msg any) {
		if msg.(*mbUser).n == 0 {
			close(entered)
			<-release
		}
	}
	return entered, release
}

// mbIdle reports whether no run is scheduled or running.
func mbIdle(m *mailbox) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.scheduled
}

// mbPoll polls cond every 100µs until it holds (true) or d has passed
// (false).
func mbPoll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
	return true
}

// mbWaitFor polls cond until it holds, failing the test after d.
func mbWaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !mbPoll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// mbSettle waits until the mailbox is idle and its runners have exited; then
// the invoker's log may be read.
func mbSettle(t *testing.T, m *mailbox, d *mbDispatcher) {
	t.Helper()
	mbWaitFor(t, 10*time.Second, "the mailbox to go idle", func() bool {
		return mbIdle(m) && d.live.Load() == 0
	})
}

func mbCheckNoOverlap(t *testing.T, inv *mbInvoker) {
	t.Helper()
	if inv.overlap.Load() {
		t.Fatal("processMessages ran on two goroutines at once")
	}
}

func mbCheckCountZero(t *testing.T, m *mailbox) {
	t.Helper()
	if n := m.UserMessageCount(); n != 0 {
		t.Fatalf("UserMessageCount = %d once every message is handled, want 0", n)
	}
}

// TestMailboxConcurrentPostersExactlyOnceInOrder: 8 posters × 20k user
// messages (5k when yielding after every message); each is delivered exactly
// once, each poster's in its order, and processMessages never runs twice at
// once.
func TestMailboxConcurrentPostersExactlyOnceInOrder(t *testing.T) {
	for _, c := range []struct{ throughput, each int }{{300, 20_000}, {1, 5_000}} {
		t.Run(fmt.Sprintf("throughput=%d", c.throughput), func(t *testing.T) {
			const posters = 8
			tp, each := c.throughput, c.each
			m, inv, d := newTestMailbox(t, tp)
			mbPost(posters, each, func(f, n int) { m.PostUserMessage(&mbUser{f, n}) })
			mbWaitFor(t, 30*time.Second, "every message", func() bool { return inv.users.Load() == int64(posters*each) })
			mbSettle(t, m, d)
			mbCheckNoOverlap(t, inv)
			var next [posters]int
			for i, e := range inv.log {
				u, ok := e.msg.(*mbUser)
				if e.kind != 'u' || !ok {
					t.Fatalf("log[%d] = %c %v, want only user messages", i, e.kind, e.msg)
				}
				if u.n != next[u.from] {
					t.Fatalf("poster %d: got message %d, want %d (lost, duplicated or reordered)", u.from, u.n, next[u.from])
				}
				next[u.from]++
			}
			if len(inv.log) != posters*each {
				t.Fatalf("%d calls, want %d", len(inv.log), posters*each)
			}
			if d.throughputCalls.Load() == 0 {
				t.Fatal("Dispatcher.Throughput never consulted")
			}
			mbCheckCountZero(t, m)
			t.Logf("%d runs scheduled, at most %d runner goroutines live at once", d.schedules.Load(), d.maxLive.Load())
		})
	}
}

// TestMailboxNoLostWakeUp: two posters each post one message and wait for
// it, thousands of times, so posts keep racing with the runner going idle.
func TestMailboxNoLostWakeUp(t *testing.T) {
	const posters, rounds = 2, 3000
	m, inv, d := newTestMailbox(t, 300)
	var acks [posters]chan struct{}
	for i := range acks {
		acks[i] = make(chan struct{}, 1)
	}
	inv.onUser = func(msg any) { acks[msg.(*mbUser).from] <- struct{}{} }
	errs := make(chan error, posters)
	for f := range posters {
		go func() {
			for n := range rounds {
				m.PostUserMessage(&mbUser{f, n})
				select {
				case <-acks[f]:
				case <-time.After(2 * time.Second):
					errs <- fmt.Errorf("poster %d: message %d never handled (lost wake-up)", f, n)
					return
				}
			}
			errs <- nil
		}()
	}
	for range posters {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	mbSettle(t, m, d)
	mbCheckNoOverlap(t, inv)
	mbCheckCountZero(t, m)
}

// TestMailboxSystemMessagesOvertakeLaterUserMessages: posters interleave
// system messages with user messages; a system message a poster posted
// before a user message is invoked before that user message.
func TestMailboxSystemMessagesOvertakeLaterUserMessages(t *testing.T) {
	const posters, each, every = 8, 5_000, 8
	m, inv, d := newTestMailbox(t, 300)
	mbPost(posters, each, func(f, n int) {
		if n%every == 0 {
			m.PostSystemMessage(&mbSys{f, n / every})
		}
		m.PostUserMessage(&mbUser{f, n})
	})
	const sysEach = (each + every - 1) / every
	mbWaitFor(t, 30*time.Second, "every message", func() bool {
		return inv.users.Load() == posters*each && inv.systems.Load() == posters*sysEach
	})
	mbSettle(t, m, d)
	mbCheckNoOverlap(t, inv)
	var nextUser, nextSys [posters]int
	for i, e := range inv.log {
		switch msg := e.msg.(type) {
		case *mbSys:
			if msg.n != nextSys[msg.from] {
				t.Fatalf("log[%d]: poster %d system message %d, want %d", i, msg.from, msg.n, nextSys[msg.from])
			}
			nextSys[msg.from]++
		case *mbUser:
			if msg.n != nextUser[msg.from] {
				t.Fatalf("log[%d]: poster %d user message %d, want %d", i, msg.from, msg.n, nextUser[msg.from])
			}
			nextUser[msg.from]++
			// System messages 0..n/every were posted before user message n.
			if need := msg.n/every + 1; nextSys[msg.from] < need {
				t.Fatalf("log[%d]: poster %d user message %d invoked before its system message %d posted ahead of it",
					i, msg.from, msg.n, nextSys[msg.from])
			}
		default:
			t.Fatalf("log[%d]: unexpected %c %v", i, e.kind, e.msg)
		}
	}
	mbCheckCountZero(t, m)
}

// TestMailboxSuspendResume: after SuspendMailbox no user message is
// delivered until ResumeMailbox, system messages still are, and after resume
// the queued user messages arrive in order. Suspension both from outside
// (an idle mailbox) and from inside a handler (as EscalateFailure does).
func TestMailboxSuspendResume(t *testing.T) {
	t.Run("posted while idle", func(t *testing.T) {
		const queued = 100
		m, inv, d := newTestMailbox(t, 300)
		m.PostSystemMessage(&pa.SuspendMailbox{})
		for n := range queued {
			m.PostUserMessage(&mbUser{0, n})
		}
		for k := range 3 {
			m.PostSystemMessage(&mbSys{0, k})
			mbWaitFor(t, 2*time.Second, "the system message while suspended", func() bool { return inv.systems.Load() == int64(k+1) })
			mbSettle(t, m, d)
			if n := inv.users.Load(); n != 0 {
				t.Fatalf("%d user messages delivered while suspended", n)
			}
			if n := m.UserMessageCount(); n != queued {
				t.Fatalf("UserMessageCount = %d while suspended, want %d", n, queued)
			}
		}
		m.PostSystemMessage(&pa.ResumeMailbox{})
		mbWaitFor(t, 2*time.Second, "the queued messages after resume", func() bool { return inv.users.Load() == queued })
		mbSettle(t, m, d)
		mbCheckNoOverlap(t, inv)
		want := 0
		for i, e := range inv.log {
			switch msg := e.msg.(type) {
			case *mbSys:
				if want != 0 {
					t.Fatalf("log[%d]: system message after user messages", i)
				}
			case *mbUser:
				if msg.n != want {
					t.Fatalf("log[%d]: user message %d, want %d", i, msg.n, want)
				}
				want++
			default:
				t.Fatalf("log[%d] = %c %v passed to the invoker", i, e.kind, e.msg)
			}
		}
		mbCheckCountZero(t, m)
	})

	t.Run("posted by a handler mid-stream", func(t *testing.T) {
		const total, at = 200, 50
		m, inv, d := newTestMailbox(t, 300)
		inv.onUser = func(msg any) {
			if msg.(*mbUser).n == at {
				m.PostSystemMessage(&pa.SuspendMailbox{})
			}
		}
		for n := range total {
			m.PostUserMessage(&mbUser{0, n})
		}
		mbWaitFor(t, 2*time.Second, "the messages up to the suspension", func() bool { return inv.users.Load() == at+1 })
		mbSettle(t, m, d)
		m.PostSystemMessage(&mbSys{0, 0})
		mbWaitFor(t, 2*time.Second, "the system message while suspended", func() bool { return inv.systems.Load() == 1 })
		mbSettle(t, m, d)
		if n := inv.users.Load(); n != at+1 {
			t.Fatalf("%d user messages delivered, want %d (none after the suspension)", n, at+1)
		}
		m.PostSystemMessage(&pa.ResumeMailbox{})
		mbWaitFor(t, 2*time.Second, "every message after resume", func() bool { return inv.users.Load() == total })
		mbSettle(t, m, d)
		mbCheckNoOverlap(t, inv)
		want := 0
		for _, e := range inv.log {
			if e.kind == 'u' {
				if u := e.msg.(*mbUser); u.n != want {
					t.Fatalf("user message %d, want %d", u.n, want)
				}
				want++
			}
		}
		mbCheckCountZero(t, m)
	})
}

// mbPanicReason is what the invoker panics with for message n.
type mbPanicReason struct{ n int }

// TestMailboxPanicIsEscalated: a panic in InvokeUserMessage reaches
// EscalateFailure with the reason and the message that panicked (the fake
// EscalateFailure does nothing else), and every later message is still
// delivered, once and in order, also under concurrent posters.
func TestMailboxPanicIsEscalated(t *testing.T) {
	const posters, each = 4, 5_000
	panics := func(n int) bool { return n%97 == 5 || n == each-1 }
	m, inv, d := newTestMailbox(t, 300)
	inv.onUser = func(msg any) {
		if u := msg.(*mbUser); panics(u.n) {
			panic(&mbPanicReason{u.n})
		}
	}
	mbPost(posters, each, func(f, n int) { m.PostUserMessage(&mbUser{f, n}) })
	mbWaitFor(t, 30*time.Second, "every message", func() bool { return inv.users.Load() == int64(posters*each) })
	mbSettle(t, m, d)
	mbCheckNoOverlap(t, inv)
	var next [posters]int
	var pending *mbUser // delivered and panicked, not yet escalated
	escalated := 0
	for i, e := range inv.log {
		switch e.kind {
		case 'u':
			if pending != nil {
				t.Fatalf("log[%d]: message delivered before the failure of %v was escalated", i, *pending)
			}
			u := e.msg.(*mbUser)
			if u.n != next[u.from] {
				t.Fatalf("log[%d]: poster %d message %d, want %d", i, u.from, u.n, next[u.from])
			}
			next[u.from]++
			if panics(u.n) {
				pending = u
			}
		case 'e':
			if pending == nil {
				t.Fatalf("log[%d]: escalation without a panic", i)
			}
			if e.msg != any(pending) {
				t.Fatalf("log[%d]: escalated message %v, want %v", i, e.msg, *pending)
			}
			if r, ok := e.reason.(*mbPanicReason); !ok || r.n != pending.n {
				t.Fatalf("log[%d]: escalated reason %v, want the panic value for %d", i, e.reason, pending.n)
			}
			pending = nil
			escalated++
		default:
			t.Fatalf("log[%d]: unexpected %c", i, e.kind)
		}
	}
	if pending != nil {
		t.Fatalf("failure of %v never escalated", *pending)
	}
	want := 0
	for n := range each {
		if panics(n) {
			want += posters
		}
	}
	if escalated != want {
		t.Fatalf("%d escalations, want %d", escalated, want)
	}
	// UserMessageCount after a panic: TestMailboxUserMessageCountZeroAfterDrain.
}

// TestMailboxPanicInSystemMessageKeepsTheRest: a panic in
// InvokeSystemMessage is escalated, and the system and user messages queued
// behind it in the same batch are still delivered, system ones first.
func TestMailboxPanicInSystemMessageKeepsTheRest(t *testing.T) {
	m, inv, d := newTestMailbox(t, 300)
	entered, release := mbHoldFirst(inv)
	inv.onSystem = func(msg any) {
		if msg.(*mbSys).n == 1 {
			panic("sys boom")
		}
	}
	m.PostUserMessage(&mbUser{0, 0})
	<-entered
	// Queued while the runner is busy: one system batch, one user batch.
	for k := range 3 {
		m.PostSystemMessage(&mbSys{0, k})
	}
	m.PostUserMessage(&mbUser{0, 1})
	close(release)
	mbWaitFor(t, 2*time.Second, "every message", func() bool { return inv.users.Load() == 2 && inv.systems.Load() == 3 })
	mbSettle(t, m, d)
	mbCheckNoOverlap(t, inv)
	var got []string
	for _, e := range inv.log {
		switch e.kind {
		case 'e':
			got = append(got, fmt.Sprintf("e:%v:%v", e.reason, *e.msg.(*mbSys)))
		default:
			got = append(got, fmt.Sprintf("%c:%v", e.kind, e.msg))
		}
	}
	want := []string{"u:&{0 0}", "s:&{0 0}", "s:&{0 1}", "e:sys boom:{0 1}", "s:&{0 2}", "u:&{0 1}"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("calls\n got %v\nwant %v", got, want)
	}
	mbCheckCountZero(t, m)
}

// TestMailboxMessageBatchIsUnpacked: as in the engine's mailbox, a
// MessageBatch (bare or in an envelope) delivers its messages, then itself.
func TestMailboxMessageBatchIsUnpacked(t *testing.T) {
	m, inv, d := newTestMailbox(t, 300)
	b1 := &mbBatch{msgs: []any{"a", "b"}}
	env := &pa.MessageEnvelope{Message: &mbBatch{msgs: []any{"c", "d"}}}
	m.PostUserMessage(b1)
	m.PostUserMessage(env)
	mbWaitFor(t, 2*time.Second, "every message", func() bool { return inv.users.Load() == 6 })
	mbSettle(t, m, d)
	want := []any{"a", "b", b1, "c", "d", env}
	for i, e := range inv.log {
		if e.kind != 'u' || e.msg != want[i] {
			t.Fatalf("call %d = %c %v, want %v", i, e.kind, e.msg, want[i])
		}
	}
	mbCheckCountZero(t, m)
}

// TestMailboxUserMessageCount: the count covers queued messages and is 0
// once every message is handled.
func TestMailboxUserMessageCount(t *testing.T) {
	m, inv, d := newTestMailbox(t, 300)
	if n := m.UserMessageCount(); n != 0 {
		t.Fatalf("new mailbox: UserMessageCount = %d", n)
	}
	entered, release := mbHoldFirst(inv)
	m.PostUserMessage(&mbUser{0, 0})
	<-entered
	for n := 1; n <= 10; n++ {
		m.PostUserMessage(&mbUser{0, n})
	}
	// 10 queued, plus (give or take) the one being handled.
	if n := m.UserMessageCount(); n < 10 || n > 11 {
		t.Fatalf("UserMessageCount = %d with 10 queued behind a busy handler", n)
	}
	close(release)
	mbWaitFor(t, 2*time.Second, "every message", func() bool { return inv.users.Load() == 11 })
	mbSettle(t, m, d)
	mbCheckCountZero(t, m)
}

// The tests below each pin down one interleaving.

// TestMailboxUserMessageCountZeroAfterDrain: once every queued user message
// is handled the count is 0, as the engine's mailbox reports, also when the
// last one panicked, or when its handler suspended the mailbox (as
// proto.actor's EscalateFailure does).
func TestMailboxUserMessageCountZeroAfterDrain(t *testing.T) {
	const total = 10
	t.Run("last message panicked", func(t *testing.T) {
		m, inv, d := newTestMailbox(t, 300)
		inv.onUser = func(msg any) {
			if msg.(*mbUser).n == total-1 {
				panic("boom")
			}
		}
		for n := range total {
			m.PostUserMessage(&mbUser{0, n})
		}
		mbWaitFor(t, 2*time.Second, "the escalation", func() bool { return inv.escalations.Load() == 1 })
		mbSettle(t, m, d)
		if n := inv.users.Load(); n != total {
			t.Fatalf("%d of %d messages delivered", n, total)
		}
		mbCheckCountZero(t, m)
	})
	t.Run("mailbox suspended by the last handler", func(t *testing.T) {
		m, inv, d := newTestMailbox(t, 300)
		inv.onUser = func(msg any) {
			if msg.(*mbUser).n == total-1 {
				m.PostSystemMessage(&pa.SuspendMailbox{})
			}
		}
		for n := range total {
			m.PostUserMessage(&mbUser{0, n})
		}
		mbWaitFor(t, 2*time.Second, "every message", func() bool { return inv.users.Load() == total })
		mbSettle(t, m, d)
		countWhileSuspended := m.UserMessageCount()
		m.PostSystemMessage(&pa.ResumeMailbox{})
		mbSettle(t, m, d)
		if countWhileSuspended != 0 {
			t.Fatalf("UserMessageCount = %d with no message queued (mailbox suspended), want 0", countWhileSuspended)
		}
		mbCheckCountZero(t, m)
	})
}

// TestMailboxSuspendedKeepsALargeQueue: user messages keep arriving while
// the mailbox is suspended (each post schedules a run that finds it
// suspended and goes idle). More than recycleCap of them must all be
// delivered after ResumeMailbox.
func TestMailboxSuspendedKeepsALargeQueue(t *testing.T) {
	const queued = 2 * recycleCap
	m, inv, d := newTestMailbox(t, 300)
	m.PostSystemMessage(&pa.SuspendMailbox{})
	m.PostSystemMessage(&mbSys{0, 0})
	mbWaitFor(t, 2*time.Second, "the suspension", func() bool { return inv.systems.Load() == 1 })
	mbSettle(t, m, d)
	for n := range queued {
		m.PostUserMessage(&mbUser{0, n})
	}
	mbSettle(t, m, d)
	if n := inv.users.Load(); n != 0 {
		t.Fatalf("%d user messages delivered while suspended", n)
	}
	m.PostSystemMessage(&pa.ResumeMailbox{})
	mbSettle(t, m, d)
	if n := inv.users.Load(); n != queued {
		t.Fatalf("%d of %d user messages queued while suspended delivered after resume (UserMessageCount %d)",
			n, queued, m.UserMessageCount())
	}
}

// TestMailboxPanicInALargeBatchKeepsTheRest: the runner takes a batch of
// more than recycleCap messages; the first panics; EscalateFailure suspends
// the mailbox, as proto.actor's actorContext.EscalateFailure does; the
// supervisor then resumes it. Every message behind the panicking one must
// still be delivered.
func TestMailboxPanicInALargeBatchKeepsTheRest(t *testing.T) {
	const burst = 2 * recycleCap
	m, inv, d := newTestMailbox(t, 300)
	entered, release := mbHoldFirst(inv)
	hold := inv.onUser
	inv.onUser = func(msg any) {
		switch msg.(*mbUser).n {
		case 0:
			hold(msg)
		case 1:
			panic("boom")
		}
	}
	inv.onEscalate = func(any, any) { m.PostSystemMessage(&pa.SuspendMailbox{}) }
	m.PostUserMessage(&mbUser{0, 0})
	<-entered
	// Queued behind message 0: the runner takes them as one batch.
	for n := 1; n <= burst; n++ {
		m.PostUserMessage(&mbUser{0, n})
	}
	close(release)
	mbWaitFor(t, 2*time.Second, "the escalation", func() bool { return inv.escalations.Load() == 1 })
	mbSettle(t, m, d)
	m.PostSystemMessage(&pa.ResumeMailbox{})
	mbSettle(t, m, d)
	if n := inv.users.Load(); n != burst+1 {
		t.Fatalf("%d of %d user messages delivered after the failure and resume (UserMessageCount %d)",
			n, burst+1, m.UserMessageCount())
	}
}

// TestMailboxSystemMessageBeforeUserAcrossBatchSwap: a poster posts a system
// message S, then a user message U, while the runner is between its look at
// sysPending (false) and taking the lock to swap in the next user batch. U
// was posted after S, so S must be invoked first.
//
// The test holds m.mu, lets the runner leave its current message and waits
// (reading goroutine stacks) until it is parked on m.mu inside run(), which
// it can only reach through the user-batch swap since nothing else is
// queued. It then does what PostSystemMessage(S) and PostUserMessage(U) do
// under that lock, and unlocks.
func TestMailboxSystemMessageBeforeUserAcrossBatchSwap(t *testing.T) {
	m, inv, d := newTestMailbox(t, 300)
	entered, release := mbHoldFirst(inv)
	m.PostUserMessage(&mbUser{0, 0})
	<-entered
	m.mu.Lock()
	close(release)
	if !mbPoll(2*time.Second, mbRunnerParkedOnLockInRun) {
		m.mu.Unlock()
		t.Fatal("the runner never blocked on the mailbox lock in run()")
	}
	s, u := &mbSys{0, 0}, &mbUser{0, 1}
	m.system = append(m.system, s) // PostSystemMessage(s)
	m.sysPending.Store(true)
	m.user = append(m.user, u) // PostUserMessage(u); a run is already scheduled
	m.mu.Unlock()
	mbWaitFor(t, 2*time.Second, "both messages", func() bool { return inv.users.Load() == 2 && inv.systems.Load() == 1 })
	mbSettle(t, m, d)
	if got := inv.log[1].msg; got != any(s) {
		t.Fatalf("after message 0 the runner invoked %v, want system message %v posted before it", got, s)
	}
}

// mbRunnerParkedOnLockInRun reports whether some goroutine is blocked on a
// sync.Mutex directly inside (*mailbox).run.
func mbRunnerParkedOnLockInRun() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if !strings.Contains(header, "sync.Mutex.Lock") {
			continue
		}
		// The first frame outside sync and the runtime is run itself.
		for line := range strings.SplitSeq(g, "\n") {
			if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "goroutine ") ||
				strings.HasPrefix(line, "sync.") || strings.HasPrefix(line, "internal/sync.") ||
				strings.HasPrefix(line, "runtime.") {
				continue
			}
			if strings.Contains(line, ".(*mailbox).run(") {
				return true
			}
			break
		}
	}
	return false
}
