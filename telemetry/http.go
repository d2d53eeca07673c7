package telemetry

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cluster"
)

// httpServer is the member's HTTP listener: a mux of its own (never
// http.DefaultServeMux), one server, its goroutines owned by the Telemetry.
type httpServer struct {
	t      *Telemetry
	ln     net.Listener
	srv    *http.Server
	ctx    context.Context // ends at shutdown: dashboard streams return
	cancel context.CancelFunc
}

//go:embed dashboard.html
var dashboardHTML []byte

func (t *Telemetry) listen(addr string) (*httpServer, error) {
	ln, err := listenTCP(addr)
	if err != nil {
		return nil, err
	}
	hs := &httpServer{t: t, ln: ln}
	hs.ctx, hs.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", hs.healthz)
	mux.HandleFunc("GET /readyz", hs.readyz)
	mux.HandleFunc("GET /health", hs.health)
	mux.HandleFunc("GET /metrics", hs.metrics)
	mux.HandleFunc("GET /debug/traces", hs.traces)
	mux.HandleFunc("GET /debug/traces/{id}", hs.trace)
	mux.HandleFunc("GET /debug/processes", hs.processes)
	mux.HandleFunc("GET /debug/members", hs.members)
	mux.HandleFunc("GET /debug/events", hs.events)
	mux.HandleFunc("GET /debug/mode", hs.mode)
	mux.HandleFunc("POST /debug/mode", hs.setMode)
	mux.HandleFunc("GET /dashboard", hs.dashboard)
	mux.HandleFunc("GET /dashboard/events", hs.stream)
	for pattern, h := range t.cfg.Handlers {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard", http.StatusFound)
	})
	hs.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return hs.ctx },
		ErrorLog:          zap.NewStdLog(t.log.Named("http")),
	}
	return hs, nil
}

func (hs *httpServer) serve() {
	if err := hs.srv.Serve(hs.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		hs.t.log.Warn("telemetry: HTTP listener failed", zap.Error(err))
	}
}

func (hs *httpServer) shutdown(ctx context.Context) error {
	hs.cancel() // dashboard streams end
	err := hs.srv.Shutdown(ctx)
	if err != nil {
		_ = hs.srv.Close()
	}
	return err
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (hs *httpServer) healthz(w http.ResponseWriter, _ *http.Request) {
	if !hs.t.Alive() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "dead"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

func (hs *httpServer) readyz(w http.ResponseWriter, _ *http.Request) {
	ok, why := hs.t.ready()
	st := ""
	if hs.t.ms != nil {
		st = hs.t.ms.Status().String()
	}
	body := map[string]any{"ready": ok, "reason": why, "status": st, "member": hs.t.member}
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (hs *httpServer) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	h := hs.t.ClusterHealth(ctx)
	code := http.StatusOK
	if h.Status == "unhealthy" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

func (hs *httpServer) metrics(w http.ResponseWriter, r *http.Request) {
	m := hs.t.metrics.Load()
	if m == nil {
		http.Error(w, "metrics are off (telemetry.metrics)", http.StatusNotFound)
		return
	}
	promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// traces lists recent traces: this member's, or with ?cluster=1 every
// member's.
func (hs *httpServer) traces(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if n <= 0 || n > 1000 {
		n = 50
	}
	if r.URL.Query().Get("cluster") == "" {
		writeJSON(w, http.StatusOK, hs.t.rec.recent(n))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	out := map[string][]TraceSummary{}
	for _, s := range hs.t.ClusterSummaries(ctx) {
		out[s.ID] = s.RecentTraces
	}
	writeJSON(w, http.StatusOK, out)
}

// trace gathers one trace from every member: JSON with its tree, or the
// printed tree with ?format=text.
func (hs *httpServer) trace(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	tr, err := hs.t.ClusterTrace(ctx, r.PathValue("id"))
	if errors.Is(err, ErrInvalidTraceID) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	} else if errors.Is(err, ErrNotFound) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if r.URL.Query().Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		tr.Print(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"trace_id": tr.TraceID, "members": tr.Members(), "missing": tr.Missing, "tree": tr.Tree()})
}

// processes lists a member's processes: ?member=<id> (default this one).
func (hs *httpServer) processes(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("member")
	if id == "" || id == hs.t.member {
		writeJSON(w, http.StatusOK, hs.t.Processes())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	ps, err := hs.t.MemberProcesses(ctx, id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

// members returns every member's summary.
func (hs *httpServer) members(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	writeJSON(w, http.StatusOK, hs.t.ClusterSummaries(ctx))
}

func (hs *httpServer) events(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, hs.t.rec.recentEvents(200))
}

func (hs *httpServer) mode(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"debug": hs.t.Debug()})
}

// setMode switches debug mode on every member: POST /debug/mode?on=true.
func (hs *httpServer) setMode(w http.ResponseWriter, r *http.Request) {
	on, err := strconv.ParseBool(r.URL.Query().Get("on"))
	if err != nil {
		http.Error(w, "?on= must be true or false", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := hs.t.SetClusterDebug(ctx, on); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"debug": on})
}

func (hs *httpServer) dashboard(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(dashboardHTML)
}

// DashboardState is one update of the dashboard's event stream.
type DashboardState struct {
	At      time.Time       `json:"at"`
	Cluster string          `json:"cluster"`
	Self    string          `json:"self"`
	Debug   bool            `json:"debug"`
	View    []DashMember    `json:"view"`
	Members []MemberSummary `json:"members"`
}

// DashMember is a member as this member's view has it.
type DashMember struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Status  string `json:"status"`
	Started string `json:"started"`
}

// DashboardState returns what the dashboard shows now: this member's view
// and every member's summary.
func (t *Telemetry) DashboardState(ctx context.Context) DashboardState {
	st := DashboardState{At: time.Now(), Cluster: t.cfg.Cluster, Self: t.member, Debug: t.Debug()}
	if t.ms == nil {
		return st
	}
	for _, m := range t.ms.Members() {
		status := m.Status.String()
		if m.ID == t.member {
			status = t.ms.Status().String()
		}
		st.View = append(st.View, DashMember{ID: m.ID, Address: m.Address, Status: status, Started: m.Started.Format(time.RFC3339)})
	}
	st.Members = t.ClusterSummaries(ctx)
	return st
}

// stream is the dashboard's server-sent events: a DashboardState every
// sampling interval, and at once when the membership changes.
func (hs *httpServer) stream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	var changes <-chan cluster.MemberEvent
	if hs.t.ms != nil {
		ch, unsub := hs.t.ms.Subscribe(16)
		defer unsub()
		changes = ch
	}
	tick := time.NewTicker(hs.t.cfg.SampleEvery)
	defer tick.Stop()
	send := func() bool {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		st := hs.t.DashboardState(ctx)
		cancel()
		b, err := json.Marshal(st)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		case _, ok := <-changes:
			if !ok {
				changes = nil
			}
		}
		if !send() {
			return
		}
	}
}
