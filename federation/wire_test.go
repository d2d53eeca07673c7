package federation

import (
	"bytes"
	"maps"
	"testing"
)

// A request and a reply survive their frames.
func TestFramesRoundTrip(t *testing.T) {
	r := &request{id: 7, oneway: true, hops: 2, timeout: 1500, origin: "web", cluster: "ai", service: "echo",
		headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "request-id": "r"},
		typeURL: "type.googleapis.com/google.protobuf.StringValue", payload: []byte{10, 1, 'x'}}
	kind, body, err := readFrame(bytes.NewReader(r.frame()), nil)
	if err != nil || kind != frameRequest {
		t.Fatal(kind, err)
	}
	got, err := decodeRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.id != r.id || got.oneway != r.oneway || got.hops != r.hops || got.timeout != r.timeout || got.origin != r.origin ||
		got.cluster != r.cluster || got.service != r.service || !maps.Equal(got.headers, r.headers) || got.typeURL != r.typeURL ||
		!bytes.Equal(got.payload, r.payload) {
		t.Fatalf("request %+v, want %+v", got, r)
	}
	rep := &reply{id: 9, code: codeRemote, text: "boom", typeURL: "t", payload: []byte("p")}
	kind, body, err = readFrame(bytes.NewReader(rep.frame()), nil)
	if err != nil || kind != frameReply {
		t.Fatal(kind, err)
	}
	if g, err := decodeReply(body); err != nil || (g.id != rep.id || g.code != rep.code || g.text != rep.text || string(g.payload) != "p") {
		t.Fatalf("reply %+v, %v", g, err)
	}
}

// Decoders never panic and never read past a frame, whatever the bytes.
func FuzzDecode(f *testing.F) {
	f.Add((&request{id: 1, origin: "a", cluster: "b", service: "s", headers: map[string]string{"k": "v"}}).frame()[5:])
	f.Add((&reply{id: 1, text: "t"}).frame()[5:])
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeRequest(b)
		_, _ = decodeReply(b)
		_, _ = readFields(bytes.NewReader(append([]byte{0, byte(len(b))}, b...)), 3)
		_, _, _ = readFrame(bytes.NewReader(b), nil)
	})
}
