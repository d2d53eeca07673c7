package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/foundation-go/foundation/cluster/clustertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client drives the chat's HTTP API.
type client struct {
	t  *testing.T
	hc *http.Client
}

func (c client) do(method, url string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// post POSTs body to url and decodes the reply into v (when not nil),
// failing unless the status is want.
func (c client) post(url string, body any, want int, v any) {
	c.t.Helper()
	status, b := c.do(http.MethodPost, url, body)
	if status != want {
		c.t.Fatalf("POST %s %v: status %d, want %d: %s", url, body, status, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("POST %s: %v: %s", url, err, b)
		}
	}
}

func (c client) get(url string, v any) int {
	c.t.Helper()
	status, b := c.do(http.MethodGet, url, nil)
	if v != nil && status == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("GET %s: %v: %s", url, err, b)
		}
	}
	return status
}

// event is one Server-Sent Event.
type event struct {
	name, data string
}

// stream is an open event stream; its events arrive on ch, which closes
// when the stream ends.
type stream struct {
	ch     chan event
	cancel func()
	done   chan struct{}
}

func (c client) events(url string) *stream {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		c.t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		c.t.Fatalf("GET %s: status %d, %s: %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &stream{ch: make(chan event, 64), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var e event
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "event: "):
				e.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				e.data = strings.TrimPrefix(line, "data: ")
			case line == "" && e.name != "":
				select {
				case s.ch <- e:
				case <-ctx.Done():
					return
				}
				e = event{}
			}
		}
	}()
	return s
}

func (s *stream) close() {
	s.cancel()
	<-s.done
}

// next returns the next event named name, skipping others, or fails after
// timeout.
func (s *stream) next(t *testing.T, name string, timeout time.Duration) event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-s.ch:
			if !ok {
				t.Fatalf("the stream ended before a %q event", name)
			}
			if e.name == name {
				return e
			}
		case <-deadline:
			t.Fatalf("no %q event within %s", name, timeout)
		}
	}
}

// The chat runs through run, as main runs it: users join on two nodes,
// one posts on node1 and the other receives it on node3, node2 lists both
// as present, and the page is served.
func TestChat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	var outMu sync.Mutex
	ready := make(chan []string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, writerFunc(func(p []byte) (int, error) {
			outMu.Lock()
			defer outMu.Unlock()
			return out.Write(p)
		}), options{
			HTTP:  "127.0.0.1:0",
			Log:   zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
			Ready: func(urls []string) { ready <- urls },
		})
	}()
	var urls []string
	select {
	case urls = <-ready:
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	defer stop()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := client{t: t, hc: &http.Client{Transport: tr}}
	node1, node2, node3 := urls[0], urls[1], urls[2]

	// The page.
	status, page := c.do(http.MethodGet, node2, nil)
	if status != http.StatusOK || !bytes.Contains(page, []byte("<title>Foundation chat</title>")) || !bytes.Contains(page, []byte("new EventSource(")) {
		t.Fatalf("GET /: status %d:\n%.300s", status, page)
	}
	var nodeInfo map[string]string
	if c.get(node3+"api/node", &nodeInfo); nodeInfo["node"] != "node3" {
		t.Errorf("node3's /api/node = %v", nodeInfo)
	}

	// alice joins on node1, bob on node3; the user grains record it,
	// wherever they run.
	var alice, bob userView
	c.post(node1+"api/join", request{User: "alice", Room: "lobby"}, http.StatusOK, &alice)
	c.post(node3+"api/join", request{User: "bob", Room: "lobby"}, http.StatusOK, &bob)
	if !slices.Equal(alice.Rooms, []string{"lobby"}) || !slices.Equal(bob.Rooms, []string{"lobby"}) {
		t.Fatalf("after joining: alice %+v, bob %+v", alice, bob)
	}
	aliceEvents := c.events(node1 + "api/events?user=alice&room=lobby")
	defer aliceEvents.close()
	bobEvents := c.events(node3 + "api/events?user=bob&room=lobby")
	defer bobEvents.close()
	if e := bobEvents.next(t, "ready", 5*time.Second); !strings.Contains(e.data, `"node":"node3"`) {
		t.Errorf("bob's ready event: %s", e.data)
	}

	// node2, where neither is connected, lists both as online; node1
	// knows that a post to the room goes to node1 and node3.
	clustertest.Eventually(t, func() bool {
		var p2, p1 presenceView
		c.get(node2+"api/presence?room=lobby", &p2)
		c.get(node1+"api/presence?room=lobby", &p1)
		return slices.Equal(p2.Users, []string{"alice", "bob"}) && slices.Equal(p1.Nodes, []string{"node1", "node3"})
	}, 10*time.Second, "node2 lists alice and bob, node1 sends to node1 and node3")

	// alice posts on node1; bob's stream on node3 gets it, and so does
	// alice's own.
	var posted message
	c.post(node1+"api/post", request{User: "alice", Room: "lobby", Text: "hello from node1"}, http.StatusOK, &posted)
	if posted.Seq != 1 || posted.Node != "node1" {
		t.Errorf("post reply %+v, want seq 1 via node1", posted)
	}
	for who, s := range map[string]*stream{"bob": bobEvents, "alice": aliceEvents} {
		var m message
		e := s.next(t, "message", 5*time.Second)
		if err := json.Unmarshal([]byte(e.data), &m); err != nil {
			t.Fatal(err)
		}
		if m.User != "alice" || m.Text != "hello from node1" || m.Node != "node1" || m.Room != "lobby" || m.Seq != 1 {
			t.Errorf("%s received %+v", who, m)
		}
	}
	// The post was counted by alice's grain, as node2 reads it.
	var a2 userView
	if c.get(node2+"api/user?user=alice", &a2); a2.Posted != 1 || !slices.Equal(a2.Rooms, []string{"lobby"}) {
		t.Errorf("alice as node2 sees her: %+v", a2)
	}

	// Refusals: a user who has not joined, bad names, an empty text.
	c.post(node2+"api/post", request{User: "carol", Room: "lobby", Text: "hi"}, http.StatusForbidden, nil)
	c.post(node2+"api/post", request{User: "alice", Room: "Lobby!", Text: "hi"}, http.StatusBadRequest, nil)
	c.post(node2+"api/join", request{User: "", Room: "lobby"}, http.StatusBadRequest, nil)
	c.post(node2+"api/post", request{User: "alice", Room: "lobby", Text: "  "}, http.StatusBadRequest, nil)
	if status := c.get(node2+"api/events?user=carol&room=lobby", nil); status != http.StatusForbidden {
		t.Errorf("events for a user who has not joined: status %d, want 403", status)
	}

	// bob closes his page: he goes offline everywhere; he leaves the room,
	// and may no longer post there.
	bobEvents.close()
	clustertest.Eventually(t, func() bool {
		var p presenceView
		c.get(node2+"api/presence?room=lobby", &p)
		return slices.Equal(p.Users, []string{"alice"})
	}, 10*time.Second, "node2 lists alice alone")
	c.post(node2+"api/leave", request{User: "bob", Room: "lobby"}, http.StatusOK, &bob)
	if len(bob.Rooms) != 0 {
		t.Errorf("bob after leaving: %+v", bob)
	}
	c.post(node3+"api/post", request{User: "bob", Room: "lobby", Text: "still here?"}, http.StatusForbidden, nil)

	// run stops when its ctx ends, even with a stream open.
	stop()
	aliceEvents.close()
	outMu.Lock()
	defer outMu.Unlock()
	for _, want := range []string{"chat: 3 nodes up", "open " + node1 + " in a browser (node1)", "chat: stopping"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// A bad -http address is an error, not a hang.
func TestBadAddress(t *testing.T) {
	for _, addr := range []string{"8080", "127.0.0.1:x", "127.0.0.1:65535"} {
		err := run(context.Background(), io.Discard, options{HTTP: addr})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("-http %q", addr)) {
			t.Errorf("run with -http %q: %v", addr, err)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
