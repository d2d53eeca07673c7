package actor

import (
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// pending hands a behaviour from Spawn to the engine's init hook, keyed by
// the new process id. Engine Props are shared by every process of a System
// (they are retained per actor, so one per spawn would cost memory).
type pending struct {
	mu sync.Mutex
	m  map[string]*process
}

func (s *System) engineProps(server, root bool) *actor.Props {
	s.propsOnce.Do(func() {
		s.pend.m = make(map[string]*process)
		onInit := actor.WithOnInit(func(c actor.Context) {
			p := c.Actor().(*process)
			id := c.Self().Id
			s.pend.mu.Lock()
			src := s.pend.m[id]
			delete(s.pend.m, id)
			s.pend.mu.Unlock()
			if src != nil {
				p.b, p.x = src.b, src.x
				if p.x != nil && p.x.opts.link != nil {
					// spawn_link: the link exists before the process runs.
					p.x.linkErr = s.link(c.Self(), p.x.opts.link, false)
				}
			}
		})
		producer := func() actor.Actor { return &process{sys: s} }
		plainMailboxes := actor.WithMailbox(newMailbox)
		serverMailboxes := actor.WithMailbox(func() actor.Mailbox { return &serverMailbox{Mailbox: newMailbox()} })
		// Top-level processes get the system's guardian as engine supervisor;
		// children get their parent process (see process.HandleFailure). The
		// engine refuses guardian props for children, hence two of each.
		guard := actor.WithGuardian(&guardian{s: s})
		s.props[0] = actor.PropsFromProducer(producer, onInit, actor.WithDispatcher(s.disp), plainMailboxes)
		s.props[1] = actor.PropsFromProducer(producer, onInit, actor.WithDispatcher(s.disp), serverMailboxes)
		s.props[2] = actor.PropsFromProducer(producer, onInit, actor.WithDispatcher(s.disp), plainMailboxes, guard)
		s.props[3] = actor.PropsFromProducer(producer, onInit, actor.WithDispatcher(s.disp), serverMailboxes, guard)
	})
	i := 0
	if server {
		i++
	}
	if root {
		i += 2
	}
	return s.props[i]
}

// serverMailbox is a Server's mailbox: Foundation's mailbox, with one more duty.
// After a process has stopped, the engine drops the messages still queued
// for it without a word; here a call among them is answered at once as sent
// to a dead process, so its caller gets ErrNoProcess instead of waiting out
// its deadline. (Plain actors keep the engine's behaviour.)
type serverMailbox struct {
	actor.Mailbox
	inv actor.MessageInvoker
	p   *process
}

func (m *serverMailbox) RegisterHandlers(inv actor.MessageInvoker, d actor.Dispatcher) {
	m.inv = inv
	if c, ok := inv.(actor.Context); ok {
		m.p, _ = c.Actor().(*process)
	}
	m.Mailbox.RegisterHandlers(m, d)
}

func (m *serverMailbox) InvokeUserMessage(msg any) {
	if m.p != nil && m.p.x != nil && m.p.x.dead {
		if env, ok := msg.(*actor.MessageEnvelope); ok && env.Sender != nil {
			m.p.sys.tell(env.Sender, &actor.DeadLetterResponse{})
		}
		return
	}
	m.inv.InvokeUserMessage(msg)
}

func (m *serverMailbox) InvokeSystemMessage(msg any) { m.inv.InvokeSystemMessage(msg) }

func (m *serverMailbox) EscalateFailure(reason, msg any) { m.inv.EscalateFailure(reason, msg) }

// Spawn starts a process running b and returns its PID. b is one of:
//
//   - a Server (Init runs before Spawn returns; its error is Spawn's error),
//   - an Actor (proto.actor's Receive(Context) interface),
//   - a func(Context), as a plain actor.
//
// A process spawned here has no parent; Process.Spawn starts children.
func (s *System) Spawn(b any, opts ...SpawnOption) (*PID, error) {
	return s.spawn(nil, "", b, opts)
}

// SpawnNamed is Spawn with a fixed process id; it is ErrNameTaken if a
// process with that id exists. The name is not registered (see Register).
func (s *System) SpawnNamed(name string, b any, opts ...SpawnOption) (*PID, error) {
	if err := validName("SpawnNamed", name); err != nil {
		return nil, err
	}
	return s.spawn(nil, name, b, opts)
}

func (s *System) spawn(parent actor.Context, name string, b any, opts []SpawnOption) (*PID, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	src := &process{sys: s}
	var srv Server
	switch v := b.(type) {
	case nil:
		return nil, fmt.Errorf("%w: Spawn: behaviour is nil; want a Server, an Actor or a func(Context)", ErrInvalid)
	case Server:
		srv = v
	case Actor:
		src.b = v
	case func(Context):
		src.b = actor.ReceiveFunc(v)
	default:
		return nil, fmt.Errorf("%w: Spawn: behaviour of type %T; want a Server, an Actor or a func(Context)", ErrInvalid, b)
	}
	var so spawnOpts
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applySpawn(&so); err != nil {
			return nil, err
		}
	}
	if so != (spawnOpts{}) || srv != nil {
		src.x = &procExt{opts: so, trapExit: so.trapExit, srv: srv}
		if srv != nil {
			src.x.init = make(chan error, 1)
		}
	}
	props := s.engineProps(srv != nil, parent == nil)
	if name == "" {
		name = s.as.ProcessRegistry.NextId()
	}
	id := name
	if parent != nil {
		id = parent.Self().Id + "/" + name
	}
	s.pend.mu.Lock()
	s.pend.m[id] = src
	s.pend.mu.Unlock()
	s.live.Add(1)
	var (
		pid *PID
		err error
	)
	if parent != nil {
		pid, err = parent.SpawnNamed(props, name)
	} else {
		pid, err = s.root.SpawnNamed(props, name)
	}
	if err != nil {
		s.live.Add(-1)
		s.pend.mu.Lock()
		delete(s.pend.m, id)
		s.pend.mu.Unlock()
		if err == actor.ErrNameExists {
			return nil, fmt.Errorf("%w: a process with id %q exists", ErrNameTaken, id)
		}
		return nil, fmt.Errorf("actor: spawn %q: %w", id, err)
	}
	if src.x != nil && src.x.linkErr != nil {
		s.root.Stop(pid)
		return nil, src.x.linkErr
	}
	if src.x != nil && src.x.init != nil {
		if ierr := <-src.x.init; ierr != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInitFailed, PIDString(pid), ierr)
		}
	}
	return pid, nil
}
