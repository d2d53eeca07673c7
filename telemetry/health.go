package telemetry

import (
	"context"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/cluster"
)

// ready is /readyz: the member joined a cluster, is serving (not joining,
// fenced or downed) and its grain host, when it has one, serves its kinds.
func (t *Telemetry) ready() (bool, string) {
	if t.sys == nil || !t.sys.Running() {
		return false, "actor system not running"
	}
	if t.ms == nil {
		return false, "not started"
	}
	if st := t.ms.Status(); st != cluster.Serving {
		return false, "membership status " + st.String()
	}
	if !t.ms.Ready() {
		return false, "membership not ready"
	}
	if t.grains != nil && !t.grains.Serving() {
		return false, "grain host not serving"
	}
	return true, "ready"
}

// Ready reports what /readyz reports: whether the member should receive
// traffic, and why not.
func (t *Telemetry) Ready() (bool, string) { return t.ready() }

// Alive reports what /healthz reports: the member's actor system runs.
func (t *Telemetry) Alive() bool { return t.sys != nil && t.sys.Running() }

// ProcessInfo is one process of a member, as the inspector shows it.
type ProcessInfo struct {
	PID     string   `json:"pid"`
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	Parent  string   `json:"parent,omitempty"`
	Mailbox int      `json:"mailbox"`
	Names   []string `json:"names,omitempty"`
}

// Processes lists this member's processes (Erlang's observer): kind,
// parent (the supervision tree), mailbox depth and names.
func (t *Telemetry) Processes() []ProcessInfo {
	if t.sys == nil {
		return nil
	}
	ps := t.sys.Processes()
	out := make([]ProcessInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, ProcessInfo{PID: actor.PIDString(p.PID), ID: p.PID.Id, Kind: p.Kind, Parent: p.Parent, Mailbox: p.Mailbox, Names: p.Names})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Performance is a member's recent performance, over the last sampling
// interval (Config.SampleEvery).
type Performance struct {
	MessagesPerSec   float64 `json:"messages_per_sec"`
	CallsPerSec      float64 `json:"calls_per_sec"`
	CallP50          float64 `json:"call_p50_ms"`
	CallP99          float64 `json:"call_p99_ms"`
	CallErrorsPerSec float64 `json:"call_errors_per_sec"`
	GrainCallsPerSec float64 `json:"grain_calls_per_sec"`
	GrainCallP50     float64 `json:"grain_call_p50_ms"`
	GrainCallP99     float64 `json:"grain_call_p99_ms"`
	Processes        int     `json:"processes"`
	MaxMailbox       int     `json:"max_mailbox"`
	MaxMailboxKind   string  `json:"max_mailbox_kind,omitempty"`
	Goroutines       int     `json:"goroutines"`
	HeapMB           float64 `json:"heap_mb"`
}

// ViewMember is one member of a member's view.
type ViewMember struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// ServiceHealth is the outcome of one registered HealthCheck.
type ServiceHealth struct {
	Name    string `json:"name"`
	Member  string `json:"member"`
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
}

// MemberSummary is what a member says about itself to a cluster-wide
// query: the source of /health and of the dashboard.
type MemberSummary struct {
	ID              string             `json:"id"`
	Address         string             `json:"address,omitempty"`
	ClusterAddress  string             `json:"cluster_address,omitempty"`
	HTTP            string             `json:"http,omitempty"`
	Status          string             `json:"status,omitempty"`
	Ready           bool               `json:"ready"`
	ReadyReason     string             `json:"ready_reason,omitempty"`
	Version         string             `json:"version,omitempty"`
	Started         time.Time          `json:"started"`
	Debug           bool               `json:"debug"`
	View            []ViewMember       `json:"view,omitempty"`
	Kinds           []actor.KindStats  `json:"kinds,omitempty"`
	Grains          map[string]int     `json:"grains,omitempty"`
	Performance     Performance        `json:"performance"`
	Services        []ServiceHealth    `json:"services,omitempty"`
	Recommendations []Recommendation   `json:"recommendations,omitempty"`
	RecentTraces    []TraceSummary     `json:"recent_traces,omitempty"`
	Events          []Event            `json:"events,omitempty"`
	LastTopology    time.Time          `json:"last_topology_change"`
	Error           string             `json:"error,omitempty"`
	Supervision     []SupervisionEntry `json:"supervision,omitempty"`
}

// SupervisionEntry is a supervisor and its children, for the dashboard's
// supervision tree.
type SupervisionEntry struct {
	Supervisor string   `json:"supervisor"`
	Parent     string   `json:"parent,omitempty"`
	Children   []string `json:"children"`
}

// Summary is this member's summary.
func (t *Telemetry) Summary() MemberSummary {
	if t.ms == nil {
		return MemberSummary{Error: "not started"}
	}
	self := t.ms.Self()
	view := t.ms.View()
	s := MemberSummary{
		ID: self.ID, Address: self.Address, ClusterAddress: self.ClusterAddress, HTTP: t.Address(),
		Status: view.Self.String(), Version: self.Version, Started: self.Started, Debug: t.Debug(),
		Grains: map[string]int{},
	}
	s.Ready, s.ReadyReason = t.ready()
	for _, m := range view.Members {
		s.View = append(s.View, ViewMember{ID: m.ID, Status: m.Status.String()})
	}
	s.Kinds = t.kinds()
	for _, k := range s.Kinds {
		if g, ok := strings.CutPrefix(k.Kind, "grain:"); ok && k.Processes > 0 {
			s.Grains[g] = k.Processes
		}
	}
	ps := t.Processes()
	sups := map[string]*SupervisionEntry{}
	for _, p := range ps {
		if p.Kind == "supervisor" {
			sups[p.ID] = &SupervisionEntry{Supervisor: p.ID, Parent: p.Parent, Children: []string{}}
		}
	}
	for _, p := range ps {
		if e := sups[p.Parent]; e != nil {
			e.Children = append(e.Children, p.ID+" ("+p.Kind+")")
		}
	}
	for _, e := range sups {
		s.Supervision = append(s.Supervision, *e)
	}
	sort.Slice(s.Supervision, func(i, j int) bool { return s.Supervision[i].Supervisor < s.Supervision[j].Supervisor })
	t.mu.Lock()
	s.Performance = t.perf
	s.Recommendations = slices.Clone(t.advice)
	s.LastTopology = t.lastTopo
	checks := make(map[string]HealthCheck, len(t.services))
	for k, v := range t.services {
		checks[k] = v
	}
	t.mu.Unlock()
	s.Services = runChecks(self.ID, checks)
	s.RecentTraces = t.rec.recent(20)
	s.Events = t.rec.recentEvents(30)
	return s
}

func runChecks(member string, checks map[string]HealthCheck) []ServiceHealth {
	var out []ServiceHealth
	for name, c := range checks {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c(ctx)
		cancel()
		sh := ServiceHealth{Name: name, Member: member, Healthy: err == nil}
		if err != nil {
			sh.Error = err.Error()
		}
		out = append(out, sh)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Health is the cluster health report of /health.
type Health struct {
	Cluster string    `json:"cluster"`
	Member  string    `json:"member"` // the member that wrote the report
	At      time.Time `json:"at"`
	// Status is healthy (every member answers, ready, one partition, the
	// expected size), degraded (something is off but this side serves) or
	// unhealthy (this member is not ready).
	Status             string           `json:"status"`
	ExpectedMembers    int              `json:"expected_members"`
	ActualMembers      int              `json:"actual_members"`
	Unreachable        []string         `json:"unreachable,omitempty"`
	PartitionsDetected bool             `json:"partitions_detected"`
	Partitions         [][]string       `json:"partitions,omitempty"`
	LastTopologyChange time.Time        `json:"last_topology_change"`
	Members            []MemberSummary  `json:"members"`
	Services           []ServiceHealth  `json:"services"`
	Performance        Performance      `json:"performance"`
	Recommendations    []Recommendation `json:"recommendations"`
}

// ClusterHealth asks every member of the view for its summary and writes
// the cluster health report.
func (t *Telemetry) ClusterHealth(ctx context.Context) Health {
	h := Health{Cluster: t.cfg.Cluster, Member: t.member, At: time.Now(), ExpectedMembers: t.cfg.ExpectedMembers,
		Services: []ServiceHealth{}, Recommendations: []Recommendation{}}
	if t.ms == nil {
		h.Status = "unhealthy"
		return h
	}
	view := t.ms.View()
	for _, m := range view.Members {
		if m.Status == cluster.Up {
			h.ActualMembers++
		} else {
			h.Unreachable = append(h.Unreachable, m.ID)
		}
	}
	sums := t.ClusterSummaries(ctx)
	groups := map[string][]string{}
	var keys []string
	answered := 0
	for i := range sums {
		s := &sums[i]
		s.RecentTraces, s.Events = nil, nil // the report stays small
		if s.Error != "" {
			continue
		}
		answered++
		var up []string
		for _, v := range s.View {
			if v.Status == cluster.Up.String() {
				up = append(up, v.ID)
			}
		}
		if s.Status != cluster.Serving.String() {
			up = []string{s.ID} // fenced, downed or joining: on its own
		}
		sort.Strings(up)
		key := strings.Join(up, ",")
		if _, ok := groups[key]; !ok {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], s.ID)
		h.Services = append(h.Services, s.Services...)
		h.Recommendations = append(h.Recommendations, s.Recommendations...)
		p := s.Performance
		h.Performance.MessagesPerSec += p.MessagesPerSec
		h.Performance.CallsPerSec += p.CallsPerSec
		h.Performance.CallErrorsPerSec += p.CallErrorsPerSec
		h.Performance.GrainCallsPerSec += p.GrainCallsPerSec
		h.Performance.CallP50 = max(h.Performance.CallP50, p.CallP50)
		h.Performance.CallP99 = max(h.Performance.CallP99, p.CallP99)
		h.Performance.GrainCallP50 = max(h.Performance.GrainCallP50, p.GrainCallP50)
		h.Performance.GrainCallP99 = max(h.Performance.GrainCallP99, p.GrainCallP99)
		h.Performance.Processes += p.Processes
		h.Performance.Goroutines += p.Goroutines
		h.Performance.HeapMB += p.HeapMB
		if p.MaxMailbox > h.Performance.MaxMailbox {
			h.Performance.MaxMailbox, h.Performance.MaxMailboxKind = p.MaxMailbox, p.MaxMailboxKind
		}
		if s.LastTopology.After(h.LastTopologyChange) {
			h.LastTopologyChange = s.LastTopology
		}
	}
	h.Members = sums
	for _, k := range keys {
		h.Partitions = append(h.Partitions, groups[k])
	}
	h.PartitionsDetected = len(h.Partitions) > 1 || len(h.Unreachable) > 0
	if h.ExpectedMembers > 0 && h.ActualMembers != h.ExpectedMembers {
		h.Recommendations = append(h.Recommendations, Recommendation{Member: t.member, Rule: "expected-members", Severity: "warning",
			Message: "the view has " + itoa(h.ActualMembers) + " members up, " + itoa(h.ExpectedMembers) + " expected: check the missing members' logs and discovery"})
	}
	ok, _ := t.ready()
	switch {
	case !ok:
		h.Status = "unhealthy"
	case h.PartitionsDetected || answered < len(sums) || (h.ExpectedMembers > 0 && h.ActualMembers != h.ExpectedMembers):
		h.Status = "degraded"
	default:
		h.Status = "healthy"
		for _, s := range sums {
			if !s.Ready {
				h.Status = "degraded"
			}
		}
		for _, sv := range h.Services {
			if !sv.Healthy {
				h.Status = "degraded"
			}
		}
	}
	return h
}

// sampleLoop computes the performance figures and runs the advisor every
// Config.SampleEvery.
func (t *Telemetry) sampleLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.SampleEvery)
	defer tick.Stop()
	prev := t.sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cur := t.sample()
		perf := perfBetween(prev, cur)
		prev = cur
		t.mu.Lock()
		t.perf = perf
		flaps := 0
		cutoff := time.Now().Add(-time.Minute)
		t.flaps = slices.DeleteFunc(t.flaps, func(at time.Time) bool { return at.Before(cutoff) })
		flaps = len(t.flaps)
		tunables := make(map[string]Tunable, len(t.tunables))
		for k, v := range t.tunables {
			tunables[k] = v
		}
		t.mu.Unlock()
		if t.cfg.Advisor == AdvisorOff {
			continue
		}
		in := AdvisorInput{Member: t.member, Performance: perf, Kinds: cur.kinds, FlapsPerMinute: flaps,
			MembershipDropped: t.ms.Dropped(), Tunables: tunableStates(tunables)}
		recs := Advise(in)
		if t.cfg.Advisor == AdvisorApply {
			recs = t.apply(recs, tunables)
		}
		t.mu.Lock()
		old := t.advice
		t.advice = recs
		t.mu.Unlock()
		for _, r := range recs {
			if !slices.ContainsFunc(old, func(o Recommendation) bool { return o.Rule == r.Rule && o.Target == r.Target }) {
				t.rec.event(Event{Kind: "advisor", Message: r.Message})
			}
		}
	}
}

// sampleState is one sample of the counters.
type sampleState struct {
	at         time.Time
	messages   uint64
	kinds      []actor.KindStats
	actorCalls latencySnapshot
	grainCalls latencySnapshot
}

func (t *Telemetry) sample() sampleState {
	s := sampleState{at: time.Now(), kinds: t.kinds(), actorCalls: t.stats.actorCalls.snapshot(), grainCalls: t.stats.grainCalls.snapshot()}
	for _, k := range s.kinds {
		s.messages += k.Messages
	}
	return s
}

func perfBetween(a, b sampleState) Performance {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		secs = 1
	}
	ac, gc := b.actorCalls.sub(a.actorCalls), b.grainCalls.sub(a.grainCalls)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p := Performance{
		MessagesPerSec:   float64(b.messages-a.messages) / secs,
		CallsPerSec:      float64(ac.count()) / secs,
		CallP50:          ms(ac.quantile(0.5)),
		CallP99:          ms(ac.quantile(0.99)),
		CallErrorsPerSec: float64(ac.errors+gc.errors) / secs,
		GrainCallsPerSec: float64(gc.count()) / secs,
		GrainCallP50:     ms(gc.quantile(0.5)),
		GrainCallP99:     ms(gc.quantile(0.99)),
		Goroutines:       runtime.NumGoroutine(),
	}
	if b.messages < a.messages {
		p.MessagesPerSec = 0
	}
	for _, k := range b.kinds {
		p.Processes += k.Processes
		if k.MaxMailbox > p.MaxMailbox {
			p.MaxMailbox, p.MaxMailboxKind = k.MaxMailbox, k.Kind
		}
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	p.HeapMB = float64(mem.HeapAlloc) / (1 << 20)
	return p
}
