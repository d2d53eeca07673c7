package federation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The frames of a link and of a member's stream to its gateway: a 4-byte
// big-endian length, a type byte, then the type's fields (integers as
// uvarints, strings and bytes with a uvarint length).
const (
	frameRequest  = 1
	frameReply    = 2
	framePing     = 3
	framePong     = 4
	frameAnnounce = 5
)

// maxFrame bounds one frame: a peer can make this side allocate no more.
const maxFrame = 16 << 20

// maxHops bounds how many clusters a request crosses (a routing loop while
// link states converge ends there).
const maxHops = 8

// Reply codes.
const (
	codeOK = iota
	codeUnknownCluster
	codeNotExported
	codeUnreachable
	codeRemote
	codeTimeout
	codeLinkLost
	codeInvalid
)

type request struct {
	id      uint64
	oneway  bool
	hops    uint64
	timeout uint64 // ms left of the caller's deadline; 0: none
	origin  string // the caller's cluster
	cluster string // the target cluster
	service string
	headers map[string]string
	typeURL string
	payload []byte
}

type reply struct {
	id      uint64
	code    uint64
	text    string
	typeURL string
	payload []byte
}

type enc struct{ b []byte }

func (e *enc) u(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) s(v string)   { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) by(v []byte)  { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func newEnc(kind byte) *enc { return &enc{b: append(make([]byte, 4, 128), kind)} }

// done fills in the length and returns the frame.
func (e *enc) done() []byte {
	binary.BigEndian.PutUint32(e.b, uint32(len(e.b)-4))
	return e.b
}

func (r *request) frame() []byte {
	e := newEnc(frameRequest)
	e.u(r.id)
	ow := uint64(0)
	if r.oneway {
		ow = 1
	}
	e.u(ow)
	e.u(r.hops)
	e.u(r.timeout)
	e.s(r.origin)
	e.s(r.cluster)
	e.s(r.service)
	e.u(uint64(len(r.headers)))
	for k, v := range r.headers {
		e.s(k)
		e.s(v)
	}
	e.s(r.typeURL)
	e.by(r.payload)
	return e.done()
}

func (r *reply) frame() []byte {
	e := newEnc(frameReply)
	e.u(r.id)
	e.u(r.code)
	e.s(r.text)
	e.s(r.typeURL)
	e.by(r.payload)
	return e.done()
}

func tsFrame(kind byte, ts uint64) []byte {
	e := newEnc(kind)
	e.u(ts)
	return e.done()
}

func bytesFrame(kind byte, b []byte) []byte {
	e := newEnc(kind)
	e.by(b)
	return e.done()
}

var errMalformed = errors.New("malformed frame")

type dec struct {
	b   []byte
	err error
}

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errMalformed
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) by() []byte {
	n := d.u()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errMalformed
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) s() string { return string(d.by()) }

func decodeRequest(b []byte) (*request, error) {
	d := &dec{b: b}
	r := &request{id: d.u(), oneway: d.u() == 1, hops: d.u(), timeout: d.u(),
		origin: d.s(), cluster: d.s(), service: d.s()}
	n := d.u()
	if n > 1024 {
		return nil, errMalformed
	}
	if n > 0 {
		r.headers = make(map[string]string, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			k := d.s()
			r.headers[k] = d.s()
		}
	}
	r.typeURL = d.s()
	r.payload = d.by()
	return r, d.err
}

func decodeReply(b []byte) (*reply, error) {
	d := &dec{b: b}
	r := &reply{id: d.u(), code: d.u(), text: d.s(), typeURL: d.s(), payload: d.by()}
	return r, d.err
}

// readFrame reads one frame: its type and body.
func readFrame(r io.Reader, buf []byte) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxFrame {
		return 0, nil, fmt.Errorf("%w: length %d (1..%d)", errMalformed, n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return buf[0], buf[1:], nil
}
