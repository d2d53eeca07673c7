package actor

import (
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// Exit is delivered as a message to a process that traps exits when a linked
// process exits (with any reason, Normal included).
type Exit struct {
	From   *PID
	Reason Reason
}

// Down is delivered once to the watcher of a monitor when the monitored
// process exits, or at once with reason NoProc if it was already dead.
type Down struct {
	Ref    MonitorRef
	PID    *PID
	Reason Reason
}

// MonitorRef identifies one monitor; pass it to Demonitor.
type MonitorRef struct {
	id      uint64
	watcher *PID
	target  *PID
}

// IsZero reports whether r is the zero MonitorRef (no monitor).
func (r MonitorRef) IsZero() bool { return r.id == 0 }

// exitSignal is the internal message that carries an exit over a link.
type exitSignal struct {
	from   *PID
	reason Reason
	kill   bool
	// onlyTrapped: deliver as Exit to a trapping process, else ignore (the
	// NoProc of a link to a dead process, which Link also returns).
	onlyTrapped bool
}

// downSignal carries a Down to the watcher, which filters demonitored refs.
type downSignal struct{ down Down }

func (s *System) isLocal(pid *PID) bool {
	a := pid.Address
	return a == s.as.ProcessRegistry.Address || a == "nonhost"
}

// alive reports whether a local pid is registered.
func (s *System) alive(pid *PID) bool {
	_, ok := s.as.ProcessRegistry.Get(pid)
	return ok
}

func (s *System) checkLocal(what string, pid *PID) error {
	if pid == nil {
		return fmt.Errorf("%w: %s: pid is nil", ErrInvalid, what)
	}
	if err := s.check(); err != nil {
		return err
	}
	if !s.isLocal(pid) {
		return fmt.Errorf("%w: %s: %s is not a process of this system (%s); links, monitors, exit signals, names and groups are local to one member",
			ErrNotLocal, what, PIDString(pid), s.as.Address())
	}
	return nil
}

// Link links a and b, two local processes: when either exits abnormally the
// other receives an exit signal (see Exit and TrapExit). A link to a dead
// process returns ErrNoProcess, and a process that traps exits also receives
// Exit{Reason: NoProc}. Linking twice is one link. A PID of another member
// is ErrNotLocal.
func (s *System) Link(a, b *PID) error { return s.link(a, b, true) }

// link is Link; notify false sends no NoProc exit to a for a dead b (a
// process being spawned has no mailbox to receive it yet: Spawn returns the
// error instead).
func (s *System) link(a, b *PID, notify bool) error {
	if err := s.checkLocal("Link", a); err != nil {
		return err
	}
	if err := s.checkLocal("Link", b); err != nil {
		return err
	}
	if key(a) == key(b) {
		return nil
	}
	ok := s.table.with(a, s.alive, func(e *entry) {
		if e.links == nil {
			e.links = make(map[string]*PID, 2)
		}
		e.links[key(b)] = b
	})
	if !ok {
		return fmt.Errorf("%w: Link: %s", ErrNoProcess, PIDString(a))
	}
	ok = s.table.with(b, s.alive, func(e *entry) {
		if e.links == nil {
			e.links = make(map[string]*PID, 2)
		}
		e.links[key(a)] = a
	})
	if !ok {
		s.table.peek(a, func(e *entry) { delete(e.links, key(b)) })
		if notify {
			s.tell(a, &exitSignal{from: b, reason: NoProc, onlyTrapped: true})
		}
		return fmt.Errorf("%w: Link: %s", ErrNoProcess, PIDString(b))
	}
	return nil
}

// Unlink removes the link between a and b, if any.
func (s *System) Unlink(a, b *PID) {
	if a == nil || b == nil || s.as == nil {
		return
	}
	s.table.peek(a, func(e *entry) { delete(e.links, key(b)) })
	s.table.peek(b, func(e *entry) { delete(e.links, key(a)) })
}

// Monitor makes watcher receive exactly one Down when target exits. If target
// is already dead the Down (reason NoProc) is sent at once. Both must be
// local (a PID of another member is ErrNotLocal); watcher must be a process
// spawned by this System.
func (s *System) Monitor(watcher, target *PID) (MonitorRef, error) {
	if err := s.checkLocal("Monitor", watcher); err != nil {
		return MonitorRef{}, err
	}
	if err := s.checkLocal("Monitor", target); err != nil {
		return MonitorRef{}, err
	}
	ref := MonitorRef{id: s.table.refs.Add(1), watcher: watcher, target: target}
	ok := s.table.with(watcher, s.alive, func(e *entry) {
		if e.monitoring == nil {
			e.monitoring = make(map[uint64]*PID, 1)
		}
		e.monitoring[ref.id] = target
	})
	if !ok {
		return MonitorRef{}, fmt.Errorf("%w: Monitor: watcher %s", ErrNoProcess, PIDString(watcher))
	}
	ok = s.table.with(target, s.alive, func(e *entry) {
		if e.monitoredBy == nil {
			e.monitoredBy = make(map[uint64]*PID, 1)
		}
		e.monitoredBy[ref.id] = watcher
	})
	if !ok {
		s.tell(watcher, &downSignal{Down{Ref: ref, PID: target, Reason: NoProc}})
	}
	return ref, nil
}

// Demonitor removes a monitor. No Down for ref is delivered after Demonitor
// returns, even one already in the watcher's mailbox.
func (s *System) Demonitor(ref MonitorRef) {
	if ref.IsZero() || s.as == nil {
		return
	}
	s.table.peek(ref.target, func(e *entry) { delete(e.monitoredBy, ref.id) })
	s.table.peek(ref.watcher, func(e *entry) { delete(e.monitoring, ref.id) })
}

// Kill terminates pid with reason Killed. It cannot be trapped. A handler
// that is running finishes first: Go cannot interrupt it.
func (s *System) Kill(pid *PID) error {
	if err := s.checkLocal("Kill", pid); err != nil {
		return err
	}
	ok := s.table.with(pid, s.alive, func(e *entry) {
		e.killed = true
	})
	if !ok {
		return fmt.Errorf("%w: Kill: %s", ErrNoProcess, PIDString(pid))
	}
	s.root.Stop(pid)
	return nil
}

// Exit sends an exit signal with reason to pid, as if a linked process had
// exited with it: pid dies unless it traps exits (then it receives Exit) or
// reason is Normal. Killed cannot be trapped.
func (s *System) Exit(pid *PID, reason Reason) error {
	if err := s.checkLocal("Exit", pid); err != nil {
		return err
	}
	return s.ExitFrom(nil, pid, reason)
}

// ExitFrom is Exit with a sender: a process that traps exits receives
// Exit{From: from} (a supervisor telling its child to stop, say).
func (s *System) ExitFrom(from, pid *PID, reason Reason) error {
	if err := s.checkLocal("Exit", pid); err != nil {
		return err
	}
	if reason == Killed {
		return s.Kill(pid)
	}
	if !s.alive(pid) {
		return fmt.Errorf("%w: Exit: %s", ErrNoProcess, PIDString(pid))
	}
	s.tell(pid, &exitSignal{from: from, reason: reason})
	return nil
}

func validName(what, name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || len(name) > 255 {
		return fmt.Errorf("%w: %s: name %q must be 1..255 characters without '/' or NUL", ErrInvalid, what, name)
	}
	return nil
}

// Register names pid locally. A name is freed when its process dies. It is
// ErrNameTaken if the name is in use, ErrNoProcess if pid is dead. Other
// members reach the name's holder through NamePID(s.Address(), name).
func (s *System) Register(name string, pid *PID) error {
	if err := validName("Register", name); err != nil {
		return err
	}
	if err := s.checkLocal("Register", pid); err != nil {
		return err
	}
	var err error
	live := s.table.with(pid, s.alive, func(e *entry) {
		s.table.namesMu.Lock()
		defer s.table.namesMu.Unlock()
		if cur, taken := s.table.names[name]; taken {
			err = fmt.Errorf("%w: %q is registered to %s", ErrNameTaken, name, PIDString(cur))
			return
		}
		s.table.names[name] = pid
		s.addRoute(name)
		e.names = append(e.names, name)
	})
	if !live {
		return fmt.Errorf("%w: Register %q: %s", ErrNoProcess, name, PIDString(pid))
	}
	return err
}

// Whereis returns the process registered under name, or nil.
func (s *System) Whereis(name string) *PID {
	s.table.namesMu.Lock()
	defer s.table.namesMu.Unlock()
	return s.table.names[name]
}

// Unregister frees name. It reports whether the name was registered.
func (s *System) Unregister(name string) bool {
	s.table.namesMu.Lock()
	pid, ok := s.table.names[name]
	if ok {
		delete(s.table.names, name)
		s.dropRoute(name)
	}
	s.table.namesMu.Unlock()
	if ok {
		s.table.peek(pid, func(e *entry) {
			for i, n := range e.names {
				if n == name {
					e.names = append(e.names[:i], e.names[i+1:]...)
					break
				}
			}
		})
	}
	return ok
}

// Join adds pid to the local process group; a process may be in many groups.
// Dead processes leave their groups by themselves.
func (s *System) Join(group string, pid *PID) error {
	if err := validName("Join", group); err != nil {
		return err
	}
	if err := s.checkLocal("Join", pid); err != nil {
		return err
	}
	live := s.table.with(pid, s.alive, func(e *entry) {
		s.table.groupsMu.Lock()
		defer s.table.groupsMu.Unlock()
		g := s.table.groups[group]
		if g == nil {
			g = make(map[string]*PID)
			s.table.groups[group] = g
		}
		if _, in := g[key(pid)]; !in {
			g[key(pid)] = pid
			e.groups = append(e.groups, group)
		}
	})
	if !live {
		return fmt.Errorf("%w: Join %q: %s", ErrNoProcess, group, PIDString(pid))
	}
	return nil
}

// Leave removes pid from group.
func (s *System) Leave(group string, pid *PID) {
	if pid == nil {
		return
	}
	s.table.groupsMu.Lock()
	if g := s.table.groups[group]; g != nil {
		delete(g, key(pid))
		if len(g) == 0 {
			delete(s.table.groups, group)
		}
	}
	s.table.groupsMu.Unlock()
	s.table.peek(pid, func(e *entry) {
		for i, n := range e.groups {
			if n == group {
				e.groups = append(e.groups[:i], e.groups[i+1:]...)
				break
			}
		}
	})
}

// Members returns the live processes of group, in no particular order.
func (s *System) Members(group string) []*PID {
	s.table.groupsMu.Lock()
	defer s.table.groupsMu.Unlock()
	g := s.table.groups[group]
	out := make([]*PID, 0, len(g))
	for _, p := range g {
		out = append(out, p)
	}
	return out
}

// exitOverride returns the reason decided for pid from outside its own
// handlers: Killed after Kill, or the error of a panic the engine caught.
func (s *System) exitOverride(pid *PID) (Reason, bool) {
	var r Reason
	ok := false
	s.table.peek(pid, func(e *entry) {
		switch {
		case e.killed:
			r, ok = Killed, true
		case e.crash != nil:
			r, ok = ErrorReason(e.crash), true
		}
	})
	return r, ok
}

// crashed handles a panic the mailbox recovered in a plain actor
// (sup is its parent, or the system's guardian): the process exits with the
// panic as its error reason, and a call it was handling fails at once.
func (s *System) crashed(sup actor.Supervisor, child *PID, reason, msg any) {
	err := &PanicError{Value: reason}
	s.table.with(child, s.alive, func(e *entry) { e.crash = err })
	s.log.Warn("process crashed", zap.String("pid", PIDString(child)), zap.Error(err))
	if env, ok := msg.(*actor.MessageEnvelope); ok && env.Sender != nil {
		s.reply(ReplyTo{pid: env.Sender}, fmt.Errorf("%w: %s crashed while handling the call: %v", ErrNoProcess, PIDString(child), err))
	}
	sup.StopChildren(child)
}

// guardian supervises top-level processes for the engine.
type guardian struct{ s *System }

func (g *guardian) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *PID, _ *actor.RestartStatistics, reason, msg any) {
	g.s.crashed(sup, child, reason, msg)
}

// exited is called once by a dying process (after the engine removed it from
// the registry): it frees names and groups, then fires links and monitors.
// It returns whether the process was killed.
func (s *System) exited(self *PID, reason Reason) (killed bool) {
	e := s.table.take(self)
	if e == nil {
		return false
	}
	if e.killed {
		reason = Killed
	}
	// Names and groups are freed before any link or monitor hears of the
	// death, as in OTP: a supervisor restarting a named child on its exit
	// signal, or a watcher registering a successor on Down, finds the name
	// free.
	if len(e.names) > 0 {
		s.table.namesMu.Lock()
		for _, n := range e.names {
			if cur := s.table.names[n]; cur != nil && key(cur) == key(self) {
				delete(s.table.names, n)
				s.dropRoute(n)
			}
		}
		s.table.namesMu.Unlock()
	}
	if len(e.groups) > 0 {
		s.table.groupsMu.Lock()
		for _, gname := range e.groups {
			if g := s.table.groups[gname]; g != nil {
				delete(g, key(self))
				if len(g) == 0 {
					delete(s.table.groups, gname)
				}
			}
		}
		s.table.groupsMu.Unlock()
	}
	for _, other := range e.links {
		s.table.peek(other, func(oe *entry) { delete(oe.links, key(self)) })
		// As in OTP, linked processes receive reason killed as an ordinary,
		// trappable exit signal.
		s.tell(other, &exitSignal{from: self, reason: reason})
	}
	// Monitors this process held die with it, as in OTP: the targets
	// forget them (no Down will be sent to a dead watcher).
	for ref, target := range e.monitoring {
		s.table.peek(target, func(te *entry) { delete(te.monitoredBy, ref) })
	}
	for ref, watcher := range e.monitoredBy {
		s.tell(watcher, &downSignal{Down{Ref: MonitorRef{id: ref, watcher: watcher, target: self}, PID: self, Reason: reason}})
	}
	return e.killed
}

// acceptDown reports whether the watcher still holds ref (not demonitored)
// and consumes it.
func (s *System) acceptDown(watcher *PID, ref uint64) bool {
	ok := false
	s.table.peek(watcher, func(e *entry) {
		if _, ok = e.monitoring[ref]; ok {
			delete(e.monitoring, ref)
		}
	})
	return ok
}

// Target is the monitored process.
func (r MonitorRef) Target() *PID { return r.target }

// Watcher is the process that receives the Down.
func (r MonitorRef) Watcher() *PID { return r.watcher }
