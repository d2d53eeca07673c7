package actortest

import (
	"fmt"
	"maps"
	"reflect"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/actor"
)

// SendAssertion selects recorded sends. Start one with Harness.ShouldSend,
// narrow it with To, Message, Matching and Header, and finish it with Once,
// Times or Never, which fail the test when the count is wrong. Each method
// returns a new SendAssertion, so a partial one can be reused.
type SendAssertion struct {
	h       *Harness
	to      *actor.PID
	msg     any
	hasMsg  bool
	match   func(any) bool
	headers actor.Headers
}

// ShouldSend starts an assertion about the messages sent so far; with no
// narrowing it selects every send.
func (h *Harness) ShouldSend() SendAssertion { return SendAssertion{h: h} }

// To selects sends to pid.
func (a SendAssertion) To(pid *actor.PID) SendAssertion {
	a.to = pid
	return a
}

// Message selects sends of a message equal to m: proto.Equal when both are
// proto messages, reflect.DeepEqual otherwise.
func (a SendAssertion) Message(m any) SendAssertion {
	a.msg, a.hasMsg = m, true
	return a
}

// Matching selects sends whose message f accepts.
func (a SendAssertion) Matching(f func(msg any) bool) SendAssertion {
	a.match = f
	return a
}

// Header selects sends carrying header key with value.
func (a SendAssertion) Header(key, value string) SendAssertion {
	a.headers = maps.Clone(a.headers)
	if a.headers == nil {
		a.headers = make(actor.Headers, 1)
	}
	a.headers[key] = value
	return a
}

// Once fails the test unless exactly one send was selected.
func (a SendAssertion) Once() bool {
	a.h.t.Helper()
	return a.Times(1)
}

// Never fails the test if any send was selected.
func (a SendAssertion) Never() bool {
	a.h.t.Helper()
	return a.Times(0)
}

// Times fails the test unless exactly n sends were selected. It reports
// whether the count was right.
func (a SendAssertion) Times(n int) bool {
	a.h.t.Helper()
	if n < 0 {
		a.h.t.Errorf("actortest: ShouldSend().Times(%d): n must be >= 0", n)
		return false
	}
	sent := a.h.Sent()
	got := 0
	for _, s := range sent {
		if a.selects(s) {
			got++
		}
	}
	if got == n {
		return true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "actortest: want %d %s, got %d", n, a.what(n), got)
	if len(sent) == 0 {
		b.WriteString("; nothing was sent")
	} else {
		fmt.Fprintf(&b, "; sent:")
		for i, s := range sent {
			fmt.Fprintf(&b, "\n\t#%d to %s: %s", i, actor.PIDString(s.To), describe(s.Msg))
			if len(s.Headers) > 0 {
				fmt.Fprintf(&b, " headers %v", map[string]string(s.Headers))
			}
		}
	}
	a.h.t.Errorf("%s", b.String())
	return false
}

func (a SendAssertion) selects(s Sent) bool {
	if a.to != nil && !Equal(a.to, s.To) {
		return false
	}
	if a.hasMsg && !Equal(a.msg, s.Msg) {
		return false
	}
	if a.match != nil && !a.match(s.Msg) {
		return false
	}
	for k, v := range a.headers {
		if got, ok := s.Headers[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (a SendAssertion) what(n int) string {
	var b strings.Builder
	b.WriteString("send")
	if n != 1 {
		b.WriteString("s")
	}
	if a.to != nil {
		fmt.Fprintf(&b, " to %s", actor.PIDString(a.to))
	}
	if a.hasMsg {
		fmt.Fprintf(&b, " of %s", describe(a.msg))
	}
	if a.match != nil {
		b.WriteString(" matching the predicate")
	}
	if len(a.headers) > 0 {
		fmt.Fprintf(&b, " with headers %v", map[string]string(a.headers))
	}
	return b.String()
}

// Equal reports whether two messages are equal the way assertions compare
// them: proto.Equal when both are proto messages (PIDs included),
// reflect.DeepEqual otherwise.
func Equal(a, b any) bool {
	if pa, ok := a.(proto.Message); ok {
		if pb, ok := b.(proto.Message); ok {
			return proto.Equal(pa, pb)
		}
	}
	return reflect.DeepEqual(a, b)
}

// describe formats a message for failure messages: Go syntax, or the text
// form of a proto message.
func describe(m any) string {
	if pm, ok := m.(proto.Message); ok {
		return fmt.Sprintf("%T{%v}", m, pm)
	}
	return fmt.Sprintf("%#v", m)
}
