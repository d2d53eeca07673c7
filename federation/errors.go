package federation

import "errors"

// Errors returned by this package. Compare them with errors.Is; the
// message of the error returned names what was wrong.
var (
	// ErrInvalid: a bad argument or configuration; the message names the
	// field and what is allowed.
	ErrInvalid = errors.New("federation: invalid argument")
	// ErrUnknownCluster: the cluster is not in the topology.
	ErrUnknownCluster = errors.New("federation: unknown cluster")
	// ErrNotExported: the target cluster does not export the service
	// (Config.Exports of its gateways), or has no routable instance of it.
	ErrNotExported = errors.New("federation: service not exported")
	// ErrUnreachable: no route to the cluster (its links are down, or
	// this member sees no gateway of its own cluster). Nothing was sent.
	ErrUnreachable = errors.New("federation: cluster unreachable")
	// ErrLinkLost: a link carrying the request went down before the reply
	// came; the request may or may not have been handled.
	ErrLinkLost = errors.New("federation: link lost, outcome unknown")
	// ErrRemote: the service's handler in the other cluster returned an
	// error; the message carries its text.
	ErrRemote = errors.New("federation: remote error")
	// ErrAuth: a gateway link was refused: the peer's certificate is not
	// signed by the configured CA, it does not know the per-link secret,
	// or it names a cluster this one does not link. The refusing side
	// logs the stranger's address and the reason.
	ErrAuth = errors.New("federation: link authentication failed")
	// ErrNoService: there is no exported instance of the service in any
	// reachable cluster (global Call).
	ErrNoService = errors.New("federation: no cluster serves the service")
	// ErrClosed: the Federation is stopped.
	ErrClosed = errors.New("federation: closed")
)
