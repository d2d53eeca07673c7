package actor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/actorhooks"
	"github.com/foundation-go/foundation/internal/protos"
)

// Headers are message headers: string pairs carried with a message, locally
// and across members, in proto.actor's envelope header. Attach them to a Call
// with WithHeaders, to a Tell with TellWithHeaders; read them with
// Process.Header or Context.MessageHeader.
type Headers map[string]string

func (h Headers) clone() map[string]string { return maps.Clone(map[string]string(h)) }

type headersKey struct{}

// WithHeaders returns a context whose Calls carry h (merged over headers the
// context already carries).
func WithHeaders(ctx context.Context, h Headers) context.Context {
	if prev, ok := ctx.Value(headersKey{}).(Headers); ok && len(prev) > 0 {
		m := maps.Clone(prev)
		maps.Copy(m, h)
		h = m
	}
	return context.WithValue(ctx, headersKey{}, h)
}

// HeadersFrom returns the headers ctx carries for Calls.
func HeadersFrom(ctx context.Context) Headers {
	h, _ := ctx.Value(headersKey{}).(Headers)
	return h
}

// Tell sends msg to pid without waiting (fire and forget). Sending to a dead
// process drops the message to the dead-letter log, as in Erlang.
func (s *System) Tell(pid *PID, msg any) {
	if pid == nil || s.state.Load() != stateRunning {
		return
	}
	s.root.Send(pid, msg)
}

// TellWithHeaders is Tell with message headers.
func (s *System) TellWithHeaders(pid *PID, msg any, h Headers) {
	if len(h) == 0 {
		s.Tell(pid, msg)
		return
	}
	if pid == nil || s.state.Load() != stateRunning {
		return
	}
	s.tellEnvelope(pid, &actor.MessageEnvelope{Header: h.clone(), Message: msg})
}

func (s *System) tellEnvelope(pid *PID, env *actor.MessageEnvelope) {
	proc, _ := s.as.ProcessRegistry.Get(pid)
	proc.SendUserMessage(pid, env)
}

// Send is Tell with the headers ctx carries (WithHeaders) and errors for
// what cannot be sent: ErrInvalid for a nil pid or message, ErrStopped,
// ErrNotSerializable for a non-protobuf message to another member. A nil
// error means the message was handed to the process's mailbox or to
// remoting, not that it will be processed: delivery is at most once (a
// dead process's messages are dead letters, as with Tell).
func (s *System) Send(ctx context.Context, pid *PID, msg any) error {
	if pid == nil || msg == nil {
		return fmt.Errorf("%w: Send: nil pid or message", ErrInvalid)
	}
	if err := s.check(); err != nil {
		return err
	}
	if err := s.sendable(pid, msg); err != nil {
		return err
	}
	if h := HeadersFrom(ctx); len(h) > 0 {
		s.tellEnvelope(pid, &actor.MessageEnvelope{Header: h.clone(), Message: msg})
		return nil
	}
	s.root.Send(pid, msg)
	return nil
}

// sendable checks that msg can reach pid: anything locally, a protobuf
// message to another member.
func (s *System) sendable(pid *PID, msg any) error {
	if s.isLocal(pid) {
		return nil
	}
	if _, ok := msg.(proto.Message); !ok {
		return fmt.Errorf("%w: %T to %s", ErrNotSerializable, msg, PIDString(pid))
	}
	return nil
}

// tell is the internal send used for signals; it works while stopping.
func (s *System) tell(pid *PID, msg any) {
	if s.as == nil {
		return
	}
	proc, _ := s.as.ProcessRegistry.Get(pid)
	proc.SendUserMessage(pid, msg)
}

// ReplyTo is the address of a caller waiting for a reply; a Server keeps it
// to reply later (Process.Reply). The zero value is no caller.
type ReplyTo struct{ pid *PID }

// IsZero reports whether there is no caller to reply to.
func (r ReplyTo) IsZero() bool { return r.pid == nil }

// replyErr carries a handler's error to a local caller.
type replyErr struct{ err error }

func (s *System) reply(to ReplyTo, msg any) {
	if to.pid == nil || s.as == nil {
		return
	}
	local := s.isLocal(to.pid)
	switch m := msg.(type) {
	case error:
		if local {
			msg = &replyErr{m}
		} else {
			msg = &protos.CallError{Message: m.Error()}
		}
	case nil:
		msg = nilReply
	}
	if msg == nilReply && !local {
		msg = &protos.NilReply{}
	}
	proc, _ := s.as.ProcessRegistry.Get(to.pid)
	proc.SendUserMessage(to.pid, msg)
}

// replySlot is a registered engine process that receives the replies of one
// caller at a time. Slots are pooled; a generation carried in the reply
// address's RequestId drops late replies to an earlier call.
type replySlot struct {
	s     *System
	id    string
	state atomic.Uint64 // gen<<1 | armed
	ch    chan any
}

func (s *System) getSlot() *replySlot {
	select {
	case sl := <-s.slots:
		return sl
	default:
	}
	sl := &replySlot{s: s, ch: make(chan any, 1)}
	sl.id = "$call" + s.as.ProcessRegistry.NextId()
	s.as.ProcessRegistry.Add(sl, sl.id)
	return sl
}

func (s *System) putSlot(sl *replySlot) {
	select {
	case s.slots <- sl:
	default:
		s.as.ProcessRegistry.Remove(&PID{Id: sl.id})
	}
}

func (s *System) drainSlots() {
	for {
		select {
		case sl := <-s.slots:
			s.as.ProcessRegistry.Remove(&PID{Id: sl.id})
		default:
			return
		}
	}
}

func (sl *replySlot) arm() uint32 {
	gen := uint32(sl.state.Load()>>1) + 1
	sl.state.Store(uint64(gen)<<1 | 1)
	return gen
}

func (sl *replySlot) SendUserMessage(pid *PID, msg any) {
	if env, ok := msg.(*actor.MessageEnvelope); ok {
		msg = env.Message
	}
	st := sl.state.Load()
	if st&1 == 0 || uint32(st>>1) != pid.RequestId {
		return // late or duplicate reply
	}
	if sl.state.CompareAndSwap(st, st&^1) {
		sl.ch <- msg
	}
}

func (sl *replySlot) SendSystemMessage(pid *PID, msg any) {}

func (sl *replySlot) Stop(pid *PID) {}

// Call sends req to pid and waits for its reply, which must be of type R.
// It works the same for local and remote pids. It returns:
//
//   - ErrTimeout (also context.DeadlineExceeded) when ctx's deadline passes,
//   - ErrCanceled (also context.Canceled) when ctx is canceled,
//   - ErrNoProcess at once when pid is dead or unknown,
//   - ErrBadReply when the reply is not an R,
//   - the handler's error when it replied with one (ErrRemote for a remote
//     handler's error),
//   - ErrStopped when the system is not running.
//
// Headers attached to ctx with WithHeaders travel with the request.
func Call[R any](ctx context.Context, s *System, pid *PID, req any) (R, error) {
	var zero R
	m, err := s.call(ctx, pid, req)
	if err != nil {
		return zero, err
	}
	if m == nil {
		// A nil reply is the zero value of a type that can be nil.
		switch reflect.TypeFor[R]().Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
			return zero, nil
		}
		return zero, fmt.Errorf("%w: call to %s: got nil, want %T", ErrBadReply, PIDString(pid), zero)
	}
	r, ok := m.(R)
	if !ok {
		return zero, fmt.Errorf("%w: call to %s: got %T, want %T", ErrBadReply, PIDString(pid), m, zero)
	}
	return r, nil
}

// CallAny is Call for any reply type.
func (s *System) CallAny(ctx context.Context, pid *PID, req any) (any, error) {
	return s.call(ctx, pid, req)
}

func (s *System) call(ctx context.Context, pid *PID, req any) (any, error) {
	if pid == nil {
		return nil, fmt.Errorf("%w: Call: pid is nil", ErrInvalid)
	}
	if s.state.Load() != stateRunning {
		return nil, s.check()
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(pid, err)
	}
	proc, ok := s.as.ProcessRegistry.Get(pid)
	if !ok && s.isLocal(pid) {
		return nil, fmt.Errorf("%w: %s", ErrNoProcess, PIDString(pid))
	}
	if err := s.sendable(pid, req); err != nil {
		return nil, err
	}
	sl := s.getSlot()
	gen := sl.arm()
	env := &actor.MessageEnvelope{
		Message: req,
		Sender:  &PID{Address: s.as.ProcessRegistry.Address, Id: sl.id, RequestId: gen},
	}
	if h, ok := ctx.Value(headersKey{}).(Headers); ok && len(h) > 0 {
		env.Header = h.clone()
	}
	proc.SendUserMessage(pid, env)
	m, ok := sl.poll()
	if !ok {
		m = s.await(ctx, pid, sl, gen)
	}
	if err, ok := m.(callFailed); ok {
		return nil, err.err
	}
	s.putSlot(sl)
	switch v := m.(type) {
	case *replyErr:
		return nil, v.err
	case *protos.CallError:
		return nil, fmt.Errorf("%w: %s: %s", ErrRemote, PIDString(pid), v.Message)
	case *actor.DeadLetterResponse:
		return nil, fmt.Errorf("%w: %s", ErrNoProcess, PIDString(pid))
	case *protos.NilReply:
		return nil, nil
	}
	if m == nilReply {
		return nil, nil
	}
	return m, nil
}

// poll takes a reply that has already come, after giving the callee one
// scheduling round: a local reply usually comes within it, and waiting so
// spares ctx's Done channel, which a context with a deadline allocates on
// first use.
func (sl *replySlot) poll() (any, bool) {
	for i := 0; ; i++ {
		select {
		case m := <-sl.ch:
			return m, true
		default:
		}
		if i == pollRounds {
			return nil, false
		}
		runtime.Gosched()
	}
}

// pollRounds is how many times a Call yields before it blocks on its
// reply.
const pollRounds = 3

// callFailed is await's answer when no reply will come: the slot must not
// be reused (it is, when the reply was taken).
type callFailed struct{ err error }

// await waits for the reply of the call armed with gen, ctx's end or the
// system's stop.
func (s *System) await(ctx context.Context, pid *PID, sl *replySlot, gen uint32) any {
	select {
	case m := <-sl.ch:
		return m
	case <-ctx.Done():
		if sl.state.CompareAndSwap(uint64(gen)<<1|1, uint64(gen)<<1) {
			s.putSlot(sl)
			return callFailed{ctxErr(pid, ctx.Err())}
		}
		return <-sl.ch // the reply won the race: it is on its way
	case <-s.stopped:
		if sl.state.CompareAndSwap(uint64(gen)<<1|1, uint64(gen)<<1) {
			return callFailed{fmt.Errorf("%w: call to %s", ErrStopped, PIDString(pid))}
		}
		return <-sl.ch
	}
}

// ctxErr is the error of a call whose ctx ended: ErrTimeout for a deadline,
// ErrCanceled for a cancellation, each also matching ctx's own error.
func ctxErr(pid *PID, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: call to %s: %w", ErrTimeout, PIDString(pid), err)
	}
	return fmt.Errorf("%w: call to %s: %w", ErrCanceled, PIDString(pid), err)
}

func init() {
	actorhooks.NewReplyTo = func(pid *PID) any { return ReplyTo{pid: pid} }
	actorhooks.NewMonitorRef = func(id uint64, watcher, target *PID) any {
		return MonitorRef{id: id, watcher: watcher, target: target}
	}
}

// PID is the caller's reply address (nil for the zero ReplyTo).
func (r ReplyTo) PID() *PID { return r.pid }
