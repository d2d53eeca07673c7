package telemetry

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/foundation-go/foundation/cluster"
)

// The cluster-wide query protocol. A member asks another over an
// authenticated stream of the other's cluster port (cluster.ProtocolControl,
// cluster.Membership.Dial): one request frame, one response frame, then the
// stream closes. A frame is a 4-byte big-endian length and that many bytes
// of JSON; frames are at most maxFrame bytes. Queries are rare (an operator,
// a dashboard refresh), so each opens its own stream.

// maxFrame bounds a control frame: a full flight recorder's spans fit.
const maxFrame = 16 << 20

// controlTimeout bounds one query to one member when ctx has no earlier
// deadline.
const controlTimeout = 3 * time.Second

// Control operations.
const (
	opTrace     = "trace"     // the spans of TraceID recorded there
	opSummary   = "summary"   // the member's MemberSummary
	opProcesses = "processes" // the member's processes
	opDebug     = "debug"     // set debug mode to On
)

type controlRequest struct {
	Op      string `json:"op"`
	TraceID string `json:"trace_id,omitempty"`
	On      bool   `json:"on,omitempty"`
}

type controlResponse struct {
	Error     string         `json:"error,omitempty"`
	Spans     []SpanRecord   `json:"spans,omitempty"`
	Summary   *MemberSummary `json:"summary,omitempty"`
	Processes []ProcessInfo  `json:"processes,omitempty"`
	Debug     bool           `json:"debug,omitempty"`
}

// writeFrame writes v as one frame.
func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxFrame {
		return fmt.Errorf("%w: frame of %d bytes exceeds %d", ErrControl, len(b), maxFrame)
	}
	buf := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	_, err = w.Write(append(buf, b...))
	return err
}

// readFrame reads one frame into v.
func readFrame(r io.Reader, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return fmt.Errorf("%w: frame of %d bytes exceeds %d", ErrControl, size, maxFrame)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// serveControl answers one query on an inbound ProtocolControl stream.
func (t *Telemetry) serveControl(ctx context.Context, conn net.Conn, peer string) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(controlTimeout))
	var req controlRequest
	if err := readFrame(conn, &req); err != nil {
		t.log.Debug("telemetry: bad control request", zapPeer(peer), zapErr(err))
		return
	}
	_ = writeFrame(conn, t.answer(ctx, req))
}

// answer answers a query locally.
func (t *Telemetry) answer(_ context.Context, req controlRequest) controlResponse {
	switch req.Op {
	case opTrace:
		return controlResponse{Spans: t.rec.trace(req.TraceID)}
	case opSummary:
		s := t.Summary()
		return controlResponse{Summary: &s}
	case opProcesses:
		return controlResponse{Processes: t.Processes()}
	case opDebug:
		t.SetDebug(req.On)
		return controlResponse{Debug: t.Debug()}
	}
	return controlResponse{Error: fmt.Sprintf("unknown operation %q", req.Op)}
}

// query asks member id; this member answers itself without a stream.
func (t *Telemetry) query(ctx context.Context, id string, req controlRequest) (controlResponse, error) {
	if id == t.member {
		return t.answer(ctx, req), nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, controlTimeout)
		defer cancel()
	}
	conn, err := t.ms.Dial(ctx, id, cluster.ProtocolControl)
	if err != nil {
		return controlResponse{}, fmt.Errorf("%w: member %s: %w", ErrControl, id, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	var resp controlResponse
	if err := writeFrame(conn, req); err != nil {
		return resp, fmt.Errorf("%w: member %s: %w", ErrControl, id, err)
	}
	if err := readFrame(conn, &resp); err != nil {
		return resp, fmt.Errorf("%w: member %s: %w", ErrControl, id, err)
	}
	if resp.Error != "" {
		return resp, fmt.Errorf("%w: member %s: %s", ErrControl, id, resp.Error)
	}
	return resp, nil
}

// memberAnswer is one member's answer to a cluster-wide query.
type memberAnswer struct {
	id   string
	resp controlResponse
	err  error
}

// queryAll asks every member of the view (this one included), in
// parallel, and returns the answers in the view's order.
func (t *Telemetry) queryAll(ctx context.Context, req controlRequest) []memberAnswer {
	if t.ms == nil {
		return nil
	}
	members := t.ms.Members()
	out := make([]memberAnswer, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := t.query(ctx, m.ID, req)
			out[i] = memberAnswer{id: m.ID, resp: resp, err: err}
		}()
	}
	wg.Wait()
	return out
}

// ClusterTrace gathers the spans of traceID from every member's flight
// recorder (over the cluster port) and returns the trace. Members that did
// not answer are listed in Trace.Missing; it is ErrNotFound when no member
// recorded a span of it, ErrInvalidTraceID when traceID is not 32
// lower-case hex digits (not all zero).
func (t *Telemetry) ClusterTrace(ctx context.Context, traceID string) (*Trace, error) {
	if t.ms == nil {
		return nil, ErrNotStarted
	}
	if id, err := trace.TraceIDFromHex(traceID); err != nil || id.String() != traceID {
		return nil, fmt.Errorf("%w: %q: want 32 lower-case hex digits, not all zero", ErrInvalidTraceID, traceID)
	}
	tr := &Trace{TraceID: traceID}
	for _, a := range t.queryAll(ctx, controlRequest{Op: opTrace, TraceID: traceID}) {
		if a.err != nil {
			tr.Missing = append(tr.Missing, a.id+": "+a.err.Error())
			continue
		}
		tr.Spans = append(tr.Spans, a.resp.Spans...)
	}
	if len(tr.Spans) == 0 {
		return tr, fmt.Errorf("%w: no member recorded spans of trace %s", ErrNotFound, traceID)
	}
	sort.Slice(tr.Spans, func(i, j int) bool { return tr.Spans[i].Start.Before(tr.Spans[j].Start) })
	return tr, nil
}

// SetClusterDebug switches debug mode on every member of the view (see
// SetDebug). It returns the members that could not be reached, joined.
func (t *Telemetry) SetClusterDebug(ctx context.Context, on bool) error {
	if t.ms == nil {
		return ErrNotStarted
	}
	var errs []error
	for _, a := range t.queryAll(ctx, controlRequest{Op: opDebug, On: on}) {
		if a.err != nil {
			errs = append(errs, a.err)
		}
	}
	return errors.Join(errs...)
}

// ClusterSummaries returns every member's summary (see Summary); members
// that did not answer have Error set.
func (t *Telemetry) ClusterSummaries(ctx context.Context) []MemberSummary {
	var out []MemberSummary
	for _, a := range t.queryAll(ctx, controlRequest{Op: opSummary}) {
		if a.err != nil || a.resp.Summary == nil {
			msg := "no summary"
			if a.err != nil {
				msg = a.err.Error()
			}
			out = append(out, MemberSummary{ID: a.id, Error: msg})
			continue
		}
		out = append(out, *a.resp.Summary)
	}
	return out
}

// MemberProcesses returns the processes of member id (see Processes).
func (t *Telemetry) MemberProcesses(ctx context.Context, id string) ([]ProcessInfo, error) {
	if t.ms == nil {
		return nil, ErrNotStarted
	}
	resp, err := t.query(ctx, id, controlRequest{Op: opProcesses})
	return resp.Processes, err
}
