package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/grain"
)

// kindUser is the grain kind of users: one activation per user name,
// partitioned over the nodes.
const kindUser = "chat-user"

// The user grain's operations (field "op" of its request).
const (
	opGet   = "get"
	opJoin  = "join"
	opLeave = "leave"
	opPost  = "post"
)

// saveTimeout bounds a user grain's read or write of its record.
const saveTimeout = 2 * time.Second

// userRecord is a user's state, as the grain holds it and as it is saved
// (JSON in an LWW register per user, "chat/users/<name>").
type userRecord struct {
	Rooms  []string `json:"rooms"`  // the rooms joined, sorted
	Posted int64    `json:"posted"` // messages posted, in every room
}

func userKey(name string) crdt.Key[*crdt.LWWRegister[string]] {
	return crdt.LWWRegisterKey("chat/users/"+name, crdt.StringCodec())
}

// userKind declares the user grains, hosted on this node. Their requests
// and replies are structpb.Structs: messages that cross nodes are protobuf
// messages (an application would declare its own in a .proto file).
func (cn *chatNode) userKind() grain.Kind {
	return grain.Kind{
		Name: kindUser,
		New:  func(name string) grain.Grain { return &userGrain{cn: cn, name: name} },
	}
}

// userGrain is one user. Its activation handles one request at a time, so
// "may this user post here?" and the post count need no lock, and only
// the activation ever writes the user's record.
type userGrain struct {
	cn   *chatNode
	name string
	rec  userRecord
}

// OnActivate loads the record saved by the user's previous activation
// (passivated when idle, or moved when a node left). A majority read and a
// majority write always overlap, so it sees the last save.
func (g *userGrain) OnActivate(ctx *grain.Context) error {
	n := g.cn.node.Load()
	if n == nil {
		return errors.New("chat: the node is still starting")
	}
	rctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	reg, err := crdt.Get(rctx, n.Replicator, userKey(g.name), crdt.Majority)
	switch {
	case errors.Is(err, crdt.ErrNotFound):
		return nil // a new user
	case err != nil && !errors.Is(err, crdt.ErrReadIncomplete):
		return err
	}
	if s, ok := reg.Get(); ok {
		if err := json.Unmarshal([]byte(s), &g.rec); err != nil {
			return fmt.Errorf("chat: user %s's record: %w", g.name, err)
		}
	}
	return nil
}

// save writes rec to a majority of the nodes. A write that reached
// fewer is applied here and spreads later: the request still succeeds.
func (g *userGrain) save(ctx context.Context, rec userRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	n := g.cn.node.Load()
	wctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	err = crdt.Update(wctx, n.Replicator, userKey(g.name), crdt.Majority, func(r *crdt.LWWRegister[string], op crdt.Op) {
		r.Set(op.Replica, string(b), op.Clock, op.Now)
	})
	if errors.Is(err, crdt.ErrWriteIncomplete) {
		return nil
	}
	return err
}

// Receive handles {"op": get|join|leave|post, "room": ...} and replies with
// the user's record; a post to a room the user has not joined is refused
// with a reply field "denied" (a refusal, not a failure).
func (g *userGrain) Receive(ctx *grain.Context, msg any) (any, error) {
	req, ok := msg.(*structpb.Struct)
	if !ok {
		return nil, fmt.Errorf("chat: user grain got %T, want *structpb.Struct", msg)
	}
	op, room := req.GetFields()["op"].GetStringValue(), req.GetFields()["room"].GetStringValue()
	next := userRecord{Rooms: slices.Clone(g.rec.Rooms), Posted: g.rec.Posted}
	denied := ""
	switch op {
	case opGet:
	case opJoin:
		if !slices.Contains(next.Rooms, room) {
			next.Rooms = append(next.Rooms, room)
			slices.Sort(next.Rooms)
		}
	case opLeave:
		next.Rooms = slices.DeleteFunc(next.Rooms, func(r string) bool { return r == room })
	case opPost:
		if !slices.Contains(next.Rooms, room) {
			denied = fmt.Sprintf("%s has not joined %s", g.name, room)
			break
		}
		next.Posted++
	default:
		return nil, fmt.Errorf("chat: unknown user operation %q (want get, join, leave or post)", op)
	}
	if !slices.Equal(next.Rooms, g.rec.Rooms) || next.Posted != g.rec.Posted {
		// The change counts once it is saved.
		if err := g.save(ctx, next); err != nil {
			return nil, err
		}
		g.rec = next
	}
	rooms := make([]any, len(g.rec.Rooms))
	for i, r := range g.rec.Rooms {
		rooms[i] = r
	}
	return structpb.NewStruct(map[string]any{
		"name":   g.name,
		"rooms":  rooms,
		"posted": g.rec.Posted,
		"member": ctx.Member(),
		"denied": denied,
	})
}

var (
	_ grain.Grain     = (*userGrain)(nil)
	_ grain.Activator = (*userGrain)(nil)
)
