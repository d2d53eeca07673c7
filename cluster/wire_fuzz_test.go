package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
)

// FuzzReadHandshake feeds arbitrary bytes to the handshake decoder: it
// never panics, never reads past one message, and never accepts a message
// over maxHandshake.
func FuzzReadHandshake(f *testing.F) {
	hello, _ := proto.Marshal(&protos.StreamHello{Cluster: "c", From: "a", To: "b", Protocol: 2, Nonce: make([]byte, 16)})
	frame := func(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
	f.Add(frame(hello))
	f.Add(frame(nil))
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{0x00})
	f.Add(append(frame(hello), 0xde, 0xad))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		var m protos.StreamHello
		err := readHandshake(r, &m)
		if err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(b))
		if n > maxHandshake {
			t.Fatalf("accepted a %d-byte message", n)
		}
		if consumed := len(b) - r.Len(); consumed != 2+n {
			t.Fatalf("read %d bytes for a %d-byte message", consumed, n)
		}
	})
}

// FuzzDecodeNode feeds arbitrary SWIM node metadata, names and addresses
// to decodeNode: it never panics, and what it accepts is of this cluster.
func FuzzDecodeNode(f *testing.F) {
	good, _ := encodeMeta("c", Member{Address: "127.0.0.1:7350", Kinds: []string{"k"}, Labels: map[string]string{"a": "b"}, Version: "1"}, false)
	f.Add("id", []byte{127, 0, 0, 1}, uint16(7351), good)
	f.Add("", []byte{}, uint16(0), []byte{})
	f.Add("id", []byte{1, 2, 3}, uint16(1), []byte{0xff, 0x01})
	f.Add("id", make([]byte, 16), uint16(7351), bytes.Repeat([]byte{0x0a}, 600))
	f.Fuzz(func(t *testing.T, name string, ip []byte, port uint16, meta []byte) {
		m, _, err := decodeNode("c", ProtocolVersion, &memberlist.Node{Name: name, Addr: ip, Port: port, Meta: meta})
		if err == nil && (m.ID != name || name == "") {
			t.Fatalf("accepted %+v from name %q", m, name)
		}
	})
}

// FuzzStreamServer plays an arbitrary client against the server side of a
// stream handshake: it never panics, never hangs past the handshake
// timeout, and never hands the stream to a handler without a valid proof.
func FuzzStreamServer(f *testing.F) {
	hello, _ := proto.Marshal(&protos.StreamHello{Cluster: "c", From: "a", Protocol: uint32(ProtocolGrain), Nonce: make([]byte, 16)})
	frame := func(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
	f.Add(frame(hello))
	f.Add(append(frame(hello), frame([]byte{0x0a, 0x20})...))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		l := newLink("c", "server", []byte("secret"), nil, nopListener{}, nil, zap.NewNop(), time.Now)
		served := false
		l.handle(ProtocolGrain, func(_ context.Context, c net.Conn, _ string) { served = true; _ = c.Close() })
		server, client := net.Pipe()
		go func() {
			_, _ = client.Write(b)
			_ = client.Close()
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		done := make(chan struct{})
		go func() {
			defer close(done)
			c := l.track(server)
			l.serve(c)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the handshake hung")
		}
		if served {
			t.Fatal("a stream without a valid proof reached its handler")
		}
	})
}

type nopListener struct{}

func (nopListener) Accept() (net.Conn, error) { return nil, errors.New("no") }
func (nopListener) Close() error              { return nil }
func (nopListener) Addr() net.Addr            { return &net.TCPAddr{} }
