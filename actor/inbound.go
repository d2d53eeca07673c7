package actor

import (
	"net"
	"sync"

	"google.golang.org/grpc/credentials"
)

// inboundConns wraps the remoting server's transport credentials to keep
// every connection other members opened to it. Stop closes them before the
// engine's graceful shutdown, which otherwise waits for those members to
// close their streams (up to ten seconds, since a running member never
// does): the processes are stopped by then, nothing on those streams is
// still wanted.
type inboundConns struct {
	credentials.TransportCredentials

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (c *inboundConns) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		return conn, info, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = conn.Close()
		return nil, nil, net.ErrClosed
	}
	if c.conns == nil {
		c.conns = map[net.Conn]struct{}{}
	}
	t := &trackedConn{Conn: conn, c: c}
	c.conns[t] = struct{}{}
	return t, info, nil
}

// Clone returns c itself: the copy must keep tracking into the same set, and
// the wrapped credentials are never modified.
func (c *inboundConns) Clone() credentials.TransportCredentials { return c }

// closeAll closes every inbound connection and refuses new ones.
func (c *inboundConns) closeAll() {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for conn := range conns {
		_ = conn.Close()
	}
}

type trackedConn struct {
	net.Conn
	c    *inboundConns
	once sync.Once
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.c.mu.Lock()
		delete(t.c.conns, t)
		t.c.mu.Unlock()
	})
	return t.Conn.Close()
}
