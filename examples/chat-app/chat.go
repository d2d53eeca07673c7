package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/grain"
	"github.com/foundation-go/foundation/pubsub"
)

//go:embed index.html
var indexHTML []byte

const (
	// labelNode is the member label holding a node's name ("node1").
	labelNode = "chat.node"
	// maxText bounds a message's text, in characters.
	maxText = 500
	// maxBody bounds a request body, in bytes.
	maxBody = 4 << 10
	// callTimeout bounds a request's grain call or replicated write.
	callTimeout = 5 * time.Second
	// keepAlive is how often an idle event stream gets a comment line, so
	// that proxies and browsers keep it open.
	keepAlive = 15 * time.Second
	// streamBuffer is how many messages wait for a slow event stream
	// before the next ones are dropped for it (and counted).
	streamBuffer = 64
)

var (
	userName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,24}$`)
	roomName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
)

// chatNode is one node of the chat and its web server's state.
type chatNode struct {
	name string
	node atomic.Pointer[foundation.Node] // set once Start returned

	mu      sync.Mutex
	streams map[string]int // "room/user" -> event streams open on this node

	dropped atomic.Uint64 // messages a slow event stream missed
}

func newChatNode(name string) *chatNode {
	return &chatNode{name: name, streams: map[string]int{}}
}

// roomTopic is the pub/sub topic of a room's messages.
func roomTopic(room string) string { return "chat.room." + room }

// presenceKey is the replicated set of who is online in a room: elements
// "user@member", one per user with an event stream open on that member.
// Tagging an element with its member lets each member add and remove its
// own users without touching another member's, and lets a reader drop the
// users of a member that is gone.
func presenceKey(room string) crdt.Key[*crdt.ORSet[string]] {
	return crdt.ORSetKey("chat/presence/"+room, crdt.StringCodec())
}

// handler is the node's web API and page:
//
//	GET  /                         the page
//	GET  /api/node                 {"node": "node1"}
//	POST /api/join   {user, room}  join a room (the user grain records it)
//	POST /api/leave  {user, room}  leave it
//	POST /api/post   {user, room, text}
//	GET  /api/events?user=&room=   Server-Sent Events: "message", "presence"
//	GET  /api/presence?room=       {"room", "users": [...], "nodes": [...]}
//	GET  /api/user?user=           {"name", "rooms", "posted", "grain_node"}
func (cn *chatNode) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	mux.HandleFunc("GET /api/node", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"node": cn.name})
	})
	mux.HandleFunc("POST /api/join", cn.changeRooms(opJoin))
	mux.HandleFunc("POST /api/leave", cn.changeRooms(opLeave))
	mux.HandleFunc("POST /api/post", cn.post)
	mux.HandleFunc("GET /api/events", cn.events)
	mux.HandleFunc("GET /api/presence", func(w http.ResponseWriter, r *http.Request) {
		room := r.URL.Query().Get("room")
		if err := checkRoom(room); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		p, err := cn.presence(r.Context(), room)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /api/user", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if err := checkUser(user); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		u, err := cn.callUser(r.Context(), user, opGet, "")
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, u)
	})
	return mux
}

// request is the body of the POST endpoints.
type request struct {
	User string `json:"user"`
	Room string `json:"room"`
	Text string `json:"text"`
}

func readRequest(w http.ResponseWriter, r *http.Request) (request, error) {
	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		return req, fmt.Errorf("the body is not a JSON object {user, room, text} of at most %d bytes: %v", maxBody, err)
	}
	if err := checkUser(req.User); err != nil {
		return req, err
	}
	return req, checkRoom(req.Room)
}

func checkUser(u string) error {
	if !userName.MatchString(u) {
		return fmt.Errorf("user %q: want 1 to 24 letters, digits, '_' or '-'", u)
	}
	return nil
}

func checkRoom(r string) error {
	if !roomName.MatchString(r) {
		return fmt.Errorf("room %q: want 1 to 32 lower-case letters, digits or '-'", r)
	}
	return nil
}

// userView is a user as the API shows it.
type userView struct {
	Name   string   `json:"name"`
	Rooms  []string `json:"rooms"`
	Posted int64    `json:"posted"`
	// GrainNode is the node the user's grain runs on.
	GrainNode string `json:"grain_node"`
	denied    string
}

// callUser calls the user grain, wherever it runs.
func (cn *chatNode) callUser(ctx context.Context, user, op, room string) (userView, error) {
	n := cn.node.Load()
	req, err := structpb.NewStruct(map[string]any{"op": op, "room": room})
	if err != nil {
		return userView{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	reply, err := grain.Get[*structpb.Struct](n.Grains, kindUser, user).Call(cctx, req)
	if err != nil {
		return userView{}, fmt.Errorf("user %s: %w", user, err)
	}
	f := reply.GetFields()
	u := userView{
		Name:      f["name"].GetStringValue(),
		Rooms:     []string{},
		Posted:    int64(f["posted"].GetNumberValue()),
		GrainNode: cn.nodeName(f["member"].GetStringValue()),
		denied:    f["denied"].GetStringValue(),
	}
	for _, r := range f["rooms"].GetListValue().GetValues() {
		u.Rooms = append(u.Rooms, r.GetStringValue())
	}
	return u, nil
}

// nodeName is the name of the member with id, as this node knows it.
func (cn *chatNode) nodeName(id string) string {
	n := cn.node.Load()
	if id == n.Membership.Self().ID {
		return cn.name
	}
	if m, ok := n.Membership.View().Member(id); ok && m.Labels[labelNode] != "" {
		return m.Labels[labelNode]
	}
	return id
}

func (cn *chatNode) changeRooms(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := readRequest(w, r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		u, err := cn.callUser(r.Context(), req.User, op, req.Room)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, u)
	}
}

// message is a posted message as the page receives it; it travels between
// nodes as a structpb.Struct with the same fields.
type message struct {
	Room string `json:"room"`
	User string `json:"user"`
	Text string `json:"text"`
	// Seq is the user's post count after this one: with User, the
	// message's id.
	Seq int64 `json:"seq"`
	// Node is the node it was posted through.
	Node string `json:"node"`
	// At is when it was posted, in Unix milliseconds.
	At int64 `json:"at"`
}

func (m message) proto() (*structpb.Struct, error) {
	return structpb.NewStruct(map[string]any{
		"room": m.Room, "user": m.User, "text": m.Text, "seq": m.Seq, "node": m.Node, "at": m.At,
	})
}

func messageOf(s *structpb.Struct) message {
	f := s.GetFields()
	return message{
		Room: f["room"].GetStringValue(),
		User: f["user"].GetStringValue(),
		Text: f["text"].GetStringValue(),
		Seq:  int64(f["seq"].GetNumberValue()),
		Node: f["node"].GetStringValue(),
		At:   int64(f["at"].GetNumberValue()),
	}
}

// post asks the user grain whether the user may post in the room (and
// counts the post), then publishes the message to the room's topic: one
// frame to each node with subscribers, which hands it to its event
// streams. Delivery is at most once.
func (cn *chatNode) post(w http.ResponseWriter, r *http.Request) {
	req, err := readRequest(w, r)
	if err == nil {
		req.Text = strings.TrimSpace(req.Text)
		if req.Text == "" || utf8.RuneCountInString(req.Text) > maxText || !utf8.ValidString(req.Text) {
			err = fmt.Errorf("text: want 1 to %d characters of UTF-8", maxText)
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	u, err := cn.callUser(r.Context(), req.User, opPost, req.Room)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	if u.denied != "" {
		writeError(w, http.StatusForbidden, errors.New(u.denied))
		return
	}
	m := message{Room: req.Room, User: req.User, Text: req.Text, Seq: u.Posted, Node: cn.name, At: time.Now().UnixMilli()}
	pm, err := m.proto()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	pctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	err = cn.node.Load().Send(pctx, foundation.ToTopic(roomTopic(req.Room)), pm)
	if err != nil && !errors.Is(err, foundation.ErrUnknownTarget) { // no one listening: fine
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// presenceView is who is online in a room, as one node sees it.
type presenceView struct {
	Room string `json:"room"`
	// Users are the users with an event stream open on a node that is up.
	Users []string `json:"users"`
	// Nodes are the nodes a post to the room is sent to (those with
	// subscribers), as this node knows them.
	Nodes []string `json:"nodes"`
}

// presence reads this node's replica of the room's presence set: no
// network, and within milliseconds of every other node's.
func (cn *chatNode) presence(ctx context.Context, room string) (presenceView, error) {
	n := cn.node.Load()
	p := presenceView{Room: room, Users: []string{}, Nodes: []string{}}
	set, err := crdt.Get(ctx, n.Replicator, presenceKey(room), crdt.Local)
	if err != nil && !errors.Is(err, crdt.ErrNotFound) {
		return p, err
	}
	up := map[string]bool{}
	for _, m := range n.Membership.View().Up() {
		up[m.ID] = true
	}
	for e := range set.All() {
		if user, member, ok := strings.Cut(e, "@"); ok && up[member] && !slices.Contains(p.Users, user) {
			p.Users = append(p.Users, user)
		}
	}
	slices.Sort(p.Users)
	for _, id := range n.PubSub.Members(roomTopic(room)) {
		p.Nodes = append(p.Nodes, cn.nodeName(id))
	}
	slices.Sort(p.Nodes)
	return p, nil
}

// online records that one more (or one fewer) event stream of user in room
// is open on this node; the first adds the user to the room's presence
// set, the last removes it. Local writes: they reach the other nodes
// within milliseconds.
func (cn *chatNode) online(ctx context.Context, room, user string, open bool) error {
	k := room + "/" + user
	cn.mu.Lock()
	defer cn.mu.Unlock() // held across the write, so that adds and removes keep their order
	before, after := cn.streams[k], cn.streams[k]-1
	if open {
		after = before + 1
	}
	if after > 0 {
		cn.streams[k] = after
	} else {
		delete(cn.streams, k)
	}
	if before > 0 && after > 0 {
		return nil
	}
	n := cn.node.Load()
	elem := user + "@" + n.Membership.Self().ID
	err := crdt.Update(ctx, n.Replicator, presenceKey(room), crdt.Local, func(s *crdt.ORSet[string], op crdt.Op) {
		if open {
			s.Add(op.Replica, elem)
		} else {
			s.Remove(op.Replica, elem)
		}
	})
	if err != nil && open {
		delete(cn.streams, k) // the stream is refused: it was the first
	}
	return err
}

// events streams a room to a user who joined it, as Server-Sent Events:
// "message" for each message posted on any node, "presence" whenever who
// is online changes (a stream opened or closed anywhere, a node gone).
// While the stream is open the user is online in the room.
func (cn *chatNode) events(w http.ResponseWriter, r *http.Request) {
	user, room := r.URL.Query().Get("user"), r.URL.Query().Get("room")
	err := checkUser(user)
	if err == nil {
		err = checkRoom(room)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, errors.New("streaming is not supported"))
		return
	}
	ctx := r.Context()
	u, err := cn.callUser(ctx, user, opGet, "")
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	if !slices.Contains(u.Rooms, room) {
		writeError(w, http.StatusForbidden, fmt.Errorf("%s has not joined %s", user, room))
		return
	}
	n := cn.node.Load()

	// The subscription's handler runs on a goroutine of the subscription;
	// it never blocks on a slow stream.
	msgs := make(chan message, streamBuffer)
	sub, err := n.PubSub.SubscribeFunc(roomTopic(room), func(m pubsub.Message) {
		if s, ok := m.Payload.(*structpb.Struct); ok {
			select {
			case msgs <- messageOf(s):
			default:
				cn.dropped.Add(1)
			}
		}
	})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	changes, err := n.Replicator.Subscribe(presenceKey(room).ID())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	defer changes.Close()
	members, stopMembers := n.Membership.Subscribe(8)
	defer stopMembers()
	if err := cn.online(ctx, room, user, true); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	defer func() {
		octx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		_ = cn.online(octx, room, user, false)
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	var last presenceView
	sendPresence := func() bool { // when it changed
		p, err := cn.presence(ctx, room)
		if err != nil || (slices.Equal(p.Users, last.Users) && slices.Equal(p.Nodes, last.Nodes)) {
			return true
		}
		last = p
		return send("presence", p)
	}
	if !send("ready", map[string]string{"node": cn.name, "user": user, "room": room}) || !sendPresence() {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-msgs:
			if !send("message", m) {
				return
			}
		case _, ok := <-changes.C():
			if !ok || !sendPresence() {
				return
			}
		case _, ok := <-members:
			if !ok || !sendPresence() {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
