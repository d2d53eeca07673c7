package actor

import (
	"reflect"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
)

// mailboxField is the offset of the engine's ActorProcess.mailbox, which the
// engine does not expose. It is found by reflection once, checked for name
// and type, so that an engine whose ActorProcess changed makes MailboxLen
// report false instead of reading the wrong memory (and fails this
// package's tests, which expect true).
var mailboxField, mailboxFieldOK = func() (uintptr, bool) {
	f, ok := reflect.TypeFor[actor.ActorProcess]().FieldByName("mailbox")
	if !ok || f.Type != reflect.TypeFor[actor.Mailbox]() {
		return 0, false
	}
	return f.Offset, true
}()

// MailboxLen reports how many user messages wait in the mailbox of the local
// process pid, and whether pid is a live local process whose mailbox could be
// read. The count includes the batch the process is handling (see the
// package doc on mailboxes): a process busy with a batch of n messages counts
// n until the batch is done, so the figure is exact for an idle process and
// an upper bound for a busy one. Remote, dead or unknown pids, and a System
// that is not running, report (0, false).
//
// It takes no lock a sender holds for longer than an append and allocates
// nothing: routers and resizers call it per routing decision. It reads the
// mailbox without touching the send or receive path.
func (s *System) MailboxLen(pid *PID) (int, bool) {
	if pid == nil || !mailboxFieldOK || s.state.Load() != stateRunning || !s.isLocal(pid) {
		return 0, false
	}
	proc, ok := s.as.ProcessRegistry.Get(pid)
	if !ok {
		return 0, false
	}
	ap, ok := proc.(*actor.ActorProcess)
	if !ok || ap == nil {
		return 0, false // a reply slot, a future, a router: no mailbox
	}
	mb := mailboxOf(ap)
	if mb == nil {
		return 0, false
	}
	return mb.UserMessageCount(), true
}

// mailboxOf reads the engine's ActorProcess.mailbox (mailboxFieldOK must
// hold).
func mailboxOf(ap *actor.ActorProcess) actor.Mailbox {
	return *(*actor.Mailbox)(unsafe.Add(unsafe.Pointer(ap), mailboxField))
}
