package cluster

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// Transport carries membership datagrams. The default is UDP on the member's
// remoting host and port number; cluster/clustertest wraps it to cut, delay
// or drop traffic between members.
//
// ReadFrom is called from one goroutine owned by Membership and must return
// an error once Close was called. WriteTo may be called concurrently and must
// not block for long.
type Transport interface {
	ReadFrom(p []byte) (n int, from string, err error)
	WriteTo(p []byte, to string) error
	// LocalAddress is the host:port the transport receives on.
	LocalAddress() string
	Close() error
}

// ListenUDP returns a Transport on the UDP address addr (host:port).
func ListenUDP(addr string) (Transport, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: membership address %q: %w", addr, err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("cluster: membership listener on udp %s: %w", addr, err)
	}
	return &udpTransport{c: c, addrs: make(map[string]*net.UDPAddr)}, nil
}

type udpTransport struct {
	c     *net.UDPConn
	mu    sync.Mutex
	addrs map[string]*net.UDPAddr
}

func (t *udpTransport) ReadFrom(p []byte) (int, string, error) {
	n, a, err := t.c.ReadFromUDPAddrPort(p)
	if err != nil {
		return 0, "", err
	}
	return n, a.String(), nil
}

func (t *udpTransport) WriteTo(p []byte, to string) error {
	t.mu.Lock()
	ua, ok := t.addrs[to]
	t.mu.Unlock()
	if !ok {
		var err error
		if ua, err = net.ResolveUDPAddr("udp", to); err != nil {
			return err
		}
		t.mu.Lock()
		if len(t.addrs) > 4096 {
			clear(t.addrs)
		}
		t.addrs[to] = ua
		t.mu.Unlock()
	}
	_, err := t.c.WriteToUDP(p, ua)
	return err
}

func (t *udpTransport) LocalAddress() string { return t.c.LocalAddr().String() }

func (t *udpTransport) Close() error {
	err := t.c.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
