package actortest_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/actor/actortest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// --- test doubles ---

// fakeTB records failures instead of failing the test, so that tests can
// check the harness fails tests when it should. Fatal and Fatalf record and
// return; they do not stop the goroutine.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	errs   []string
	fatals []string
}

func newFakeTB(t *testing.T) *fakeTB { return &fakeTB{TB: t} }

func (f *fakeTB) Helper() {}

func (f *fakeTB) Error(args ...any) { f.Errorf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
}

// failures returns everything reported and forgets it.
func (f *fakeTB) failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append(f.errs, f.fatals...)
	f.errs, f.fatals = nil, nil
	return out
}

// wantFailure checks that exactly one failure containing each of subs was
// reported.
func (f *fakeTB) wantFailure(t *testing.T, subs ...string) {
	t.Helper()
	got := f.failures()
	if len(got) != 1 {
		t.Fatalf("want 1 reported failure, got %d: %q", len(got), got)
	}
	for _, s := range subs {
		if !strings.Contains(got[0], s) {
			t.Errorf("failure %q does not contain %q", got[0], s)
		}
	}
}

func (f *fakeTB) wantNoFailure(t *testing.T) {
	t.Helper()
	if got := f.failures(); len(got) != 0 {
		t.Fatalf("want no reported failure, got %q", got)
	}
}

// srv is a Server whose handlers are set per test; it records the info
// messages and terminate reasons it sees.
type srv struct {
	init  func(p actor.Process) error
	call  func(p actor.Process, req any) (any, error)
	cast  func(p actor.Process, msg any)
	infoF func(p actor.Process, msg any)
	term  func(p actor.Process, r actor.Reason)

	infos []any
	terms []actor.Reason
}

func (s *srv) Init(p actor.Process) error {
	if s.init != nil {
		return s.init(p)
	}
	return nil
}

func (s *srv) HandleCall(p actor.Process, req any) (any, error) {
	if s.call != nil {
		return s.call(p, req)
	}
	return actor.ServerBase{}.HandleCall(p, req)
}

func (s *srv) HandleCast(p actor.Process, msg any) {
	if s.cast != nil {
		s.cast(p, msg)
	}
}

func (s *srv) HandleInfo(p actor.Process, msg any) {
	s.infos = append(s.infos, msg)
	if s.infoF != nil {
		s.infoF(p, msg)
	}
}

func (s *srv) Terminate(p actor.Process, r actor.Reason) {
	s.terms = append(s.terms, r)
	if s.term != nil {
		s.term(p, r)
	}
}

// started returns a harness for s after a successful Init.
func started(t testing.TB, s actor.Server, opts ...actortest.Option) *actortest.Harness {
	t.Helper()
	h := actortest.New(t, s, opts...)
	if err := h.Init(); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return h
}

func pid(id string) *actor.PID { return &actor.PID{Address: "actortest", Id: id} }

var errBoom = errors.New("boom")

// --- calls ---

func TestCallImmediateReply(t *testing.T) {
	h := started(t, &srv{call: func(_ actor.Process, req any) (any, error) {
		return req.(int) * 2, nil
	}})
	r := h.Call(21)
	if r.Pending() || r.Err() != nil || r.Reply() != 42 {
		t.Fatalf("Call(21) = pending %v, reply %v, err %v; want 42", r.Pending(), r.Reply(), r.Err())
	}
	n, err := actortest.Call[int](h, 5)
	if n != 10 || err != nil {
		t.Fatalf("Call[int](5) = %v, %v; want 10, nil", n, err)
	}
	if len(h.Replies()) != 0 {
		t.Errorf("Replies() = %v; immediate replies belong to the CallResult only", h.Replies())
	}
}

func TestCallErrorReply(t *testing.T) {
	h := started(t, &srv{call: func(_ actor.Process, req any) (any, error) {
		if req == "fail" {
			return "ignored", errBoom
		}
		return actor.ServerBase{}.HandleCall(nil, req)
	}})
	r := h.Call("fail")
	if !errors.Is(r.Err(), errBoom) || r.Reply() != nil || r.Pending() {
		t.Fatalf("Call(fail) = reply %v, err %v; want err boom and no reply", r.Reply(), r.Err())
	}
	if _, err := actortest.Call[string](h, 3.5); !errors.Is(err, actor.ErrUnhandled) {
		t.Fatalf("unhandled call: err %v; want ErrUnhandled", err)
	}
	if _, ok := h.Stopped(); ok {
		t.Fatal("an error reply must not stop the process")
	}
}

func TestCallTypedReplies(t *testing.T) {
	h := started(t, &srv{call: func(_ actor.Process, req any) (any, error) {
		if req == "nil" {
			return nil, nil
		}
		return 7, nil
	}})
	r := h.Call("nil")
	if r.Pending() || r.Reply() != nil || r.Err() != nil {
		t.Fatalf("nil reply: pending %v, reply %v, err %v", r.Pending(), r.Reply(), r.Err())
	}
	if v, err := actortest.Call[*actor.PID](h, "nil"); v != nil || err != nil {
		t.Errorf("Call[*PID] of a nil reply = %v, %v; want nil, nil", v, err)
	}
	if v, err := actortest.Call[any](h, "nil"); v != nil || err != nil {
		t.Errorf("Call[any] of a nil reply = %v, %v; want nil, nil", v, err)
	}
	if _, err := actortest.Call[int](h, "nil"); !errors.Is(err, actor.ErrBadReply) {
		t.Errorf("Call[int] of a nil reply: err %v; want ErrBadReply", err)
	}
	if _, err := actortest.Call[string](h, "seven"); !errors.Is(err, actor.ErrBadReply) {
		t.Errorf("Call[string] of an int reply: err %v; want ErrBadReply", err)
	}
}

// deferrer defers every call and answers them all when cast "release".
type deferrer struct {
	actor.ServerBase
	waiting []actor.ReplyTo
}

func (d *deferrer) HandleCall(p actor.Process, req any) (any, error) {
	d.waiting = append(d.waiting, p.ReplyTo())
	return actor.NoReply, nil
}

func (d *deferrer) HandleCast(p actor.Process, msg any) {
	for _, to := range d.waiting {
		p.Reply(to, msg)
	}
	d.waiting = nil
}

func TestDeferredReply(t *testing.T) {
	h := started(t, &deferrer{})
	r1, r2 := h.Call("a"), h.Call("b")
	if !r1.Pending() || !r2.Pending() {
		t.Fatal("calls answered with NoReply must be pending")
	}
	if r1.ReplyTo().PID() == nil || actortest.Equal(r1.ReplyTo().PID(), r2.ReplyTo().PID()) {
		t.Fatalf("each call needs its own caller: %v and %v", r1.ReplyTo().PID(), r2.ReplyTo().PID())
	}
	if _, err := actortest.Call[string](h, "c"); !errors.Is(err, actor.ErrTimeout) {
		t.Fatalf("Call[string] of a deferred reply: err %v; want ErrTimeout", err)
	}
	h.Cast("done")
	for i, r := range []*actortest.CallResult{r1, r2} {
		if r.Pending() || r.Reply() != "done" || r.Err() != nil {
			t.Errorf("call %d after release: pending %v, reply %v, err %v", i, r.Pending(), r.Reply(), r.Err())
		}
	}
	reps := h.Replies()
	if len(reps) != 3 || reps[0].To != r1.ReplyTo() || reps[0].Msg != "done" {
		t.Errorf("Replies() = %+v; want three replies of done, the first to %v", reps, r1.ReplyTo())
	}
}

func TestDeferredErrorReplyAndFirstReplyWins(t *testing.T) {
	d := &deferrer{}
	h := started(t, d)
	r := h.Call("a")
	to := d.waiting[0]
	h.Cast(errBoom)
	if !errors.Is(r.Err(), errBoom) || r.Reply() != nil {
		t.Fatalf("after an error reply: reply %v, err %v; want err boom", r.Reply(), r.Err())
	}
	// A second reply to the same caller reaches no one, but is recorded.
	d.waiting = []actor.ReplyTo{to}
	h.Cast("late")
	if !errors.Is(r.Err(), errBoom) || r.Reply() != nil {
		t.Fatalf("the first reply wins: reply %v, err %v", r.Reply(), r.Err())
	}
	if n := len(h.Replies()); n != 2 {
		t.Fatalf("Replies() has %d entries; want 2", n)
	}
}

func TestReplyDuringCallWinsOverReturnedReply(t *testing.T) {
	h := started(t, &srv{call: func(p actor.Process, _ any) (any, error) {
		p.Reply(p.ReplyTo(), "early")
		return "returned", nil
	}})
	if r := h.Call(nil); r.Reply() != "early" {
		t.Fatalf("reply %v; want early", r.Reply())
	}
}

func TestReplyToIsCurrentCallOnly(t *testing.T) {
	var during []actor.ReplyTo
	s := &srv{
		call: func(p actor.Process, _ any) (any, error) { during = append(during, p.ReplyTo()); return nil, nil },
		cast: func(p actor.Process, _ any) { during = append(during, p.ReplyTo()) },
	}
	s.infoF = func(p actor.Process, _ any) { during = append(during, p.ReplyTo()) }
	h := started(t, s)
	r := h.Call(1)
	h.Cast(2)
	h.Info(3)
	if len(during) != 3 || during[0] != r.ReplyTo() || !during[1].IsZero() || !during[2].IsZero() {
		t.Fatalf("ReplyTo during call, cast, info = %v; want %v, zero, zero", during, r.ReplyTo())
	}
}

func TestHeaders(t *testing.T) {
	var seen []string
	read := func(p actor.Process) { seen = append(seen, p.Header("trace")) }
	s := &srv{
		call: func(p actor.Process, _ any) (any, error) { read(p); return nil, nil },
		cast: func(p actor.Process, _ any) { read(p) },
	}
	s.infoF = func(p actor.Process, _ any) { read(p) }
	h := started(t, s)
	hdr := actor.Headers{"trace": "t1"}
	h.Call(nil, actortest.WithHeaders(hdr))
	hdr["trace"] = "mutated"
	h.CastWithHeaders(nil, actor.Headers{"trace": "t2"})
	h.Call(nil)
	h.Cast(nil)
	h.Info(nil)
	want := []string{"t1", "t2", "", "", ""}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("headers seen %q; want %q", seen, want)
	}
}

// --- sends and assertions ---

type ping struct{ N int }

func TestSendRecordingAndAssertions(t *testing.T) {
	a, b := pid("a"), pid("b")
	h := started(t, &srv{cast: func(p actor.Process, msg any) {
		n := msg.(int)
		p.Send(a, ping{N: n})
		p.SendWithHeaders(b, ping{N: n}, actor.Headers{"k": "v"})
		p.SendWithHeaders(b, "plain", actor.Headers{})
	}})
	h.ShouldSend().Never()
	h.Cast(1)
	h.Cast(2)

	sent := h.Sent()
	if len(sent) != 6 {
		t.Fatalf("Sent() has %d entries; want 6", len(sent))
	}
	if sent[0].To != a || sent[0].Msg != (ping{N: 1}) || sent[0].Headers != nil {
		t.Errorf("Sent()[0] = %+v", sent[0])
	}
	if sent[1].Headers["k"] != "v" || sent[2].Headers != nil {
		t.Errorf("headers recorded as %v and %v; want k=v and nil", sent[1].Headers, sent[2].Headers)
	}

	checks := []struct {
		name string
		ok   bool
	}{
		{"all", h.ShouldSend().Times(6)},
		{"to a", h.ShouldSend().To(a).Times(2)},
		{"to an equal pid", h.ShouldSend().To(pid("a")).Times(2)},
		{"message", h.ShouldSend().To(a).Message(ping{N: 2}).Once()},
		{"message anywhere", h.ShouldSend().Message(ping{N: 1}).Times(2)},
		{"header", h.ShouldSend().Header("k", "v").Times(2)},
		{"header and to", h.ShouldSend().To(a).Header("k", "v").Never()},
		{"matching", h.ShouldSend().Matching(func(m any) bool { _, ok := m.(string); return ok }).Times(2)},
		{"never", h.ShouldSend().To(pid("c")).Never()},
		{"unsent message", h.ShouldSend().Message(ping{N: 3}).Never()},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("assertion %q returned false", c.name)
		}
	}
	// A partial assertion is reusable: each step returns a copy.
	toB := h.ShouldSend().To(b)
	toB.Message("plain").Times(2)
	toB.Times(4)
}

func TestAssertionFailures(t *testing.T) {
	ft := newFakeTB(t)
	peer := pid("peer")
	h := started(ft, &srv{cast: func(p actor.Process, msg any) { p.Send(peer, msg) }}, actortest.WithLogger(nil))

	if h.ShouldSend().To(peer).Once() {
		t.Error("Once with nothing sent returned true")
	}
	ft.wantFailure(t, "want 1 send to actortest/peer, got 0", "nothing was sent")

	h.CastWithHeaders(ping{N: 1}, actor.Headers{"k": "v"})
	if h.ShouldSend().To(peer).Message(ping{N: 2}).Once() {
		t.Error("Once with a different message returned true")
	}
	ft.wantFailure(t, "want 1 send to actortest/peer of actortest_test.ping{N:2}, got 0",
		"#0 to actortest/peer: actortest_test.ping{N:1}")

	if h.ShouldSend().Never() {
		t.Error("Never after a send returned true")
	}
	ft.wantFailure(t, "want 0 sends, got 1")

	if h.ShouldSend().Times(3) {
		t.Error("Times(3) after one send returned true")
	}
	ft.wantFailure(t, "want 3 sends, got 1")

	if h.ShouldSend().Header("k", "x").Once() {
		t.Error("Once with a wrong header returned true")
	}
	ft.wantFailure(t, "with headers map[k:x]")

	if h.ShouldSend().Times(-1) {
		t.Error("Times(-1) returned true")
	}
	ft.wantFailure(t, "must be >= 0")

	if !h.ShouldSend().To(peer).Message(ping{N: 1}).Once() {
		t.Error("a matching Once returned false")
	}
	ft.wantNoFailure(t)
}

func TestProtoMessagesCompareWithProtoEqual(t *testing.T) {
	h := started(t, &srv{cast: func(p actor.Process, msg any) {
		p.Send(&actor.PID{Address: "x", Id: "y"}, wrapperspb.String(msg.(string)))
	}})
	h.Cast("hello")
	h.ShouldSend().To(&actor.PID{Address: "x", Id: "y"}).Message(wrapperspb.String("hello")).Once()
	h.ShouldSend().Message(wrapperspb.String("bye")).Never()
	if !actortest.Equal(wrapperspb.Int64(3), wrapperspb.Int64(3)) || actortest.Equal(wrapperspb.Int64(3), wrapperspb.Int32(3)) {
		t.Error("Equal on proto messages")
	}
	if !actortest.Equal([]int{1}, []int{1}) || actortest.Equal(ping{1}, ping{2}) {
		t.Error("Equal on Go values")
	}

	ft := newFakeTB(t)
	hf := started(ft, &srv{cast: func(p actor.Process, msg any) { p.Send(pid("x"), msg) }}, actortest.WithLogger(nil))
	hf.Cast(wrapperspb.String("hello"))
	hf.ShouldSend().Message(wrapperspb.String("bye")).Once()
	ft.wantFailure(t, "*wrapperspb.StringValue{", "hello", "bye")
}

// --- spawn, links, monitors ---

type plainActor struct{}

func (plainActor) Receive(actor.Context) {}

func TestSpawnRecording(t *testing.T) {
	var pids []*actor.PID
	var errs []error
	child := &srv{}
	h := started(t, &srv{cast: func(p actor.Process, msg any) {
		opts := []actor.SpawnOption{}
		if msg == child {
			opts = append(opts, actor.WithTrapExit())
		}
		pid, err := p.Spawn(msg, opts...)
		pids, errs = append(pids, pid), append(errs, err)
	}})
	for _, b := range []any{child, plainActor{}, func(actor.Context) {}, actor.ReceiveFunc(func(actor.Context) {}), nil, 42} {
		h.Cast(b)
	}
	for i := range 4 {
		if errs[i] != nil || pids[i] == nil {
			t.Errorf("spawn %d: pid %v, err %v; want a pid", i, pids[i], errs[i])
		}
	}
	for i := 4; i < 6; i++ {
		if !errors.Is(errs[i], actor.ErrInvalid) || pids[i] != nil {
			t.Errorf("spawn %d: pid %v, err %v; want ErrInvalid", i, pids[i], errs[i])
		}
	}
	if !strings.Contains(errs[5].Error(), "int") {
		t.Errorf("error %q should name the type", errs[5])
	}
	sp := h.Spawned()
	if len(sp) != 4 {
		t.Fatalf("Spawned() has %d entries; want 4", len(sp))
	}
	if sp[0].PID != pids[0] || sp[0].Behaviour != child || len(sp[0].Opts) != 1 {
		t.Errorf("Spawned()[0] = %+v", sp[0])
	}
	if sp[0].PID.Id != "self/child-1" || sp[1].PID.Id != "self/child-2" || sp[0].PID.Address != "actortest" {
		t.Errorf("child pids %v, %v; want actortest/self/child-1 and -2", sp[0].PID, sp[1].PID)
	}
}

// TestLinkAndMonitorRemotePID: as in the runtime, a PID of another member
// is ErrNotLocal and nothing is recorded.
func TestLinkAndMonitorRemotePID(t *testing.T) {
	far := &actor.PID{Address: "10.0.0.2:4000", Id: "far"}
	var errs []error
	s := &srv{cast: func(p actor.Process, msg any) {
		_, merr := p.Monitor(far)
		errs = append(errs, p.Link(far), merr, p.Link(&actor.PID{Address: "nonhost", Id: "local"}))
	}}
	h := started(t, s)
	h.Cast("go")
	if len(errs) != 3 || !errors.Is(errs[0], actor.ErrNotLocal) || !errors.Is(errs[1], actor.ErrNotLocal) || errs[2] != nil {
		t.Fatalf("errors %v; want ErrNotLocal, ErrNotLocal, nil", errs)
	}
	if l, m := h.Linked(), h.Monitored(); len(l) != 1 || len(m) != 0 {
		t.Fatalf("Linked %v, Monitored %v; want only the local link", l, m)
	}
}

func TestLinksAndMonitors(t *testing.T) {
	a, b := pid("a"), pid("b")
	var refs []actor.MonitorRef
	var errs []error
	s := &srv{cast: func(p actor.Process, msg any) {
		switch msg {
		case "link":
			errs = append(errs, p.Link(a), p.Link(b), p.Link(nil))
		case "unlink":
			p.Unlink(a)
		case "monitor":
			ra, err1 := p.Monitor(a)
			rb, err2 := p.Monitor(b)
			_, err3 := p.Monitor(nil)
			refs = append(refs, ra, rb)
			errs = append(errs, err1, err2, err3)
		case "demonitor":
			p.Demonitor(refs[1])
		}
	}}
	h := started(t, s)
	for _, m := range []string{"link", "unlink", "monitor", "demonitor"} {
		h.Cast(m)
	}
	for i, err := range errs {
		nilArg := i == 2 || i == 5
		if nilArg != errors.Is(err, actor.ErrInvalid) || (!nilArg && err != nil) {
			t.Errorf("error %d = %v", i, err)
		}
	}
	if l := h.Linked(); len(l) != 2 || l[0] != a || l[1] != b {
		t.Errorf("Linked() = %v; want a, b", l)
	}
	if u := h.Unlinked(); len(u) != 1 || u[0] != a {
		t.Errorf("Unlinked() = %v; want a", u)
	}
	m := h.Monitored()
	if len(m) != 2 || m[0] != refs[0] || m[1] != refs[1] || m[0] == m[1] {
		t.Fatalf("Monitored() = %v; want two distinct refs %v", m, refs)
	}
	if m[0].IsZero() || m[0].Target() != a || !actortest.Equal(m[0].Watcher(), h.Self()) {
		t.Errorf("ref %v: target %v watcher %v", m[0], m[0].Target(), m[0].Watcher())
	}
	if d := h.Demonitored(); len(d) != 1 || d[0] != refs[1] {
		t.Errorf("Demonitored() = %v; want %v", d, refs[1])
	}

	if h.Down(refs[1], actor.Normal) {
		t.Error("Down delivered for a demonitored ref")
	}
	if !h.Down(refs[0], actor.Killed) {
		t.Fatal("Down not delivered for a live monitor")
	}
	if h.Down(refs[0], actor.Killed) {
		t.Error("Down delivered twice for one monitor")
	}
	want := actor.Down{Ref: refs[0], PID: a, Reason: actor.Killed}
	if len(s.infos) != 1 || s.infos[0] != want {
		t.Fatalf("infos %+v; want %+v", s.infos, want)
	}
}

func TestExitSignals(t *testing.T) {
	peer := pid("peer")

	t.Run("not trapping: normal is ignored, others stop", func(t *testing.T) {
		s := &srv{}
		h := started(t, s)
		h.Exit(peer, actor.Normal)
		if _, ok := h.Stopped(); ok || len(s.infos) != 0 {
			t.Fatal("a normal exit signal must be ignored")
		}
		h.Exit(peer, actor.Shutdown)
		if r, ok := h.Stopped(); !ok || r != actor.Shutdown {
			t.Fatalf("Stopped() = %v, %v; want shutdown", r, ok)
		}
		if len(s.terms) != 1 || s.terms[0] != actor.Shutdown || len(s.infos) != 0 {
			t.Fatalf("terms %v infos %v; want Terminate(shutdown) and no info", s.terms, s.infos)
		}
	})

	t.Run("trapping from Init", func(t *testing.T) {
		s := &srv{init: func(p actor.Process) error { p.TrapExit(true); return nil }}
		h := started(t, s)
		if !h.TrapsExit() {
			t.Fatal("TrapsExit() = false after TrapExit(true)")
		}
		h.Exit(peer, actor.Killed)
		h.Exit(nil, actor.Normal)
		if _, ok := h.Stopped(); ok {
			t.Fatal("a trapping process must not stop on exit signals")
		}
		if len(s.infos) != 2 {
			t.Fatalf("infos %v; want two Exit", s.infos)
		}
		e0, e1 := s.infos[0].(actor.Exit), s.infos[1].(actor.Exit)
		if e0.From != peer || e0.Reason != actor.Killed || e1.From == nil || e1.Reason != actor.Normal {
			t.Errorf("exits %+v %+v", e0, e1)
		}
	})

	t.Run("trapping from the option, then not", func(t *testing.T) {
		s := &srv{cast: func(p actor.Process, _ any) { p.TrapExit(false) }}
		h := started(t, s, actortest.WithTrapExit())
		h.Exit(peer, actor.Shutdown)
		h.Cast(nil)
		if h.TrapsExit() {
			t.Fatal("TrapsExit() = true after TrapExit(false)")
		}
		h.Exit(peer, actor.ErrorReason(errBoom))
		if r, ok := h.Stopped(); !ok || !errors.Is(r.Err(), errBoom) || len(s.infos) != 1 {
			t.Fatalf("Stopped() = %v, %v; infos %v", r, ok, s.infos)
		}
	})
}

// --- lifecycle: stop, terminate, panics ---

func TestStopIsRecordedAndTerminateRuns(t *testing.T) {
	ft := newFakeTB(t)
	s := &srv{cast: func(p actor.Process, _ any) {
		p.Stop(actor.Normal)
		p.Stop(actor.Shutdown)
		p.Send(pid("after"), "still sent this message")
	}}
	h := started(ft, s, actortest.WithLogger(nil))
	if _, ok := h.Stopped(); ok {
		t.Fatal("Stopped() before Stop")
	}
	h.Cast(nil)
	if r, ok := h.Stopped(); !ok || r != actor.Normal {
		t.Fatalf("Stopped() = %v, %v; want normal (the first reason)", r, ok)
	}
	if len(s.terms) != 1 || s.terms[0] != actor.Normal {
		t.Fatalf("Terminate ran with %v; want once with normal", s.terms)
	}
	h.ShouldSend().To(pid("after")).Once()
	ft.wantNoFailure(t)

	h.Cast("x")
	ft.wantFailure(t, `Cast("x") after the process stopped with reason normal`, "receives nothing")
	h.Info(actor.Timeout{})
	ft.wantFailure(t, "Info(actor.Timeout{Idle:0}) after the process stopped")
	r := h.Call(1)
	ft.wantFailure(t, "Call(1) after the process stopped")
	if !errors.Is(r.Err(), actor.ErrNoProcess) || r.Pending() {
		t.Errorf("Call on a stopped process: err %v; want ErrNoProcess", r.Err())
	}
	h.Exit(pid("x"), actor.Shutdown)
	ft.wantFailure(t, "Exit(shutdown) after the process stopped")
	h.Terminate(actor.Shutdown)
	ft.wantFailure(t, "Terminate(shutdown) after the process terminated with reason normal")
	if len(s.terms) != 1 {
		t.Fatalf("Terminate ran %d times; want once", len(s.terms))
	}
}

func TestTerminateFromOutside(t *testing.T) {
	var stopSeen actor.Reason
	s := &srv{term: func(p actor.Process, r actor.Reason) {
		stopSeen = r
		p.Stop(actor.Normal) // too late: ignored
	}}
	h := started(t, s)
	h.Terminate(actor.Shutdown)
	if r, ok := h.Stopped(); !ok || r != actor.Shutdown || stopSeen != actor.Shutdown || len(s.terms) != 1 {
		t.Fatalf("Stopped() = %v, %v; Terminate saw %v %d times", r, ok, stopSeen, len(s.terms))
	}
}

func TestPanicInCallCrashesTheProcess(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := &srv{call: func(actor.Process, any) (any, error) { panic(errBoom) }}
	h := started(t, s, actortest.WithLogger(zap.New(core)))
	r := h.Call("x")
	if !errors.Is(r.Err(), actor.ErrNoProcess) || !strings.Contains(r.Err().Error(), "crashed") || r.Pending() {
		t.Fatalf("call err %v; want ErrNoProcess: crashed", r.Err())
	}
	reason, ok := h.Stopped()
	if !ok || !reason.IsError() || !errors.Is(reason.Err(), errBoom) || !strings.Contains(reason.Err().Error(), "panic: boom") {
		t.Fatalf("Stopped() = %v, %v; want an error reason from the panic", reason, ok)
	}
	if len(s.terms) != 1 || !s.terms[0].Equal(reason) {
		t.Fatalf("Terminate ran with %v; want %v", s.terms, reason)
	}
	crashes := logs.FilterMessage("process crashed").All()
	if len(crashes) != 1 || crashes[0].ContextMap()["pid"] != "actortest/self" {
		t.Fatalf("logs %v; want one 'process crashed' with the pid", logs.All())
	}
}

func TestPanicInCastAndTerminate(t *testing.T) {
	s := &srv{
		cast: func(actor.Process, any) { panic("cast") },
		term: func(actor.Process, actor.Reason) { panic("terminate") },
	}
	h := started(t, s, actortest.WithLogger(nil))
	h.Cast(nil)
	reason, ok := h.Stopped()
	if !ok || reason.Err() == nil || reason.Err().Error() != "panic: cast" {
		t.Fatalf("Stopped() = %v, %v; want error reason panic: cast", reason, ok)
	}
	if len(s.terms) != 1 {
		t.Fatal("Terminate did not run after a crash")
	}
}

func TestPendingCallsFailWhenTheProcessExits(t *testing.T) {
	d := &deferrer{}
	var inTerminate []bool
	h := started(t, &struct {
		*deferrer
		crashOnInfo
		terminateProbe
	}{deferrer: d, terminateProbe: terminateProbe{d: d, pending: &inTerminate}}, actortest.WithLogger(nil))
	r := h.Call("x")
	h.Info("crash")
	if r.Pending() || !errors.Is(r.Err(), actor.ErrNoProcess) || !strings.Contains(r.Err().Error(), "exited before replying: error: panic: info") {
		t.Fatalf("deferred call after the process exited: pending %v, err %v; want ErrNoProcess", r.Pending(), r.Err())
	}
	if _, ok := h.Stopped(); !ok {
		t.Fatal("the crash must stop the process")
	}
	// Terminate replied to the held caller: too late, the call had failed.
	if len(inTerminate) != 1 || r.Reply() != nil || len(h.Replies()) != 1 {
		t.Fatalf("reply from Terminate: reply %v, replies %v", r.Reply(), h.Replies())
	}
}

// terminateProbe replies from Terminate to every call d still holds.
type terminateProbe struct {
	d       *deferrer
	pending *[]bool
}

func (tp terminateProbe) Terminate(p actor.Process, _ actor.Reason) {
	*tp.pending = append(*tp.pending, true)
	tp.d.HandleCast(p, "from Terminate")
}

type crashOnInfo struct{}

func (crashOnInfo) HandleInfo(actor.Process, any) { panic("info") }

func TestInitFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		init func(actor.Process) error
		want string
	}{
		{"error", func(actor.Process) error { return errBoom }, "boom"},
		{"panic", func(actor.Process) error { panic(errBoom) }, "panic: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTB(t)
			s := &srv{init: tc.init}
			h := actortest.New(ft, s, actortest.WithLogger(nil))
			err := h.Init()
			if !errors.Is(err, errBoom) || err.Error() != tc.want {
				t.Fatalf("Init() = %v; want %s", err, tc.want)
			}
			reason, ok := h.Stopped()
			if !ok || !errors.Is(reason.Err(), errBoom) || len(s.terms) != 1 {
				t.Fatalf("Stopped() = %v, %v, terminated %d times", reason, ok, len(s.terms))
			}
			h.Cast("x")
			ft.wantFailure(t, "after the process stopped with reason error:")
		})
	}
}

func TestInitStops(t *testing.T) {
	s := &srv{init: func(p actor.Process) error { p.Stop(actor.Normal); return nil }}
	h := actortest.New(t, s)
	if err := h.Init(); err != nil {
		t.Fatal(err)
	}
	if r, ok := h.Stopped(); !ok || r != actor.Normal || len(s.terms) != 1 {
		t.Fatalf("Stopped() = %v, %v", r, ok)
	}
}

func TestMisuseFailsTheTest(t *testing.T) {
	ft := newFakeTB(t)
	h := actortest.New(ft, &srv{}, actortest.WithLogger(nil))
	r := h.Call(1)
	ft.wantFailure(t, "Call(1) before Init")
	if !errors.Is(r.Err(), actor.ErrNoProcess) {
		t.Errorf("Call before Init: err %v; want ErrNoProcess", r.Err())
	}
	h.Cast(1)
	ft.wantFailure(t, "Cast(1) before Init")
	h.Terminate(actor.Shutdown)
	ft.wantFailure(t, "Terminate(shutdown) before Init")
	if h.Down(actor.MonitorRef{}, actor.Normal) {
		t.Error("Down before Init delivered")
	}
	ft.wantFailure(t, "Down(normal) before Init")
	if err := h.Init(); err != nil {
		t.Fatal(err)
	}
	if err := h.Init(); !errors.Is(err, actor.ErrInvalid) {
		t.Errorf("second Init: %v; want ErrInvalid", err)
	}
	ft.wantFailure(t, "Init called twice")

	if h := actortest.New(ft, nil); h != nil {
		t.Error("New with a nil Server returned a harness")
	}
	ft.wantFailure(t, "srv is nil")
	if h := actortest.New(ft, &srv{}, actortest.WithIdleTimeout(-time.Second)); h != nil {
		t.Error("New with a negative idle timeout returned a harness")
	}
	ft.wantFailure(t, "WithIdleTimeout: -1s must be >= 0")
}

func TestProcessIdentityLoggerAndClock(t *testing.T) {
	self := &actor.PID{Address: "node-1", Id: "worker"}
	clk := actortest.NewClock(time.Unix(100, 0))
	core, logs := observer.New(zapcore.InfoLevel)
	var gotSelf *actor.PID
	var gotClock actor.Clock
	s := &srv{init: func(p actor.Process) error {
		gotSelf, gotClock = p.Self(), p.Clock()
		p.Logger().Info("hello")
		return nil
	}, cast: func(p actor.Process, msg any) {
		pid, _ := p.Spawn(&srv{})
		p.Send(pid, msg)
	}}
	h := started(t, s, actortest.WithSelf(self), actortest.WithClock(clk), actortest.WithLogger(zap.New(core)))
	if gotSelf != self || h.Self() != self || gotClock != clk || h.Clock() != clk {
		t.Fatalf("self %v clock %v", gotSelf, gotClock)
	}
	if e := logs.All(); len(e) != 1 || e[0].ContextMap()["pid"] != "node-1/worker" {
		t.Fatalf("logs %v; want hello with pid node-1/worker", e)
	}
	h.Call(nil) // unhandled: a fresh caller on the same address
	h.Cast("m")
	h.ShouldSend().To(&actor.PID{Address: "node-1", Id: "worker/child-1"}).Message("m").Once()

	d := &deferrer{}
	hd := started(t, d, actortest.WithSelf(self))
	hd.Call(nil)
	if to := d.waiting[0].PID(); to.Address != "node-1" {
		t.Errorf("caller pid %v; want one on address node-1", to)
	}
	// The defaults: a fixed pid and start time.
	h0 := started(t, &srv{})
	if !actortest.Equal(h0.Self(), &actor.PID{Address: "actortest", Id: "self"}) ||
		!h0.Clock().Now().Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("defaults: self %v, now %v", h0.Self(), h0.Clock().Now())
	}
}

// --- timers and idle timeout ---

func TestServerTimersRunOnAdvance(t *testing.T) {
	var fired []time.Time
	var h *actortest.Harness
	s := &srv{cast: func(p actor.Process, msg any) {
		clk := p.Clock()
		clk.AfterFunc(msg.(time.Duration), func() {
			fired = append(fired, clk.Now())
			h.Info("tick")
		})
	}}
	h = started(t, s)
	start := h.Clock().Now()
	h.Cast(2 * time.Second)
	h.Cast(time.Second)
	h.Clock().Advance(1500 * time.Millisecond)
	if len(fired) != 1 || !fired[0].Equal(start.Add(time.Second)) {
		t.Fatalf("fired %v; want one at +1s", fired)
	}
	h.Clock().Advance(time.Second)
	if len(fired) != 2 || !fired[1].Equal(start.Add(2*time.Second)) || len(s.infos) != 2 {
		t.Fatalf("fired %v, infos %v; want a second at +2s", fired, s.infos)
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = 10 * time.Second
	s := &srv{}
	h := started(t, s, actortest.WithIdleTimeout(idle))
	clk := h.Clock()

	clk.Advance(9 * time.Second)
	if len(s.infos) != 0 {
		t.Fatalf("timeout after 9s: %v", s.infos)
	}
	h.Cast("keepalive") // at 9s: the deadline moves to 19s
	clk.Advance(9 * time.Second)
	if len(s.infos) != 0 {
		t.Fatalf("timeout 9s after a message: %v", s.infos)
	}
	clk.Advance(time.Second)
	if len(s.infos) != 1 || s.infos[0] != (actor.Timeout{Idle: idle}) {
		t.Fatalf("infos %v; want Timeout{10s}", s.infos)
	}
	// Not armed again until the next message.
	clk.Advance(time.Hour)
	if len(s.infos) != 1 {
		t.Fatalf("timeout re-armed without a message: %v", s.infos)
	}
	// Info (runtime messages) does not count as activity either.
	h.Info("not activity")
	clk.Advance(time.Hour)
	if len(s.infos) != 2 {
		t.Fatalf("infos %v; Info must not arm the idle timeout", s.infos)
	}
	h.Call(nil)
	clk.Advance(idle)
	if len(s.infos) != 3 || s.infos[2] != (actor.Timeout{Idle: idle}) {
		t.Fatalf("infos %v; a Call must arm the idle timeout", s.infos)
	}
	h.Cast(nil)
	if clk.Pending() != 1 {
		t.Fatalf("%d timers pending; want the idle timer", clk.Pending())
	}
	h.Terminate(actor.Shutdown)
	if clk.Pending() != 0 {
		t.Fatalf("%d timers pending after Terminate; want 0", clk.Pending())
	}
	clk.Advance(time.Hour)
	if len(s.infos) != 3 {
		t.Fatalf("timeout after Terminate: %v", s.infos)
	}
}

func TestIdleTimeoutStopFromHandler(t *testing.T) {
	s := &srv{}
	s.infoF = func(p actor.Process, msg any) {
		if _, ok := msg.(actor.Timeout); ok {
			p.Stop(actor.Normal)
		}
	}
	h := started(t, s, actortest.WithIdleTimeout(time.Minute))
	h.Clock().Advance(time.Minute)
	if r, ok := h.Stopped(); !ok || r != actor.Normal || len(s.terms) != 1 {
		t.Fatalf("Stopped() = %v, %v; want normal after an idle timeout", r, ok)
	}
}

// --- Clock ---

func TestClockRunsTimersInDueOrder(t *testing.T) {
	start := time.Unix(1000, 0)
	c := actortest.NewClock(start)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, fmt.Sprintf("%s@%v", name, c.Now().Sub(start))) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	c.AfterFunc(time.Second, at("a"))
	c.AfterFunc(2*time.Second, at("b1"))
	c.AfterFunc(2*time.Second, at("b2")) // same instant: scheduling order
	c.AfterFunc(5*time.Second, at("late"))
	if c.Pending() != 5 {
		t.Fatalf("Pending() = %d; want 5", c.Pending())
	}
	c.Advance(3 * time.Second)
	want := "[a@1s b1@2s b2@2s c@3s]"
	if fmt.Sprint(got) != want {
		t.Fatalf("ran %v; want %s", got, want)
	}
	if !c.Now().Equal(start.Add(3 * time.Second)) {
		t.Fatalf("Now() = %v; want start+3s", c.Now())
	}
	c.Advance(time.Second)
	if len(got) != 4 || !c.Now().Equal(start.Add(4*time.Second)) {
		t.Fatalf("ran %v at %v; nothing was due", got, c.Now())
	}
	c.Advance(time.Second)
	if len(got) != 5 || got[4] != "late@5s" {
		t.Fatalf("ran %v; want late@5s", got)
	}
}

func TestClockCallbacksScheduleWithinTheWindow(t *testing.T) {
	start := time.Unix(0, 0)
	c := actortest.NewClock(start)
	var got []time.Duration
	var tick func()
	tick = func() {
		got = append(got, c.Now().Sub(start))
		c.AfterFunc(time.Second, tick) // reschedules itself, as a ticker
	}
	c.AfterFunc(time.Second, tick)
	c.AfterFunc(0, func() { got = append(got, -1) }) // due now: runs at the next Advance
	c.Advance(3500 * time.Millisecond)
	if fmt.Sprint(got) != "[-1ns 1s 2s 3s]" {
		t.Fatalf("ran at %v; want immediate, 1s, 2s, 3s", got)
	}
	if c.Pending() != 1 {
		t.Fatalf("Pending() = %d; want the next tick", c.Pending())
	}
	c.Advance(-time.Hour) // counts as 0
	if !c.Now().Equal(start.Add(3500 * time.Millisecond)) {
		t.Fatalf("Now() = %v; time must not go back", c.Now())
	}
}

func TestClockStop(t *testing.T) {
	c := actortest.NewClock(time.Unix(0, 0))
	ran := 0
	t1 := c.AfterFunc(time.Second, func() { ran++ })
	t2 := c.AfterFunc(2*time.Second, func() { ran++ })
	t3 := c.AfterFunc(3*time.Second, func() { ran++ })
	if !t2.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if t2.Stop() {
		t.Fatal("second Stop returned true")
	}
	var stoppedByCallback bool
	c.AfterFunc(1500*time.Millisecond, func() { stoppedByCallback = t3.Stop() })
	c.Advance(5 * time.Second)
	if ran != 1 || !stoppedByCallback {
		t.Fatalf("ran %d timers, callback stopped t3: %v; want 1, true", ran, stoppedByCallback)
	}
	if t1.Stop() {
		t.Fatal("Stop after the timer ran returned true")
	}
	if c.Pending() != 0 {
		t.Fatalf("Pending() = %d; want 0", c.Pending())
	}
	c.AfterFunc(-time.Second, nil) // a nil func is allowed and does nothing
	c.Advance(0)
}

func TestClockConcurrentUse(t *testing.T) {
	c := actortest.NewClock(time.Unix(0, 0))
	var mu sync.Mutex
	ran := 0
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				tm := c.AfterFunc(time.Duration(i+j)*time.Millisecond, func() {
					mu.Lock()
					ran++
					mu.Unlock()
				})
				if j%5 == 0 {
					tm.Stop()
				}
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	c.Advance(time.Hour)
	if c.Pending() != 0 {
		t.Fatalf("Pending() = %d after advancing past every timer", c.Pending())
	}
	// Every timer not stopped ran; a stopped one may have run first, when
	// another goroutine's Advance got to it before Stop.
	if ran < 8*40 || ran > 8*50 {
		t.Fatalf("ran %d timers; want 320 to 400", ran)
	}
}

type timerServer struct{ actor.ServerBase }

func (timerServer) HandleCast(p actor.Process, msg any) {
	p.SendAfter(time.Second, "tick")
	_, _ = p.Spawn(timerServer{}, actor.WithTrapExit(), actor.WithIdleTimeout(time.Minute))
	if _, err := p.Spawn(timerServer{}, actor.WithIdleTimeout(-1)); err == nil {
		panic("negative idle timeout accepted")
	}
}

func TestSendAfterAndSpawnConfig(t *testing.T) {
	h := actortest.New(t, timerServer{})
	if err := h.Init(); err != nil {
		t.Fatal(err)
	}
	h.Cast("go")
	h.ShouldSend().To(h.Self()).Message("tick").Never()
	h.Clock().Advance(time.Second)
	h.ShouldSend().To(h.Self()).Message("tick").Once()
	sp := h.Spawned()
	if len(sp) != 1 || !sp[0].Config.TrapExit || sp[0].Config.IdleTimeout != time.Minute {
		t.Fatalf("spawned %+v", sp)
	}
	if _, stopped := h.Stopped(); stopped {
		t.Fatal("server stopped")
	}
}
