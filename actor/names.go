package actor

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// namePrefix begins the process id under which a registered name receives
// messages from any member (see NamePID).
const namePrefix = "$name/"

// NamePID returns the address of the process registered under name on the
// member whose remoting address is address: messages sent to it (Tell,
// Call, from this member or another) go to whatever process holds the name
// there when each message arrives, with their sender and headers, as
// Erlang's {Name, Node} ! Msg. If no process holds the name, the message
// is a dead letter and a Call to it fails with ErrNoProcess.
//
// The PID names a route, not a process: links, monitors and exit signals
// need the process's own PID (Whereis on its member). It is ErrInvalid for
// an empty address or a name Register would refuse.
func NamePID(address, name string) (*PID, error) {
	if err := validName("NamePID", name); err != nil {
		return nil, err
	}
	if address == "" {
		return nil, fmt.Errorf("%w: NamePID: address is empty; want the member's remoting host:port (System.Address)", ErrInvalid)
	}
	return &PID{Address: address, Id: namePrefix + name}, nil
}

// nameRoute is the engine process under a name's route id: it forwards
// each message, envelope and all, to the name's current holder. It runs in
// the sender's goroutine (the remoting reader for remote senders), so
// messages keep their order.
type nameRoute struct {
	s    *System
	name string
}

func (r *nameRoute) target() (actor.Process, *PID) {
	pid := r.s.Whereis(r.name)
	if pid == nil {
		return r.s.as.DeadLetter, &PID{Address: r.s.as.ProcessRegistry.Address, Id: namePrefix + r.name}
	}
	proc, _ := r.s.as.ProcessRegistry.Get(pid)
	return proc, pid
}

func (r *nameRoute) SendUserMessage(_ *PID, msg any) {
	proc, pid := r.target()
	proc.SendUserMessage(pid, msg)
}

func (r *nameRoute) SendSystemMessage(_ *PID, msg any) {
	proc, pid := r.target()
	proc.SendSystemMessage(pid, msg)
}

func (r *nameRoute) Stop(*PID) {}

// addRoute and dropRoute keep the engine's route for name; the caller holds
// namesMu.
func (s *System) addRoute(name string) {
	s.as.ProcessRegistry.Add(&nameRoute{s: s, name: name}, namePrefix+name)
}

func (s *System) dropRoute(name string) {
	s.as.ProcessRegistry.Remove(&PID{Address: s.as.ProcessRegistry.Address, Id: namePrefix + name})
}
