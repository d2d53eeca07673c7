package consul

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/foundation-go/foundation/provider"
)

// Service meta keys of an announcement. Kinds longer than one meta value
// continue in "kinds-2", "kinds-3", … .
const (
	metaID      = "id"
	metaCluster = "cluster"
	metaKinds   = "kinds"
	metaVersion = "version"
	metaAuth    = "auth"
)

// Consul's limits on service meta (agent/structs: ValidateServiceMetadata).
const (
	maxMetaValue = 512
	maxMetaPairs = 64
)

// announcement is what Start registers, prepared once.
type announcement struct {
	// self is the member as announced: Address as peers see it before the
	// node address is filled in (":port" when the agent's node address is
	// to be used), Auth the signature under Config.Secret when set.
	self      provider.Member
	serviceID string
	checkID   string
	reg       *api.AgentServiceRegistration
}

// newAnnouncement validates self and builds its registration.
func newAnnouncement(cfg Config, self provider.Member) (*announcement, error) {
	bad := func(format string, args ...any) error {
		return invalid("self."+format, args...)
	}
	self.Kinds = slices.Clone(self.Kinds)
	if self.ID == "" || len(self.ID) > maxMetaValue || strings.ContainsFunc(self.ID, func(r rune) bool {
		return isControl(r) || strings.ContainsRune(" /\\?#%", r)
	}) {
		return nil, bad("ID %q: want 1..%d bytes without white space, control characters, '/', '\\', '?', '#' or '%%' (it is part of the Consul service id)", self.ID, maxMetaValue)
	}
	for _, f := range []struct{ name, v string }{{"Cluster", self.Cluster}, {"Version", self.Version}, {"Auth", self.Auth}} {
		if len(f.v) > maxMetaValue || strings.ContainsFunc(f.v, isControl) {
			return nil, bad("%s %q: want at most %d bytes without control characters", f.name, f.v, maxMetaValue)
		}
	}
	for i, k := range self.Kinds {
		if k == "" || len(k) > maxMetaValue || strings.ContainsFunc(k, isControl) || strings.Contains(k, ",") {
			return nil, bad("Kinds[%d] %q: want 1..%d bytes without commas or control characters", i, k, maxMetaValue)
		}
	}
	host, portStr, err := net.SplitHostPort(self.Address)
	if err != nil {
		return nil, bad("Address %q: %v; want host:port with port 1..65535", self.Address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, bad("Address %q: port %q: want 1..65535", self.Address, portStr)
	}
	if strings.ContainsFunc(host, func(r rune) bool { return isControl(r) || r == ' ' }) {
		return nil, bad("Address %q: the host contains white space or a control character", self.Address)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() {
			host = "" // the agent announces its node's address instead
		} else {
			host = ip.Unmap().WithZone("").String()
		}
	}
	self.Address = net.JoinHostPort(host, strconv.FormatUint(port, 10))
	if len(cfg.Secret) > 0 {
		self.Auth = provider.Sign(cfg.Secret, self)
	}

	meta := map[string]string{metaID: self.ID}
	for k, v := range map[string]string{metaCluster: self.Cluster, metaVersion: self.Version, metaAuth: self.Auth} {
		if v != "" {
			meta[k] = v
		}
	}
	for i, chunk := range chunkKinds(self.Kinds) {
		meta[kindsKey(i)] = chunk
	}
	if len(meta) > maxMetaPairs {
		return nil, bad("Kinds: %d kinds do not fit in Consul's %d service meta values of %d bytes", len(self.Kinds), maxMetaPairs, maxMetaValue)
	}

	a := &announcement{self: self, serviceID: cfg.Service + "-" + self.ID}
	a.checkID = "service:" + a.serviceID
	a.reg = &api.AgentServiceRegistration{
		ID:      a.serviceID,
		Name:    cfg.Service,
		Address: host,
		Port:    int(port),
		Meta:    meta,
		Check: &api.AgentServiceCheck{
			CheckID:                        a.checkID,
			Name:                           "Foundation member " + self.ID,
			Notes:                          "Renewed by the member every TTL/3; critical when the member stopped renewing it.",
			TTL:                            cfg.TTL.String(),
			Status:                         api.HealthPassing,
			DeregisterCriticalServiceAfter: cfg.DeregisterAfter.String(),
		},
	}
	return a, nil
}

// kindsKey is the meta key of the i-th (from 0) chunk of kinds.
func kindsKey(i int) string {
	if i == 0 {
		return metaKinds
	}
	return metaKinds + "-" + strconv.Itoa(i+1)
}

// chunkKinds joins kinds with commas into values of at most maxMetaValue
// bytes, breaking only between kinds.
func chunkKinds(kinds []string) []string {
	var out []string
	var cur strings.Builder
	for _, k := range kinds {
		if cur.Len() > 0 && cur.Len()+1+len(k) > maxMetaValue {
			out = append(out, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(',')
		}
		cur.WriteString(k)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// entryMember converts a health entry into the member as reported (address
// with the node's address filled in when the service has none) and as
// announced (the address the signature covers). ok is false when the entry
// has no service or no usable port.
func entryMember(e *api.ServiceEntry) (reported, announced provider.Member, ok bool) {
	if e == nil || e.Service == nil || e.Service.Port <= 0 || e.Service.Port > 65535 {
		return provider.Member{}, provider.Member{}, false
	}
	s := e.Service
	port := strconv.Itoa(s.Port)
	announced = provider.Member{
		ID:      s.Meta[metaID],
		Address: net.JoinHostPort(s.Address, port),
		Cluster: s.Meta[metaCluster],
		Version: s.Meta[metaVersion],
		Auth:    s.Meta[metaAuth],
	}
	if announced.ID == "" {
		announced.ID = s.ID // not registered by Foundation: its service id
	}
	for i := 0; ; i++ {
		chunk, found := s.Meta[kindsKey(i)]
		if !found {
			break
		}
		for k := range strings.SplitSeq(chunk, ",") {
			if k != "" {
				announced.Kinds = append(announced.Kinds, k)
			}
		}
	}
	reported = announced
	reported.Kinds = slices.Clone(announced.Kinds)
	if s.Address == "" {
		if e.Node == nil || e.Node.Address == "" {
			return provider.Member{}, provider.Member{}, false
		}
		reported.Address = net.JoinHostPort(e.Node.Address, port)
	}
	return reported, announced, true
}

// verdict is what admit decides about one instance.
type verdict int

const (
	admitted verdict = iota
	otherCluster
	badAuth
)

// admit decides whether a member announced as m is reported to a member of
// cluster under secret (empty: no signature check).
func admit(cluster string, secret []byte, m provider.Member) verdict {
	if m.Cluster != cluster {
		return otherCluster
	}
	if len(secret) > 0 && !provider.Verify(secret, m) {
		return badAuth
	}
	return admitted
}

// sortMembers orders members by ID, then Address, and keeps the first of
// each ID.
func sortMembers(ms []provider.Member) []provider.Member {
	slices.SortStableFunc(ms, func(a, b provider.Member) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Address, b.Address))
	})
	return slices.CompactFunc(ms, func(a, b provider.Member) bool { return a.ID == b.ID })
}

// sameMembers reports whether two sorted member sets are equal, field by
// field.
func sameMembers(a, b []provider.Member) bool {
	return slices.EqualFunc(a, b, func(x, y provider.Member) bool {
		return x.ID == y.ID && x.Address == y.Address && x.Cluster == y.Cluster &&
			x.Version == y.Version && x.Auth == y.Auth && slices.Equal(x.Kinds, y.Kinds)
	})
}

// nextIndex is the WaitIndex of the blocking query after one that was sent
// with prev and answered with got, by Consul's rules for blocking queries:
// an index that went backwards (a restored snapshot, a rebuilt agent) resets
// the loop to 0, so that the next query answers at once with a fresh index;
// an index of 0 is never waited on (it would not block), 1 is used instead.
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	default:
		return got
	}
}
