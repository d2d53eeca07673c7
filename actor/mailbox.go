package actor

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// mailbox is every Foundation process's mailbox. It keeps the engine's
// mailbox contract (system messages before user messages, SuspendMailbox and
// ResumeMailbox, a yield every Throughput messages, a panic escalated through
// the invoker without losing the messages behind it, MessageBatch unpacking)
// but takes user messages in batches.
//
// The engine's mailbox locks its queue once per message on each side, so a
// busy sender and its receiver contend for one mutex on every message; that
// contention was most of the cost of a Tell and made its throughput swing
// with scheduling. Here the sender appends under a mutex and the runner
// takes everything queued in one swap, then handles the batch without
// touching the lock again. Scheduling is decided under the same mutex, so a
// post can never be missed between the runner's last look and its return.
type mailbox struct {
	// Read by the runner on every message; written by posters only when a
	// system message arrives.
	sysPending atomic.Bool

	// Runner only (processMessages is never run twice at once).
	inv       actor.MessageInvoker
	disp      actor.Dispatcher
	batch     []any // user messages taken from user; batch[next:] not yet handled
	next      int
	sysBatch  []any // system messages taken from system
	sysNext   int
	suspended bool
	inBatch   atomic.Int32 // len(batch) when taken, for UserMessageCount
	// kind counts the messages handled, per batch, when the System has an
	// Observer; nil otherwise. Set once by RegisterHandlers; read by
	// System.Processes from other goroutines.
	kind atomic.Pointer[kindStats]

	// Posters and runner, under mu.
	mu        sync.Mutex
	user      []any
	system    []any
	scheduled bool // a run is scheduled or running
}

// newMailbox is the MailboxProducer of Foundation processes.
func newMailbox() actor.Mailbox { return &mailbox{} }

// recycleCap bounds the buffers an idle mailbox keeps (see release).
const recycleCap = 4096

func (m *mailbox) PostUserMessage(msg any) {
	// The engine's mailbox delivers the messages of a batch one by one
	// before the batch itself; so does this one.
	if b, ok := msg.(actor.MessageBatch); ok {
		for _, x := range b.GetMessages() {
			m.PostUserMessage(x)
		}
	} else if env, ok := msg.(*actor.MessageEnvelope); ok {
		if b, ok := env.Message.(actor.MessageBatch); ok {
			for _, x := range b.GetMessages() {
				m.PostUserMessage(x)
			}
		}
	}
	m.mu.Lock()
	m.user = append(m.user, msg)
	run := !m.scheduled
	m.scheduled = true
	m.mu.Unlock()
	if run {
		m.disp.Schedule(m.processMessages)
	}
}

func (m *mailbox) PostSystemMessage(msg any) {
	m.mu.Lock()
	m.system = append(m.system, msg)
	m.sysPending.Store(true)
	run := !m.scheduled
	m.scheduled = true
	m.mu.Unlock()
	if run {
		m.disp.Schedule(m.processMessages)
	}
}

func (m *mailbox) RegisterHandlers(inv actor.MessageInvoker, d actor.Dispatcher) {
	m.inv = inv
	m.disp = d
	var p *process
	switch i := inv.(type) {
	case *serverMailbox:
		p = i.p
	case actor.Context:
		p, _ = i.Actor().(*process)
	}
	if p != nil && p.sys.opts.observer != nil {
		var b any = p.b
		if p.x != nil && p.x.srv != nil {
			b = p.x.srv
		}
		k := p.sys.kinds.of(b)
		m.kind.Store(k)
		if p.x != nil {
			p.x.kind = k
		}
	}
}

// kindName is the kind of the mailbox's process ("" without an Observer).
func (m *mailbox) kindName() string {
	if k := m.kind.Load(); k != nil {
		return k.name
	}
	return ""
}

func (m *mailbox) Start() {}

// UserMessageCount is the number of user messages not yet handled, give or
// take the batch being handled.
func (m *mailbox) UserMessageCount() int {
	m.mu.Lock()
	n := len(m.user)
	m.mu.Unlock()
	return n + int(m.inBatch.Load())
}

// processMessages runs on the dispatcher until no work is left, then marks
// the mailbox idle under the posters' lock.
func (m *mailbox) processMessages() {
	for {
		m.run()
		m.mu.Lock()
		work := len(m.system) > 0 || m.sysNext < len(m.sysBatch) ||
			(!m.suspended && (len(m.user) > 0 || m.next < len(m.batch)))
		if !work {
			m.scheduled = false
			m.release()
			// A run ended by a panic or a suspension leaves part of its
			// batch unhandled.
			m.inBatch.Store(int32(len(m.batch) - m.next))
		}
		m.mu.Unlock()
		if !work {
			return
		}
	}
}

// release drops a burst's large buffers when the mailbox goes idle, so that
// an idle process keeps only small ones. While busy, the runner and the
// posters trade two buffers back and forth, which grow once to the size the
// burst needs instead of being allocated anew for every batch. Called with
// mu held by the runner.
// A suspended mailbox goes idle with messages queued: only empty buffers
// are released.
func (m *mailbox) release() {
	if len(m.user) == 0 && cap(m.user) > recycleCap {
		m.user = nil
	}
	if m.next == len(m.batch) && cap(m.batch) > recycleCap {
		m.batch, m.next = nil, 0
	}
}

// run handles system messages first, then user messages, until both queues
// are empty or the mailbox is suspended. A panic is escalated with the
// message that caused it; the messages behind it stay queued.
func (m *mailbox) run() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.inv.EscalateFailure(r, msg)
		}
	}()
	t := m.disp.Throughput()
	i := 0
	for {
		if m.sysPending.Load() || m.sysNext < len(m.sysBatch) {
			if m.sysNext == len(m.sysBatch) {
				m.mu.Lock()
				m.sysBatch, m.system = m.system, m.sysBatch[:0]
				m.sysNext = 0
				m.sysPending.Store(false)
				m.mu.Unlock()
			}
			for m.sysNext < len(m.sysBatch) {
				msg = m.sysBatch[m.sysNext]
				m.sysBatch[m.sysNext] = nil
				m.sysNext++
				switch msg.(type) {
				case *actor.SuspendMailbox:
					m.suspended = true
				case *actor.ResumeMailbox:
					m.suspended = false
				default:
					m.inv.InvokeSystemMessage(msg)
				}
			}
			continue
		}
		if m.suspended {
			return
		}
		if m.next == len(m.batch) {
			m.mu.Lock()
			if len(m.user) == 0 {
				m.mu.Unlock()
				m.inBatch.Store(0)
				return
			}
			m.batch, m.user = m.user, m.batch[:0]
			m.next = 0
			m.mu.Unlock()
			m.inBatch.Store(int32(len(m.batch)))
			if k := m.kind.Load(); k != nil {
				k.messages.Add(uint64(len(m.batch)))
			}
			// A system message posted before these user messages may have
			// arrived since the last look: it goes first.
			continue
		}
		if i++; i > t {
			i = 0
			runtime.Gosched()
		}
		msg = m.batch[m.next]
		m.batch[m.next] = nil
		m.next++
		m.inv.InvokeUserMessage(msg)
	}
}
