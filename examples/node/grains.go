package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/grain"
)

// The grain kinds every node declares (flag -grains).
const (
	// kindCounter is partitioned: each identity lives on the member with the
	// highest rendezvous hash. It adds each *wrapperspb.Int64Value it
	// receives and replies "member=<id> count=<n>".
	kindCounter = "counter"
	// kindSingleton puts every identity on the oldest member. It replies
	// its member id.
	kindSingleton = "singleton"
	// singletonID is the identity the driver calls.
	singletonID = "leader"
	// callTimeout bounds each driven call.
	callTimeout = time.Second
)

// printer writes whole lines to stdout, one line per write: the event loop,
// the driver and grain activations print concurrently, and the programs
// that follow a node parse its lines.
type printer struct{ mu sync.Mutex }

func (p *printer) linef(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Printf(format+"\n", args...)
}

// grainKinds declares the counter and singleton kinds; with host they are
// hosted here (New is set), else this node only calls them.
func grainKinds(out *printer, host bool) []grain.Kind {
	counter := grain.Kind{Name: kindCounter, Placement: grain.Partitioned}
	singleton := grain.Kind{Name: kindSingleton, Placement: grain.Singleton}
	if host {
		counter.New = func(string) grain.Grain { return &counterGrain{lifecycle: lifecycle{out}} }
		singleton.New = func(string) grain.Grain { return &singletonGrain{lifecycle: lifecycle{out}} }
	}
	return []grain.Kind{counter, singleton}
}

// lifecycle prints a line when a grain is activated or deactivated.
type lifecycle struct{ out *printer }

func (l lifecycle) OnActivate(ctx *grain.Context) error {
	l.out.linef("grain activate kind=%s id=%s member=%s at=%d", ctx.Kind(), ctx.Identity(), ctx.Member(), time.Now().UnixNano())
	return nil
}

func (l lifecycle) OnDeactivate(ctx *grain.Context) {
	l.out.linef("grain deactivate kind=%s id=%s member=%s at=%d", ctx.Kind(), ctx.Identity(), ctx.Member(), time.Now().UnixNano())
}

type counterGrain struct {
	lifecycle
	count int64
}

func (g *counterGrain) Receive(ctx *grain.Context, msg any) (any, error) {
	m, ok := msg.(*wrapperspb.Int64Value)
	if !ok {
		return nil, fmt.Errorf("counter: got %T, want *wrapperspb.Int64Value", msg)
	}
	g.count += m.GetValue()
	return wrapperspb.String(fmt.Sprintf("member=%s count=%d", ctx.Member(), g.count)), nil
}

type singletonGrain struct{ lifecycle }

func (g *singletonGrain) Receive(ctx *grain.Context, _ any) (any, error) {
	return wrapperspb.String(ctx.Member()), nil
}

var (
	_ grain.Grain       = (*counterGrain)(nil)
	_ grain.Activator   = (*counterGrain)(nil)
	_ grain.Deactivator = (*counterGrain)(nil)
	_ grain.Grain       = (*singletonGrain)(nil)
	_ grain.Activator   = (*singletonGrain)(nil)
	_ grain.Deactivator = (*singletonGrain)(nil)
)

// drive calls kind in a loop, one call every interval (counter: identities
// c0..c<ids-1> in turn), until ctx ends, and prints one line per call:
//
//	call kind=counter id=c3 member=<id> count=<n> ok=true took=<d> at=<unix nanos> err=""
//
// at is when the call returned; member is the member that answered.
func drive(ctx context.Context, node *foundation.Node, out *printer, kind string, interval time.Duration, ids int) {
	// Calls made before the cluster has formed would place grains on the
	// members seen so far (a singleton on this member alone).
	if err := node.WaitReady(ctx); err != nil {
		if ctx.Err() != nil {
			return
		}
		out.linef("drive: %v; driving anyway", err)
	}
	if kind == kindCounter {
		out.linef("drive kind=%s interval=%s ids=%d", kind, interval, ids)
	} else {
		out.linef("drive kind=%s interval=%s", kind, interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		id := singletonID
		if kind == kindCounter {
			id = fmt.Sprintf("c%d", i%ids)
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		t0 := time.Now()
		reply, err := grain.Get[*wrapperspb.StringValue](node.Grains, kind, id).Call(cctx, wrapperspb.Int64(1))
		at := time.Now()
		cancel()
		if ctx.Err() != nil {
			return // stopping: the last call's failure says nothing
		}
		var member, count string
		if err == nil {
			member = reply.GetValue()
			if kind == kindCounter {
				member, count = field(member, "member"), " count="+field(member, "count")
			}
		}
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		out.linef("call kind=%s id=%s member=%s%s ok=%t took=%s at=%d err=%q",
			kind, id, member, count, err == nil, at.Sub(t0).Round(time.Microsecond), at.UnixNano(), errText)
	}
}

// field returns the value of key=value in s, or "".
func field(s, key string) string {
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
