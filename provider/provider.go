package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
)

// Member is one cluster member as a discovery back-end announces it. Fields
// a back-end cannot know are empty — a static seed list knows only
// addresses — and the cluster layer learns and verifies the rest with its
// join handshake.
type Member struct {
	// ID identifies one run of a member; a restarted member has a new ID.
	ID string
	// Address is the host:port of the member's remoting endpoint.
	Address string
	// Cluster is the cluster name the member belongs to.
	Cluster string
	// Kinds are the grain kinds the member hosts.
	Kinds []string
	// Version is the member's Foundation version.
	Version string
	// Auth is Sign(secret, member) when the back-end carries it (mDNS TXT).
	Auth string
}

// Provider is a discovery back-end: it announces this member, watches the set
// of members, and withdraws the announcement. Implementations are small; the
// cluster layer does admission, failure detection and events.
type Provider interface {
	// Start announces self and starts watching. It returns once the
	// announcement is made, or with an error (bad configuration,
	// ErrUnavailable after the configured retries). update receives the full
	// current set of members the back-end sees (self may be among them); the
	// provider calls it from a goroutine it owns, never concurrently, and
	// update must not block for long.
	Start(ctx context.Context, self Member, update func([]Member)) error
	// Stop withdraws the announcement (a goodbye, a deregistration), stops
	// watching and waits for the provider's goroutines. It is idempotent and
	// returns within ctx.
	Stop(ctx context.Context) error
}

// Errors shared by providers.
var (
	// ErrInvalidConfig: a provider's configuration is unusable; the message
	// names the field.
	ErrInvalidConfig = errors.New("provider: invalid configuration")
	// ErrUnavailable: the back-end could not be reached after the configured
	// retries; the message names the address.
	ErrUnavailable = errors.New("provider: back-end unavailable")
	// ErrStopped: Start after Stop.
	ErrStopped = errors.New("provider: stopped")
)

// canonical is the byte string an announcement's HMAC covers: every field
// length-prefixed, kinds sorted and each prefixed too, so that no two
// different members encode alike ("a,b" against "a" and "b", or a NUL moved
// from one field to the next).
func canonical(m Member) []byte {
	kinds := slices.Clone(m.Kinds)
	slices.Sort(kinds)
	var b []byte
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	field("foundation-member-v2")
	field(m.Cluster)
	field(m.ID)
	field(m.Address)
	b = binary.AppendUvarint(b, uint64(len(kinds)))
	for _, k := range kinds {
		field(k)
	}
	field(m.Version)
	return b
}

// Sign returns the hex HMAC-SHA256 of m's announcement under secret.
func Sign(secret []byte, m Member) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(canonical(m))
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether m.Auth is a valid signature of m under secret.
func Verify(secret []byte, m Member) bool {
	got, err := hex.DecodeString(m.Auth)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(canonical(m))
	return hmac.Equal(got, mac.Sum(nil))
}
