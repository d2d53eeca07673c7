package federation

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/service"
)

// Federation is one member's part in a federation of clusters: see the
// package documentation. Make one per member with New, Start it after the
// member's service Registry, Stop it before.
type Federation struct {
	cfg Config
	sys *actor.System
	ms  *cluster.Membership
	reg *service.Registry
	log *zap.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
	ln      net.Listener
	links   map[*conn]struct{}  // gateway: links to other clusters
	served  map[*conn]struct{}  // gateway: streams of this cluster's members
	intra   map[string]*conn    // member: streams to this cluster's gateways, by member id
	infos   map[string]infoSeen // gateway: announced clusters, by cluster/gateway
	clients map[string]*service.Client
	turn    atomic.Uint64

	routes atomic.Pointer[map[string]string]
}

// announcement is what a gateway tells its links (Infos) and its
// cluster's members (Infos and Reach: the clusters it reaches, with the
// latency to the next hop in nanoseconds).
type announcement struct {
	Infos []clusterInfo    `json:"i"`
	Reach map[string]int64 `json:"r,omitempty"`
}

// clusterInfo is one gateway's announcement of its cluster.
type clusterInfo struct {
	Cluster string   `json:"c"`
	Gateway string   `json:"g"`
	Exports []string `json:"e,omitempty"`
	Links   []string `json:"l,omitempty"` // neighbours it has a link up to
	Seq     int64    `json:"s"`
}

type infoSeen struct {
	info clusterInfo
	seen time.Time
}

// New returns the federation of the member of sys, ms and reg (its service
// Registry: the services it calls and serves). Start starts it.
func New(sys *actor.System, ms *cluster.Membership, reg *service.Registry, cfg Config) (*Federation, error) {
	if sys == nil || ms == nil || reg == nil {
		return nil, fmt.Errorf("%w: New needs a System, a Membership and a service Registry", ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Exports = slices.Clone(cfg.Exports)
	cfg.Remotes = maps.Clone(cfg.Remotes)
	if cfg.TLS != nil {
		cfg.TLS = cfg.TLS.Clone()
	}
	f := &Federation{cfg: cfg, sys: sys, ms: ms, reg: reg, log: cfg.Logger,
		links: map[*conn]struct{}{}, served: map[*conn]struct{}{}, intra: map[string]*conn{},
		infos: map[string]infoSeen{}, clients: map[string]*service.Client{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.routes.Store(&map[string]string{})
	return f, nil
}

func (f *Federation) now() time.Time { return time.Now() }

// downAfter is how long a silent stream lives.
func (f *Federation) downAfter() time.Duration {
	return time.Duration(f.cfg.DownAfter) * f.cfg.HeartbeatInterval
}

// goFunc runs fn on a goroutine Stop waits for; false when stopped.
func (f *Federation) goFunc(fn func()) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn()
	}()
	return true
}

// Start starts the federation: a gateway listens for links, dials its
// neighbours' gateways and serves its cluster's members; another member
// connects to its cluster's gateways.
func (f *Federation) Start(context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	if f.started {
		f.mu.Unlock()
		return nil
	}
	f.started = true
	f.mu.Unlock()
	if f.cfg.Gateway {
		ln, err := net.Listen("tcp", f.cfg.Listen)
		if err != nil {
			return fmt.Errorf("federation: Config.Listen %q: %w", f.cfg.Listen, err)
		}
		f.mu.Lock()
		f.ln = ln
		f.mu.Unlock()
		if err := f.ms.Handle(cluster.ProtocolFederation, f.handleMember); err != nil {
			_ = ln.Close()
			return err
		}
		f.goFunc(f.acceptLoop)
		for _, n := range f.cfg.Topology.Neighbours(f.cfg.Cluster) {
			if f.cfg.Cluster > n {
				continue // n's gateways dial
			}
			for _, addr := range f.cfg.Remotes[n].Gateways {
				f.goFunc(func() { f.dialLoop(n, addr) })
			}
		}
	}
	f.goFunc(f.tickLoop)
	return nil
}

// Addr is a gateway's link listener address ("" on other members).
func (f *Federation) Addr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln == nil {
		return ""
	}
	return f.ln.Addr().String()
}

// Stop closes every link and stream and waits for the federation's
// goroutines. Idempotent. Requests in flight through this member fail with
// ErrLinkLost at their callers.
func (f *Federation) Stop(context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	ln := f.ln
	var cs []*conn
	for c := range f.links {
		cs = append(cs, c)
	}
	for c := range f.served {
		cs = append(cs, c)
	}
	for _, c := range f.intra {
		cs = append(cs, c)
	}
	f.mu.Unlock()
	if f.cfg.Gateway {
		_ = f.ms.Handle(cluster.ProtocolFederation, nil)
	}
	f.cancel()
	if ln != nil {
		_ = ln.Close()
	}
	for _, c := range cs {
		c.close()
	}
	f.wg.Wait()
	return nil
}

// addConn registers c in set; false (and c closed) when stopped.
func (f *Federation) addConn(c *conn) bool {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		_ = c.nc.Close()
		return false
	}
	switch {
	case !c.intra:
		f.links[c] = struct{}{}
	case f.cfg.Gateway:
		f.served[c] = struct{}{}
	default:
		f.intra[c.peer] = c
	}
	f.mu.Unlock()
	if !c.intra {
		f.log.Info("federation: link up", zap.String("cluster", c.peer), zap.String("address", c.nc.RemoteAddr().String()))
		f.recompute()
	}
	return true
}

// dropConn forgets a closed stream.
func (f *Federation) dropConn(c *conn) {
	f.mu.Lock()
	delete(f.links, c)
	delete(f.served, c)
	if f.intra[c.peer] == c {
		delete(f.intra, c.peer)
	}
	f.mu.Unlock()
	if !c.intra {
		f.log.Info("federation: link down", zap.String("cluster", c.peer))
		f.recompute()
	}
}

// handleMember serves a stream from a member of this cluster.
func (f *Federation) handleMember(_ context.Context, nc net.Conn, peer string) {
	c := newConn(f, nc, peer, true)
	if f.addConn(c) {
		c.run()
	}
}

func (f *Federation) acceptLoop() {
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			if f.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-f.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if !f.goFunc(func() { f.accept(nc) }) {
			_ = nc.Close()
			return
		}
	}
}

// accept authenticates an inbound link: mutual TLS, then the per-link
// secret. A stranger is refused and logged.
func (f *Federation) accept(raw net.Conn) {
	_ = raw.SetDeadline(f.now().Add(handshakeTimeout))
	ctx, cancel := context.WithTimeout(f.ctx, handshakeTimeout)
	defer cancel()
	tc := tls.Server(raw, f.cfg.TLS)
	refuse := func(claimed, why string) {
		f.log.Warn("federation: refused a link", zap.String("from", raw.RemoteAddr().String()),
			zap.String("claims_cluster", claimed), zap.String("reason", why))
		_ = raw.Close()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		refuse("", "TLS: "+err.Error())
		return
	}
	peer, err := serverHandshake(tc, f.cfg.Cluster, func(c string) (string, bool) {
		r, ok := f.cfg.Remotes[c]
		if !ok || r.Secret == "" || !f.cfg.Topology.Adjacent(f.cfg.Cluster, c) {
			return "", false
		}
		return r.Secret, true
	})
	if err != nil {
		refuse(peer, err.Error())
		return
	}
	_ = raw.SetDeadline(time.Time{})
	c := newConn(f, tc, peer, false)
	if f.addConn(c) {
		c.run()
	}
}

// dialLoop keeps a link to the gateway at addr of cluster peer.
func (f *Federation) dialLoop(peer, addr string) {
	wait := f.cfg.HeartbeatInterval
	lastErr := ""
	for f.ctx.Err() == nil {
		c, err := f.dial(peer, addr)
		if err != nil {
			if msg := err.Error(); msg != lastErr {
				lvl := f.log.Debug
				if errors.Is(err, ErrAuth) {
					lvl = f.log.Warn
				}
				lvl("federation: link to "+peer+" at "+addr+" failed", zap.Error(err))
				lastErr = msg
			}
			wait = min(wait*2, time.Second)
		} else {
			lastErr = ""
			wait = f.cfg.HeartbeatInterval
			if f.addConn(c) {
				c.run()
			}
		}
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (f *Federation) dial(peer, addr string) (*conn, error) {
	ctx, cancel := context.WithTimeout(f.ctx, handshakeTimeout)
	defer cancel()
	raw, err := f.cfg.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
	dl, _ := ctx.Deadline()
	_ = raw.SetDeadline(dl)
	cfg := f.cfg.TLS
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("%w: TLS with %s: %v", ErrAuth, addr, err)
	}
	if err := clientHandshake(tc, f.cfg.Remotes[peer].Secret, f.cfg.Cluster, peer); err != nil {
		_ = raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return newConn(f, tc, peer, false), nil
}

// tickLoop announces (gateways) or keeps streams to the gateways (other
// members), every heartbeat.
func (f *Federation) tickLoop() {
	t := time.NewTicker(f.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		if f.cfg.Gateway {
			f.announce()
		} else {
			f.connectGateways()
		}
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// announce tells every link what this gateway knows of the clusters, and
// this cluster's members what it reaches.
func (f *Federation) announce() {
	now := f.now()
	f.mu.Lock()
	up := map[string]bool{}
	var links, served []*conn
	for c := range f.links {
		up[c.peer] = true
		links = append(links, c)
	}
	for c := range f.served {
		served = append(served, c)
	}
	own := clusterInfo{Cluster: f.cfg.Cluster, Gateway: f.ln.Addr().String(), Exports: f.cfg.Exports,
		Links: slices.Sorted(maps.Keys(up)), Seq: now.UnixNano()}
	f.infos[own.Cluster+"/"+own.Gateway] = infoSeen{own, now}
	var infos []clusterInfo
	for k, e := range f.infos {
		if now.Sub(e.seen) > 2*f.downAfter() {
			delete(f.infos, k)
			continue
		}
		infos = append(infos, e.info)
	}
	f.mu.Unlock()
	f.recompute()
	b, _ := json.Marshal(announcement{Infos: infos})
	for _, c := range links {
		_ = c.write(bytesFrame(frameAnnounce, b))
	}
	if len(served) > 0 {
		reach := map[string]int64{}
		for dst, next := range *f.routes.Load() {
			reach[dst] = f.latencyVia(next)
		}
		b, _ := json.Marshal(announcement{Infos: infos, Reach: reach})
		for _, c := range served {
			_ = c.write(bytesFrame(frameAnnounce, b))
		}
	}
}

// latencyVia is the smallest round trip of the links to cluster next.
func (f *Federation) latencyVia(next string) int64 {
	best := int64(0)
	for _, c := range f.linksTo(next) {
		if r := c.rtt.Load(); r > 0 && (best == 0 || r < best) {
			best = r
		}
	}
	return best
}

// onAnnounce merges an announcement.
func (f *Federation) onAnnounce(c *conn, b []byte) {
	var a announcement
	if err := json.Unmarshal(b, &a); err != nil {
		return
	}
	if c.intra {
		if !f.cfg.Gateway {
			c.view.Store(&a)
		}
		return
	}
	now := f.now()
	f.mu.Lock()
	for _, in := range a.Infos {
		if in.Cluster == f.cfg.Cluster || !slices.Contains(f.cfg.Topology.Clusters, in.Cluster) {
			continue
		}
		k := in.Cluster + "/" + in.Gateway
		if e, ok := f.infos[k]; !ok || in.Seq > e.info.Seq {
			f.infos[k] = infoSeen{in, now}
		}
	}
	f.mu.Unlock()
}

// recompute recomputes the route table from this gateway's links and the
// links the other clusters announce.
func (f *Federation) recompute() {
	if !f.cfg.Gateway {
		return
	}
	now := f.now()
	up := map[Link]bool{}
	f.mu.Lock()
	for c := range f.links {
		up[NewLink(f.cfg.Cluster, c.peer)] = true
	}
	for _, e := range f.infos {
		if e.info.Cluster == f.cfg.Cluster || now.Sub(e.seen) > 2*f.downAfter() {
			continue
		}
		for _, n := range e.info.Links {
			if n != f.cfg.Cluster { // this gateway knows its own links
				up[NewLink(e.info.Cluster, n)] = true
			}
		}
	}
	f.mu.Unlock()
	r := Routes(f.cfg.Topology, f.cfg.Cluster, up)
	f.routes.Store(&r)
}

// gatewayIDs are the Up members of this cluster labelled gateways.
func (f *Federation) gatewayIDs() []string {
	var out []string
	for _, m := range f.ms.View().Up() {
		if m.Labels[LabelGateway] == "true" && m.ID != f.ms.Self().ID {
			out = append(out, m.ID)
		}
	}
	return out
}

// connectGateways opens a stream to each gateway not yet connected.
func (f *Federation) connectGateways() {
	for _, id := range f.gatewayIDs() {
		f.mu.Lock()
		_, ok := f.intra[id]
		f.mu.Unlock()
		if ok {
			continue
		}
		ctx, cancel := context.WithTimeout(f.ctx, handshakeTimeout)
		nc, err := f.ms.Dial(ctx, id, cluster.ProtocolFederation)
		cancel()
		if err != nil {
			f.log.Debug("federation: stream to gateway "+id+" failed", zap.Error(err))
			continue
		}
		c := newConn(f, nc, id, true)
		if !f.addConn(c) {
			return
		}
		f.goFunc(c.run)
	}
}

// linksTo are the open links to cluster peer.
func (f *Federation) linksTo(peer string) []*conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*conn
	for c := range f.links {
		if c.peer == peer && !c.isClosed() {
			out = append(out, c)
		}
	}
	return out
}

// gatewayConns are this member's open streams to its cluster's gateways.
func (f *Federation) gatewayConns() []*conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*conn, 0, len(f.intra))
	for _, c := range f.intra {
		if !c.isClosed() {
			out = append(out, c)
		}
	}
	return out
}

// serve handles a request that arrived on c, on a goroutine of its own.
func (f *Federation) serve(c *conn, r *request) {
	f.goFunc(func() {
		ctx := f.ctx
		timeout := f.cfg.CallTimeout
		if r.timeout > 0 {
			timeout = time.Duration(r.timeout) * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if len(r.headers) > 0 {
			ctx = actor.WithHeaders(ctx, r.headers)
		}
		rep := f.deliver(ctx, r)
		if r.oneway {
			return
		}
		rep.id = r.id
		_ = c.write(rep.frame())
	})
}

func fail(code uint64, format string, a ...any) *reply {
	return &reply{code: code, text: fmt.Sprintf(format, a...)}
}

// deliver takes r one step: to the service when it is for this cluster,
// else to the next hop (a gateway's link, or this member's gateway).
func (f *Federation) deliver(ctx context.Context, r *request) *reply {
	if r.cluster == f.cfg.Cluster {
		return f.local(ctx, r)
	}
	if !slices.Contains(f.cfg.Topology.Clusters, r.cluster) {
		return fail(codeUnknownCluster, "%q is not one of %v", r.cluster, f.cfg.Topology.Clusters)
	}
	if r.hops >= maxHops {
		return fail(codeUnreachable, "%q: more than %d hops", r.cluster, maxHops)
	}
	var cs []*conn
	if f.cfg.Gateway {
		next, ok := (*f.routes.Load())[r.cluster]
		if !ok {
			return fail(codeUnreachable, "no route from %q to %q", f.cfg.Cluster, r.cluster)
		}
		cs = f.linksTo(next)
	} else {
		cs = f.gatewayConns()
	}
	if len(cs) == 0 {
		if f.cfg.Gateway {
			return fail(codeUnreachable, "no link from %q up", f.cfg.Cluster)
		}
		return fail(codeUnreachable, "no gateway of %q reachable from this member", f.cfg.Cluster)
	}
	start := int(f.turn.Add(1))
	last := fail(codeUnreachable, "%q unreachable", r.cluster)
	for i := range cs {
		c := cs[(start+i)%len(cs)]
		fw := *r
		if !c.intra {
			fw.hops++
		}
		if dl, ok := ctx.Deadline(); ok {
			fw.timeout = uint64(max(time.Until(dl).Milliseconds(), 1)) // what is left here
		}
		rep, err := c.call(ctx, &fw)
		switch {
		case errors.Is(err, ErrUnreachable):
			continue // nothing was sent: another link or gateway
		case err != nil && ctx.Err() != nil:
			return fail(codeTimeout, "%v", err)
		case err != nil:
			return fail(codeLinkLost, "%v", err)
		case rep.code == codeUnreachable && !f.cfg.Gateway:
			last = rep
			continue // that gateway has no route: another may
		}
		return rep
	}
	return last
}

// local serves r in this cluster.
func (f *Federation) local(ctx context.Context, r *request) *reply {
	if r.origin != f.cfg.Cluster && !slices.Contains(f.cfg.Exports, r.service) {
		return fail(codeNotExported, "cluster %q does not export %q (exports %v)", f.cfg.Cluster, r.service, f.cfg.Exports)
	}
	msg, err := anypb.UnmarshalNew(&anypb.Any{TypeUrl: r.typeURL, Value: r.payload}, proto.UnmarshalOptions{})
	if err != nil {
		return fail(codeInvalid, "message %s: %v", r.typeURL, err)
	}
	cl, err := f.client(r.service)
	if err != nil {
		return fail(codeInvalid, "%v", err)
	}
	if r.oneway {
		if err := cl.Tell(ctx, msg); err != nil {
			return fail(codeNotExported, "%v", err)
		}
		return &reply{}
	}
	res, err := service.Call[any](ctx, cl, msg)
	switch {
	case errors.Is(err, service.ErrUnknownService):
		return fail(codeNotExported, "cluster %q: %v", f.cfg.Cluster, err)
	case err != nil && ctx.Err() != nil:
		return fail(codeTimeout, "cluster %q: %v", f.cfg.Cluster, err)
	case err != nil:
		return fail(codeRemote, "cluster %q: %v", f.cfg.Cluster, err)
	}
	pm, ok := res.(proto.Message)
	if !ok && res != nil {
		return fail(codeRemote, "cluster %q: %q replied with %T, not a protobuf message", f.cfg.Cluster, r.service, res)
	}
	if pm == nil {
		return &reply{}
	}
	a, err := anypb.New(pm)
	if err != nil {
		return fail(codeRemote, "reply: %v", err)
	}
	return &reply{typeURL: a.TypeUrl, payload: a.Value}
}

func (f *Federation) client(name string) (*service.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[name]; ok {
		return c, nil
	}
	c, err := f.reg.Client(name, service.PreferLocal(nil))
	if err != nil {
		return nil, err
	}
	f.clients[name] = c
	return c, nil
}

// roundTrip sends msg to service in cluster and waits for the reply (none
// when oneway).
func (f *Federation) roundTrip(ctx context.Context, clusterName, svc string, msg proto.Message, oneway bool) (proto.Message, error) {
	switch {
	case svc == "":
		return nil, fmt.Errorf("%w: service name is empty", ErrInvalid)
	case msg == nil:
		return nil, fmt.Errorf("%w: message is nil", ErrInvalid)
	case !slices.Contains(f.cfg.Topology.Clusters, clusterName):
		return nil, fmt.Errorf("%w: %q is not one of %v", ErrUnknownCluster, clusterName, f.cfg.Topology.Clusters)
	}
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	a, err := anypb.New(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: message: %v", ErrInvalid, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.cfg.CallTimeout)
		defer cancel()
	}
	dl, _ := ctx.Deadline()
	left := time.Until(dl)
	if left <= 0 {
		return nil, fmt.Errorf("federation: call to %s/%s: %w", clusterName, svc, context.DeadlineExceeded)
	}
	r := &request{oneway: oneway, timeout: uint64(max(left.Milliseconds(), 1)), origin: f.cfg.Cluster,
		cluster: clusterName, service: svc, headers: outHeaders(ctx), typeURL: a.TypeUrl, payload: a.Value}
	if err := actor.CheckHeaders(r.headers); err != nil {
		return nil, err
	}
	return decodeResult(f.deliver(ctx, r), clusterName, svc)
}

// outHeaders are the actor headers ctx carries plus its W3C trace context.
func outHeaders(ctx context.Context) map[string]string {
	h := actor.HeadersFrom(ctx)
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return h
	}
	out := make(map[string]string, len(h)+2)
	maps.Copy(out, h)
	propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(out))
	return out
}

func decodeResult(rep *reply, clusterName, svc string) (proto.Message, error) {
	var sentinel error
	switch rep.code {
	case codeOK:
		if rep.typeURL == "" {
			return nil, nil
		}
		return anypb.UnmarshalNew(&anypb.Any{TypeUrl: rep.typeURL, Value: rep.payload}, proto.UnmarshalOptions{})
	case codeUnknownCluster:
		sentinel = ErrUnknownCluster
	case codeNotExported:
		sentinel = ErrNotExported
	case codeUnreachable:
		sentinel = ErrUnreachable
	case codeTimeout:
		sentinel = context.DeadlineExceeded
	case codeLinkLost:
		sentinel = ErrLinkLost
	case codeInvalid:
		sentinel = ErrInvalid
	default:
		sentinel = ErrRemote
	}
	return nil, fmt.Errorf("%w: %s/%s: %s", sentinel, clusterName, svc, rep.text)
}

// CallInCluster calls service svc in cluster clusterName with msg and
// returns its reply, an R (a protobuf message type). The call is at most
// once: it is never repeated once sent. Errors: ErrUnknownCluster,
// ErrNotExported, ErrUnreachable (nothing was sent), ErrLinkLost (the
// outcome is unknown), ErrRemote (the handler's error),
// context.DeadlineExceeded, ErrInvalid, ErrClosed. Calling this member's
// own cluster calls the service directly (exported or not).
func CallInCluster[R proto.Message](ctx context.Context, f *Federation, clusterName, svc string, msg proto.Message) (R, error) {
	var zero R
	m, err := f.roundTrip(ctx, clusterName, svc, msg, false)
	if err != nil {
		return zero, err
	}
	r, ok := m.(R)
	if !ok {
		return zero, fmt.Errorf("%w: %s/%s replied %T, want %T", ErrRemote, clusterName, svc, m, zero)
	}
	return r, nil
}

// SendToCluster sends msg to one instance of service svc in cluster
// clusterName without waiting for it to be handled: at most once. A nil
// error means the message left this member towards the cluster; the same
// errors as CallInCluster when it could not (ErrUnreachable: a known
// failure on this member or its gateway).
func (f *Federation) SendToCluster(ctx context.Context, clusterName, svc string, msg proto.Message) error {
	_, err := f.roundTrip(ctx, clusterName, svc, msg, true)
	return err
}

// Call is the global call: it calls service svc in this member's cluster
// when it has a routable instance, else in the other reachable clusters
// that export it, by Remote.Priority (lower first), then measured latency,
// then name. It moves on to the next cluster only when the previous one
// was unreachable or did not serve svc (nothing was handled there); any
// other error is returned (at most once). ErrNoService when no cluster
// serves svc.
func Call[R proto.Message](ctx context.Context, f *Federation, svc string, msg proto.Message) (R, error) {
	var zero R
	var lastErr error
	for _, c := range f.candidates(svc) {
		r, err := CallInCluster[R](ctx, f, c, svc, msg)
		if err == nil || !(errors.Is(err, ErrUnreachable) || errors.Is(err, ErrNotExported)) || ctx.Err() != nil {
			return r, err
		}
		lastErr = err
	}
	if lastErr != nil {
		return zero, fmt.Errorf("%w: %q: last: %w", ErrNoService, svc, lastErr)
	}
	return zero, fmt.Errorf("%w: %q", ErrNoService, svc)
}

// candidates are the clusters the global call of svc tries, in order.
func (f *Federation) candidates(svc string) []string {
	var out []string
	if _, err := f.reg.Discover(svc); err == nil {
		out = append(out, f.cfg.Cluster)
	}
	var others []ClusterStatus
	for _, s := range f.Clusters() {
		if s.Name != f.cfg.Cluster && s.Reachable && slices.Contains(s.Exports, svc) {
			others = append(others, s)
		}
	}
	slices.SortFunc(others, func(a, b ClusterStatus) int {
		return cmp.Or(cmp.Compare(f.cfg.Remotes[a.Name].Priority, f.cfg.Remotes[b.Name].Priority),
			cmp.Compare(a.Latency, b.Latency), cmp.Compare(a.Name, b.Name))
	})
	for _, s := range others {
		out = append(out, s.Name)
	}
	return out
}

// ClusterStatus is one cluster as this member sees it.
type ClusterStatus struct {
	// Name of the cluster.
	Name string
	// Reachable: a route leads there (always true for this member's own).
	Reachable bool
	// Exports are the services it exports, as its gateways announce them.
	Exports []string
	// Latency is the measured round trip of the first link on the way
	// (0: not measured yet).
	Latency time.Duration
}

// Clusters is the cluster registry as this member sees it: every cluster
// of the topology, in name order.
func (f *Federation) Clusters() []ClusterStatus {
	now := f.now()
	reach := map[string]int64{}
	exports := map[string][]string{}
	addExports := func(infos []clusterInfo) {
		for _, in := range infos {
			for _, e := range in.Exports {
				if !slices.Contains(exports[in.Cluster], e) {
					exports[in.Cluster] = append(exports[in.Cluster], e)
				}
			}
		}
	}
	if f.cfg.Gateway {
		for dst, next := range *f.routes.Load() {
			reach[dst] = f.latencyVia(next)
		}
		f.mu.Lock()
		var infos []clusterInfo
		for _, e := range f.infos {
			if now.Sub(e.seen) <= 2*f.downAfter() {
				infos = append(infos, e.info)
			}
		}
		f.mu.Unlock()
		addExports(infos)
	} else {
		for _, c := range f.gatewayConns() {
			a := c.view.Load()
			if a == nil || now.UnixNano()-c.lastSeen.Load() > int64(f.downAfter()) {
				continue
			}
			for dst, l := range a.Reach {
				l += c.rtt.Load()
				if old, ok := reach[dst]; !ok || l < old {
					reach[dst] = l
				}
			}
			addExports(a.Infos)
		}
	}
	out := make([]ClusterStatus, 0, len(f.cfg.Topology.Clusters))
	for _, name := range slices.Sorted(slices.Values(f.cfg.Topology.Clusters)) {
		s := ClusterStatus{Name: name, Exports: exports[name]}
		if name == f.cfg.Cluster {
			s.Reachable = true
			s.Exports = slices.Clone(f.cfg.Exports)
		} else if l, ok := reach[name]; ok {
			s.Reachable, s.Latency = true, time.Duration(l)
		}
		slices.Sort(s.Exports)
		out = append(out, s)
	}
	return out
}
