package actor

// Server is a process behaviour in the manner of Erlang's gen_server.
// Embed ServerBase for no-op defaults and implement what you need.
//
// Every method runs on the process's own goroutine, one message at a time.
type Server interface {
	// Init runs first, before Spawn returns. A non-nil error makes Spawn
	// return it (wrapped in ErrInitFailed) and the process exits with it.
	Init(p Process) error
	// HandleCall answers a Call. Return the reply (or an error, which the
	// caller receives as its error). To reply later, keep p.ReplyTo() and
	// return NoReply; answer with p.Reply from a later message.
	HandleCall(p Process, req any) (reply any, err error)
	// HandleCast handles a message sent with Tell.
	HandleCast(p Process, msg any)
	// HandleInfo handles runtime messages: Exit (when trapping exits),
	// Down (monitors) and Timeout (idle timeout).
	HandleInfo(p Process, msg any)
	// Terminate runs once when the process exits, with the reason.
	Terminate(p Process, reason Reason)
}

// NoReply, returned as a reply by HandleCall, defers the reply: the Server
// answers later with Process.Reply.
var NoReply = noReply{}

type noReply struct{}

// ServerBase gives a Server no-op methods; embed it.
type ServerBase struct{}

// Init does nothing.
func (ServerBase) Init(Process) error { return nil }

// HandleCall answers ErrUnhandled.
func (ServerBase) HandleCall(_ Process, req any) (any, error) {
	return nil, unhandled(req)
}

// HandleCast ignores msg.
func (ServerBase) HandleCast(Process, any) {}

// HandleInfo ignores msg.
func (ServerBase) HandleInfo(Process, any) {}

// Terminate does nothing.
func (ServerBase) Terminate(Process, Reason) {}

func unhandled(req any) error {
	return &unhandledError{req: req}
}

type unhandledError struct{ req any }

func (e *unhandledError) Error() string { return "actor: unhandled call " + typeName(e.req) }

func (e *unhandledError) Unwrap() error { return ErrUnhandled }

func (p *process) serve(srv Server, c Context, m any) {
	sender := c.Sender()
	if sender == nil {
		srv.HandleCast(p, m)
		return
	}
	if k := p.x.kind; k != nil {
		k.calls.Add(1)
	}
	reply, err := srv.HandleCall(p, m)
	if err != nil {
		if p.sys.opts.observer != nil {
			p.x.herr = err
		}
		p.sys.reply(ReplyTo{pid: sender}, err)
		return
	}
	if reply == NoReply {
		if p.x.pending == nil {
			p.x.pending = make(map[string]*PID)
		}
		p.x.pending[pendingKey(sender)] = sender
		return
	}
	if reply == nil {
		reply = nilReply
	}
	p.sys.reply(ReplyTo{pid: sender}, reply)
}
