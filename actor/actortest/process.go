package actortest

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/internal/actorhooks"
)

// process is the actor.Process a Harness hands to its Server: it records
// what the Server does instead of doing it.
type process struct {
	h   *Harness
	log *zap.Logger
}

var _ actor.Process = (*process)(nil)

func (p *process) Self() *actor.PID { return p.h.self }

func (p *process) Send(pid *actor.PID, msg any) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	p.h.sent = append(p.h.sent, Sent{To: pid, Msg: msg})
}

func (p *process) SendWithHeaders(pid *actor.PID, msg any, hdr actor.Headers) {
	if len(hdr) == 0 {
		hdr = nil // the runtime sends it as a plain message
	}
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	p.h.sent = append(p.h.sent, Sent{To: pid, Msg: msg, Headers: maps.Clone(hdr)})
}

func (p *process) Header(key string) string {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	return p.h.hdr[key]
}

// Spawn accepts what System.Spawn accepts and records the child without
// running it, with its resolved options (Spawned.Config).
func (p *process) Spawn(b any, opts ...actor.SpawnOption) (*actor.PID, error) {
	cfg, err := actor.ResolveSpawnOptions(opts...)
	if err != nil {
		return nil, err
	}
	switch b.(type) {
	case nil:
		return nil, fmt.Errorf("%w: Spawn: behaviour is nil; want a Server, an Actor or a func(Context)", actor.ErrInvalid)
	case actor.Server, actor.Actor, func(actor.Context):
	default:
		return nil, fmt.Errorf("%w: Spawn: behaviour of type %T; want a Server, an Actor or a func(Context)", actor.ErrInvalid, b)
	}
	h := p.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nChild++
	pid := &actor.PID{Address: h.self.Address, Id: fmt.Sprintf("%s/child-%d", h.self.Id, h.nChild)}
	h.spawned = append(h.spawned, Spawned{PID: pid, Behaviour: b, Opts: slices.Clone(opts), Config: cfg})
	return pid, nil
}

// notLocal refuses, as the runtime does, a PID of another member: one whose
// address is neither the Server's own nor "nonhost".
func (p *process) notLocal(what string, pid *actor.PID) error {
	if pid.Address == p.h.self.Address || pid.Address == "nonhost" {
		return nil
	}
	return fmt.Errorf("%w: %s: %s is not on this member (%s)", actor.ErrNotLocal, what, actor.PIDString(pid), p.h.self.Address)
}

func (p *process) Link(pid *actor.PID) error {
	if pid == nil {
		return fmt.Errorf("%w: Link: pid is nil", actor.ErrInvalid)
	}
	if err := p.notLocal("Link", pid); err != nil {
		return err
	}
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	p.h.linked = append(p.h.linked, pid)
	return nil
}

func (p *process) Unlink(pid *actor.PID) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	p.h.unlinked = append(p.h.unlinked, pid)
}

func (p *process) Monitor(pid *actor.PID) (actor.MonitorRef, error) {
	if pid == nil {
		return actor.MonitorRef{}, fmt.Errorf("%w: Monitor: pid is nil", actor.ErrInvalid)
	}
	if err := p.notLocal("Monitor", pid); err != nil {
		return actor.MonitorRef{}, err
	}
	h := p.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nRef++
	ref := actorhooks.NewMonitorRef(h.nRef, h.self, pid).(actor.MonitorRef)
	h.monitored = append(h.monitored, ref)
	h.monitors[ref] = struct{}{}
	return ref, nil
}

func (p *process) Demonitor(ref actor.MonitorRef) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	p.h.demonitored = append(p.h.demonitored, ref)
	delete(p.h.monitors, ref)
}

func (p *process) TrapExit(on bool) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	p.h.trapExit = on
}

func (p *process) Stop(reason actor.Reason) { p.h.stop(reason) }

func (p *process) ReplyTo() actor.ReplyTo {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	return p.h.replyTo
}

func (p *process) Reply(to actor.ReplyTo, msg any) {
	p.h.mu.Lock()
	p.h.replies = append(p.h.replies, Reply{To: to, Msg: msg})
	p.h.mu.Unlock()
	p.h.answer(to, msg)
}

func (p *process) Logger() *zap.Logger { return p.log }

func (p *process) Clock() actor.Clock { return p.h.clock }

// SendAfter schedules msg on the harness Clock; when Advance reaches it, it
// is recorded as sent to self (the harness delivers nothing by itself: feed
// it back with Cast or Info to test the handling).
func (p *process) SendAfter(d time.Duration, msg any) actor.Timer {
	self := p.h.self
	return p.h.clock.AfterFunc(d, func() { p.Send(self, msg) })
}
