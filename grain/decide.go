package grain

import "github.com/foundation-go/foundation/internal/protos"

// This file holds the decisions of the one-activation-per-identity
// protocol as pure functions of a view and of what this member holds: no
// goroutines, no locks, no clock. The host (host.go, activation.go,
// inbound.go) gathers the inputs under its locks and applies the outcome.

// holding is what this member holds of one identity.
type holding uint8

const (
	// holdsNothing: no activation and no placement under way.
	holdsNothing holding = iota
	// holdsActivating: an activation is being created here (it claimed or
	// is claiming the identity).
	holdsActivating
	// holdsActive: a live activation, not stopping.
	holdsActive
	// holdsStopping: an activation is deactivating.
	holdsStopping
	// holdsPlacing: this member, the directory owner of a sticky identity,
	// is placing it.
	holdsPlacing
)

// claimDecision is how to answer another member's claim.
type claimDecision struct {
	status protos.GrainFrame_Status
	// release: deactivate the local activation first, then answer NONE.
	release bool
	// waitGone: an activation is deactivating: answer NONE once it ended.
	waitGone bool
}

// decideClaim answers a claim of (kind, identity) made by a member whose
// view id is senderView (0: unknown, not checked). A claim from a member
// whose view differs is answered STALE: an activation moves only between
// members that agree on where it belongs.
func decideClaim(v *view, p Placement, kind, id string, h holding, senderView uint64) claimDecision {
	if senderView != 0 && senderView != v.id {
		return claimDecision{status: protos.GrainFrame_STALE}
	}
	switch h {
	case holdsNothing:
		return claimDecision{status: protos.GrainFrame_NONE}
	case holdsActivating, holdsPlacing:
		return claimDecision{status: protos.GrainFrame_CONFLICT}
	case holdsStopping:
		return claimDecision{status: protos.GrainFrame_NONE, waitGone: true}
	}
	if p.sticky() {
		return claimDecision{status: protos.GrainFrame_HAVE_IT}
	}
	if keepHere(v, p, kind, id) {
		return claimDecision{status: protos.GrainFrame_CONFLICT}
	}
	return claimDecision{status: protos.GrainFrame_NONE, release: true}
}

// keepHere reports whether a live local activation of (kind, identity)
// stays on this member: for exclusive placements while the view places it
// here and the member serves; for sticky ones while the member serves;
// others always.
func keepHere(v *view, p Placement, kind, id string) bool {
	switch {
	case p.exclusive():
		n := v.place(p, kind, id)
		return v.serving && n != nil && n.id == v.self
	case p.sticky():
		return v.serving
	}
	return true
}

// mayActivate reports whether a new activation of an identity of placement
// p may start on this member: exclusive and sticky identities only on a
// serving member (not joining, fenced or downed).
func mayActivate(v *view, p Placement) bool {
	return v.serving || !(p.exclusive() || p.sticky())
}
