package cluster

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// mlTransport carries SWIM (memberlist) over the member's cluster port:
// its packets over the packet Transport (UDP by default, wrapped by
// cluster/clustertest's fault injector in tests), its streams as
// ProtocolGossip streams of the link, so they are authenticated (and over
// TLS when configured) like every other stream.
type mlTransport struct {
	link     *link
	packets  Transport
	advIP    net.IP
	advPort  int
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	quit     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
	// lastSend is when memberlist last sent a packet or opened a stream
	// (unix nanos): a probe in flight ends at most a probe interval after
	// its ping (see Membership.Stop).
	lastSend atomic.Int64
}

var _ memberlist.NodeAwareTransport = (*mlTransport)(nil)

func newMLTransport(l *link, packets Transport, advertise netip.AddrPort) *mlTransport {
	t := &mlTransport{
		link: l, packets: packets,
		advIP: net.IP(advertise.Addr().AsSlice()), advPort: int(advertise.Port()),
		packetCh: make(chan *memberlist.Packet, 256),
		streamCh: make(chan net.Conn, 16),
		quit:     make(chan struct{}),
	}
	l.handle(ProtocolGossip, t.serveStream)
	t.wg.Add(1)
	go t.readLoop()
	return t
}

func (t *mlTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.advIP, t.advPort, nil
}

func (t *mlTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *mlTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	t.lastSend.Store(now.UnixNano())
	return now, t.packets.WriteTo(b, a.Addr)
}

// probeDone is when a memberlist probe begun before now has certainly
// ended: a probe interval after the last packet or stream it sent.
func (t *mlTransport) probeDone(probeInterval time.Duration) time.Time {
	last := t.lastSend.Load()
	if last == 0 {
		return time.Time{}
	}
	return time.Unix(0, last).Add(probeInterval)
}

func (t *mlTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

func (t *mlTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *mlTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	t.lastSend.Store(time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	go func() {
		select {
		case <-t.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, _, err := t.link.dial(ctx, a.Addr, a.Name, ProtocolGossip)
	return c, err
}

func (t *mlTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// serveStream hands an authenticated gossip stream to memberlist, which
// closes it when done.
func (t *mlTransport) serveStream(ctx context.Context, c net.Conn, _ string) {
	select {
	case t.streamCh <- c:
	case <-ctx.Done():
		_ = c.Close()
	case <-t.quit:
		_ = c.Close()
	}
}

// Shutdown stops reading packets. The link (shared with the other
// protocols) is closed by the Membership.
func (t *mlTransport) Shutdown() error {
	t.once.Do(func() {
		close(t.quit)
		_ = t.packets.Close()
	})
	t.wg.Wait()
	return nil
}

func (t *mlTransport) readLoop() {
	defer t.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := t.packets.ReadFrom(buf)
		if err != nil {
			select {
			case <-t.quit:
				return
			default:
			}
			if isClosed(err) {
				return
			}
			continue
		}
		ap, err := netip.ParseAddrPort(from)
		if err != nil || n == 0 {
			continue
		}
		p := &memberlist.Packet{Buf: append([]byte(nil), buf[:n]...), From: net.UDPAddrFromAddrPort(ap), Timestamp: time.Now()}
		select {
		case t.packetCh <- p:
		case <-t.quit:
			return
		}
	}
}

// resolveAdvertise turns host:port into an address SWIM can advertise: an
// IP (a host name is resolved) and a port.
func resolveAdvertise(ctx context.Context, hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		if ap.Addr().IsUnspecified() {
			return netip.AddrPort{}, fmt.Errorf("%w: advertised cluster address %s: an unspecified address cannot be dialled; set the advertised address", ErrMembershipConfig, hostport)
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: advertised cluster address %q must be host:port", ErrMembershipConfig, hostport)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: advertised cluster address %s: cannot resolve %s: %v", ErrMembershipConfig, hostport, host, err)
	}
	ip := ips[0]
	for _, c := range ips {
		if c.Unmap().Is4() {
			ip = c
			break
		}
	}
	return netip.ParseAddrPort(net.JoinHostPort(ip.Unmap().String(), port))
}
