package telemetry

import (
	"context"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// SpanRecord is one finished span as the flight recorder keeps it and the
// cluster-wide trace query returns it.
type SpanRecord struct {
	TraceID  string            `json:"trace_id"`
	SpanID   string            `json:"span_id"`
	ParentID string            `json:"parent_id,omitempty"`
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Member   string            `json:"member"`
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Error    string            `json:"error,omitempty"`
	Attrs    map[string]string `json:"attrs,omitempty"`
}

// Duration is End - Start.
func (s SpanRecord) Duration() time.Duration { return s.End.Sub(s.Start) }

// Event is something that happened on a member, kept by the flight
// recorder beside the spans: a membership change, a split-brain decision,
// a supervisor restart, a grain activation, debug mode switched.
type Event struct {
	At     time.Time `json:"at"`
	Member string    `json:"member"`
	// Kind groups events: "membership", "split-brain", "supervisor",
	// "grain", "debug", "advisor".
	Kind    string `json:"kind"`
	Message string `json:"message"`
	TraceID string `json:"trace_id,omitempty"`
}

// recorder is the flight recorder: bounded rings of the spans that ended
// here (an OpenTelemetry SpanProcessor) and of events. The oldest entries
// are overwritten; nothing blocks. Spans are kept as the SDK hands them
// over (immutable once ended) and turned into SpanRecords only when
// asked for, so that a sampled span costs the recorder one slot write.
type recorder struct {
	member string

	mu     sync.Mutex
	spans  []sdktrace.ReadOnlySpan
	sNext  int
	sFull  bool
	events []Event
	eNext  int
	eFull  bool
}

func newRecorder(member string, size int) *recorder {
	if size == 0 {
		size = DefaultRecorderSize
	}
	return &recorder{member: member, spans: make([]sdktrace.ReadOnlySpan, size), events: make([]Event, max(size/4, 16))}
}

var _ sdktrace.SpanProcessor = (*recorder)(nil)

func (r *recorder) setMember(id string) {
	r.mu.Lock()
	r.member = id
	r.mu.Unlock()
}

func (r *recorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (r *recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.mu.Lock()
	r.spans[r.sNext] = s
	if r.sNext++; r.sNext == len(r.spans) {
		r.sNext, r.sFull = 0, true
	}
	r.mu.Unlock()
}

// record turns a recorded span into a SpanRecord of this member.
func (r *recorder) record(s sdktrace.ReadOnlySpan) SpanRecord {
	sc := s.SpanContext()
	rec := SpanRecord{
		TraceID: sc.TraceID().String(),
		SpanID:  sc.SpanID().String(),
		Name:    s.Name(),
		Kind:    s.SpanKind().String(),
		Member:  r.member,
		Start:   s.StartTime(),
		End:     s.EndTime(),
	}
	if p := s.Parent(); p.IsValid() {
		rec.ParentID = p.SpanID().String()
	}
	if st := s.Status(); st.Code == codes.Error {
		rec.Error = st.Description
		if rec.Error == "" {
			rec.Error = "error"
		}
	}
	if attrs := s.Attributes(); len(attrs) > 0 {
		rec.Attrs = make(map[string]string, len(attrs))
		for _, a := range attrs {
			rec.Attrs[string(a.Key)] = a.Value.Emit()
		}
	}
	return rec
}

func (r *recorder) Shutdown(context.Context) error   { return nil }
func (r *recorder) ForceFlush(context.Context) error { return nil }

func (r *recorder) event(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	r.mu.Lock()
	e.Member = r.member
	r.events[r.eNext] = e
	if r.eNext++; r.eNext == len(r.events) {
		r.eNext, r.eFull = 0, true
	}
	r.mu.Unlock()
}

// trace returns the spans of traceID recorded here, oldest first (none
// for an id that is not 32 hex digits).
func (r *recorder) trace(traceID string) []SpanRecord {
	id, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []SpanRecord
	r.eachSpan(func(s sdktrace.ReadOnlySpan) {
		if s.SpanContext().TraceID() == id {
			out = append(out, r.record(s))
		}
	})
	return out
}

// eachSpan calls f on every recorded span, oldest first. r.mu held.
func (r *recorder) eachSpan(f func(sdktrace.ReadOnlySpan)) {
	if r.sFull {
		for i := r.sNext; i < len(r.spans); i++ {
			f(r.spans[i])
		}
	}
	for i := 0; i < r.sNext; i++ {
		f(r.spans[i])
	}
}

// TraceSummary is one recent trace as a member saw it.
type TraceSummary struct {
	TraceID string    `json:"trace_id"`
	Root    string    `json:"root"` // the name of its earliest span here
	Start   time.Time `json:"start"`
	// Duration spans the trace's spans recorded here.
	Duration time.Duration `json:"duration_ns"`
	Spans    int           `json:"spans"`
	Errors   int           `json:"errors"`
}

// recent returns the last n traces with spans here, newest first.
func (r *recorder) recent(n int) []TraceSummary {
	r.mu.Lock()
	by := map[trace.TraceID]*TraceSummary{}
	var ends = map[trace.TraceID]time.Time{}
	r.eachSpan(func(s sdktrace.ReadOnlySpan) {
		id, name, start, end := s.SpanContext().TraceID(), s.Name(), s.StartTime(), s.EndTime()
		t := by[id]
		if t == nil {
			t = &TraceSummary{TraceID: id.String(), Root: name, Start: start}
			by[id] = t
		}
		if start.Before(t.Start) {
			t.Start, t.Root = start, name
		}
		if end.After(ends[id]) {
			ends[id] = end
		}
		t.Spans++
		if s.Status().Code == codes.Error {
			t.Errors++
		}
	})
	r.mu.Unlock()
	out := make([]TraceSummary, 0, len(by))
	for id, t := range by {
		t.Duration = ends[id].Sub(t.Start)
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// recentEvents returns the last n events, newest first.
func (r *recorder) recentEvents(n int) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	add := func(i int) {
		if !r.events[i].At.IsZero() {
			out = append(out, r.events[i])
		}
	}
	for i := r.eNext - 1; i >= 0 && len(out) < n; i-- {
		add(i)
	}
	if r.eFull {
		for i := len(r.events) - 1; i >= r.eNext && len(out) < n; i-- {
			add(i)
		}
	}
	return out
}
