package consultest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// The endpoints a Server implements, as path prefixes: pass them to Fail
// and Requests, alone or followed by an id (EndpointCheckUpdate +
// "service:shop-m1" names one member's check).
const (
	// EndpointRegister: PUT, body an api.AgentServiceRegistration with at
	// most one check, a TTL check.
	EndpointRegister = "/v1/agent/service/register"
	// EndpointDeregister: PUT …/{service id}; 404 for an unknown id.
	EndpointDeregister = "/v1/agent/service/deregister/"
	// EndpointCheckUpdate: PUT …/{check id}, body {"Status", "Output"};
	// for an unknown check, the 500 "CheckID … does not have associated
	// TTL" a Consul agent answers.
	EndpointCheckUpdate = "/v1/agent/check/update/"
	// EndpointHealth: GET …/{service name}[?passing][&index=N&wait=D], a
	// blocking query when index is set.
	EndpointHealth = "/v1/health/service/"
)

// Consul's limits, which the Server enforces like an agent.
const (
	// MinDeregisterCriticalAfter is the least DeregisterCriticalServiceAfter
	// a Consul agent applies; lower values are raised to it (unless
	// Config.DeregisterCriticalAfter overrides them).
	MinDeregisterCriticalAfter = time.Minute
	// DefaultWait and MaxWait are a blocking query's wait when none is
	// given, and the most it waits.
	DefaultWait = 5 * time.Minute
	MaxWait     = 10 * time.Minute
)

// Config configures a Server. The zero value is a node "consultest" at
// 127.0.0.1 without ACLs.
type Config struct {
	// Node and NodeAddress name the node every service is registered on;
	// NodeAddress is what a health entry reports for a service registered
	// without an address. Defaults "consultest" and "127.0.0.1".
	Node        string
	NodeAddress string
	// DeregisterCriticalAfter, when > 0, replaces the
	// DeregisterCriticalServiceAfter of every registration that sets one,
	// so that a test need not wait Consul's minute to see a critical
	// service removed. Default (0): the registration's value, raised to
	// MinDeregisterCriticalAfter.
	DeregisterCriticalAfter time.Duration
	// Token, when set, is the only ACL token accepted (X-Consul-Token):
	// other requests get 403. Default (empty): no ACLs.
	Token string
}

// Service is one registration, as Services reports it and Add takes it.
type Service struct {
	ID      string // default Name
	Name    string
	Address string
	Port    int
	Meta    map[string]string
	// CheckID is the registration's TTL check, or empty for a service
	// without checks (which counts as passing).
	CheckID string
	// Status is the check's status: "passing", "warning" or "critical";
	// "passing" for a service without checks.
	Status string
	// TTL and DeregisterAfter are the check's, as applied (DeregisterAfter
	// raised to the minimum or overridden by Config); zero without a check.
	TTL             time.Duration
	DeregisterAfter time.Duration
}

// Server is an in-process stand-in for a Consul agent's HTTP API, serving on
// 127.0.0.1. Build one with New and Close it. Its methods are safe for
// concurrent use.
type Server struct {
	cfg Config
	srv *httptest.Server

	mu        sync.Mutex
	index     uint64
	instances map[string]*instance // by service id
	changed   chan struct{}        // closed and replaced at every change of index
	requests  map[string]int       // by URL path
	faults    []*fault
	slow      time.Duration
	expired   int
	waiting   map[uint64]int // index → health queries blocked on it

	kick      chan struct{} // wakes the reaper after a check's deadline changed
	closing   chan struct{} // closed by Close: handlers and the reaper return
	closeOnce sync.Once
	reaped    chan struct{} // closed when the reaper has returned
}

type instance struct {
	svc   Service // Status, TTL, DeregisterAfter kept in check
	check *ttlCheck
}

type ttlCheck struct {
	id, name      string
	ttl, dereg    time.Duration
	status        string
	output        string
	deadline      time.Time // turns critical then, unless renewed
	criticalSince time.Time
}

type fault struct {
	prefix string
	status int
	left   int // < 0: until ClearFaults
}

// New starts a Server on 127.0.0.1 with a free port, and its one goroutine
// that expires TTL checks. Close stops both.
func New(cfg Config) (*Server, error) {
	if cfg.Node == "" {
		cfg.Node = "consultest"
	}
	if cfg.NodeAddress == "" {
		cfg.NodeAddress = "127.0.0.1"
	}
	if cfg.DeregisterCriticalAfter < 0 {
		return nil, fmt.Errorf("consultest: Config.DeregisterCriticalAfter %v: want >= 0", cfg.DeregisterCriticalAfter)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("consultest: listening on 127.0.0.1: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		index:     1,
		instances: make(map[string]*instance),
		changed:   make(chan struct{}),
		requests:  make(map[string]int),
		waiting:   make(map[uint64]int),
		kick:      make(chan struct{}, 1),
		closing:   make(chan struct{}),
		reaped:    make(chan struct{}),
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	_ = s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	go s.reap()
	return s, nil
}

// Addr is the server's host:port, for a Consul client's Address.
func (s *Server) Addr() string { return s.srv.Listener.Addr().String() }

// URL is "http://" + Addr().
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server: blocked queries and delayed requests end at
// once, and Close waits for every handler and for the reaper. Idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.Close()
		<-s.reaped
	})
}

// Services returns the registrations, ordered by id: a deregistered or
// reaped member is not among them.
func (s *Server) Services() []Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Service, 0, len(s.instances))
	for _, in := range s.instances {
		out = append(out, in.snapshot())
	}
	slices.SortFunc(out, func(a, b Service) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Add registers svc directly, as another client of the agent would,
// without a check (so it counts as passing); it replaces a registration
// with the same id. svc.ID defaults to svc.Name, which must be set.
func (s *Server) Add(svc Service) error {
	if svc.Name == "" {
		return errors.New("consultest: Add: Service.Name is empty")
	}
	if svc.ID == "" {
		svc.ID = svc.Name
	}
	svc.Meta = maps.Clone(svc.Meta)
	svc.CheckID, svc.Status, svc.TTL, svc.DeregisterAfter = "", "", 0, 0
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instances[svc.ID] = &instance{svc: svc}
	s.bumpLocked()
	return nil
}

// Remove deregisters the service with id directly and reports whether it
// was registered.
func (s *Server) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.instances[id]; !ok {
		return false
	}
	delete(s.instances, id)
	s.bumpLocked()
	return true
}

// Requests counts the requests received (failed, delayed and aborted ones
// too) whose path starts with prefix: an Endpoint… constant, or one
// followed by an id.
func (s *Server) Requests(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for path, c := range s.requests {
		if strings.HasPrefix(path, prefix) {
			n += c
		}
	}
	return n
}

// Fail makes the next count requests whose path starts with prefix fail
// with status (such as 404 or 500) without effect; count <= 0 fails them
// until ClearFaults. Faults apply in the order they were added.
func (s *Server) Fail(prefix string, status, count int) {
	if count <= 0 {
		count = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{prefix: prefix, status: status, left: count})
}

// ClearFaults removes every fault added by Fail.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Slow delays every later request by d before it is handled (0: no
// delay). A request whose client gives up during the delay has no effect,
// as if it had never arrived.
func (s *Server) Slow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow = d
}

// Restart acts like restarting an agent that keeps no state (consul agent
// -dev): it forgets every registration and check, starts its index again
// (so the index clients hold goes backwards), and drops every client
// connection, which ends blocked queries and requests in flight with an
// error.
func (s *Server) Restart() {
	s.mu.Lock()
	s.instances = make(map[string]*instance)
	s.index = 0
	s.bumpLocked()
	s.mu.Unlock()
	s.srv.CloseClientConnections()
}

// SetIndex sets the X-Consul-Index to n (at least 1), as restoring an older
// snapshot would: lower than before, it goes backwards for clients. Blocked
// queries go on waiting until the index passes theirs or their wait
// elapses, as an agent's do.
func (s *Server) SetIndex(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index = max(n, 1) - 1
	s.bumpLocked()
}

// Index is the current X-Consul-Index: it grows at every change of a
// registration or of a check's status (not at a renewal that keeps the
// status).
func (s *Server) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// Waiting returns the indexes that the health queries blocked now wait to
// pass, one per query, in increasing order: a test can tell when every
// watcher is blocked, and on what.
func (s *Server) Waiting() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for index, n := range s.waiting {
		for range n {
			out = append(out, index)
		}
	}
	slices.Sort(out)
	return out
}

// Expired counts the checks that turned critical because their TTL ran out.
func (s *Server) Expired() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expired
}

// serve handles every request: counting, delay, faults, ACL, then the
// endpoint.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	s.mu.Lock()
	s.requests[path]++
	slow := s.slow
	s.mu.Unlock()
	if slow > 0 {
		t := time.NewTimer(slow)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closing:
			t.Stop()
			return
		}
	}
	if status, ok := s.fault(path); ok {
		http.Error(w, fmt.Sprintf("consultest: injected %d %s", status, http.StatusText(status)), status)
		return
	}
	if s.cfg.Token != "" && r.Header.Get("X-Consul-Token") != s.cfg.Token {
		http.Error(w, "Permission denied: token not found", http.StatusForbidden)
		return
	}
	method := http.MethodPut
	var handle func(http.ResponseWriter, *http.Request)
	switch {
	case path == EndpointRegister:
		handle = s.register
	case strings.HasPrefix(path, EndpointDeregister):
		handle = s.deregister
	case strings.HasPrefix(path, EndpointCheckUpdate):
		handle = s.checkUpdate
	case strings.HasPrefix(path, EndpointHealth):
		method, handle = http.MethodGet, s.health
	default:
		http.Error(w, "consultest: no such endpoint "+path, http.StatusNotFound)
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		http.Error(w, "method "+r.Method+" not allowed", http.StatusMethodNotAllowed)
		return
	}
	handle(w, r)
}

// fault consumes the first fault matching path.
func (s *Server) fault(path string) (status int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !strings.HasPrefix(path, f.prefix) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return f.status, true
	}
	return 0, false
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var reg api.AgentServiceRegistration
	if err := json.NewDecoder(r.Body).Decode(&reg); err != nil {
		http.Error(w, "Request decode failed: "+err.Error(), http.StatusBadRequest)
		return
	}
	if reg.Name == "" {
		http.Error(w, "Missing service name", http.StatusBadRequest)
		return
	}
	if err := validateMeta(reg.Meta); err != nil {
		http.Error(w, "Invalid Service Meta: "+err.Error(), http.StatusBadRequest)
		return
	}
	if reg.Port < 0 || reg.Port > 65535 {
		http.Error(w, "Invalid service port", http.StatusBadRequest)
		return
	}
	id := reg.ID
	if id == "" {
		id = reg.Name
	}
	in := &instance{svc: Service{ID: id, Name: reg.Name, Address: reg.Address, Port: reg.Port, Meta: maps.Clone(reg.Meta)}}
	if len(reg.Checks) > 0 || reg.Check != nil && reg.Check.TTL == "" {
		http.Error(w, "consultest: only one TTL check (Check.TTL) is supported", http.StatusBadRequest)
		return
	}
	now := time.Now()
	if c := reg.Check; c != nil {
		ttl, err := time.ParseDuration(c.TTL)
		if err != nil || ttl <= 0 {
			http.Error(w, fmt.Sprintf("Invalid check: TTL %q", c.TTL), http.StatusBadRequest)
			return
		}
		var dereg time.Duration
		if c.DeregisterCriticalServiceAfter != "" {
			if dereg, err = time.ParseDuration(c.DeregisterCriticalServiceAfter); err != nil || dereg < 0 {
				http.Error(w, fmt.Sprintf("Invalid check: DeregisterCriticalServiceAfter %q", c.DeregisterCriticalServiceAfter), http.StatusBadRequest)
				return
			}
			dereg = max(dereg, MinDeregisterCriticalAfter)
			if s.cfg.DeregisterCriticalAfter > 0 {
				dereg = s.cfg.DeregisterCriticalAfter
			}
		}
		status := c.Status
		switch status {
		case "":
			status = api.HealthCritical // Consul's initial status of a TTL check
		case api.HealthPassing, api.HealthWarning, api.HealthCritical:
		default:
			http.Error(w, fmt.Sprintf("Invalid check: Status %q", c.Status), http.StatusBadRequest)
			return
		}
		checkID := c.CheckID
		if checkID == "" {
			checkID = "service:" + id
		}
		in.check = &ttlCheck{id: checkID, name: c.Name, ttl: ttl, dereg: dereg, status: status, deadline: now.Add(ttl)}
		if status == api.HealthCritical {
			in.check.criticalSince = now
		}
	}
	s.mu.Lock()
	for otherID, other := range s.instances { // a check id belongs to one service
		if otherID != id && in.check != nil && other.check != nil && other.check.id == in.check.id {
			other.check = nil
		}
	}
	s.instances[id] = in
	s.bumpLocked()
	s.mu.Unlock()
	s.wakeReaper()
}

func (s *Server) deregister(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, EndpointDeregister)
	s.mu.Lock()
	_, ok := s.instances[id]
	if ok {
		delete(s.instances, id)
		s.bumpLocked()
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, fmt.Sprintf("Unknown service ID %q. Ensure that the service ID is passed, not the service name.", id), http.StatusNotFound)
	}
}

func (s *Server) checkUpdate(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, EndpointCheckUpdate)
	var body struct{ Status, Output string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "Request decode failed: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch body.Status {
	case api.HealthPassing, api.HealthWarning, api.HealthCritical:
	default:
		http.Error(w, fmt.Sprintf("Invalid check status: %q", body.Status), http.StatusBadRequest)
		return
	}
	now := time.Now()
	s.mu.Lock()
	c := s.checkLocked(id)
	if c == nil {
		s.mu.Unlock()
		http.Error(w, fmt.Sprintf("CheckID %q does not have associated TTL", id), http.StatusInternalServerError)
		return
	}
	c.deadline = now.Add(c.ttl) // any update renews the TTL, as in Consul
	c.output = body.Output
	if c.status != body.Status {
		if body.Status == api.HealthCritical {
			c.criticalSince = now
		}
		c.status = body.Status
		s.bumpLocked()
	}
	s.mu.Unlock()
	s.wakeReaper()
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, EndpointHealth)
	q := r.URL.Query()
	_, passingOnly := q["passing"]
	var waitIndex uint64
	if v := q.Get("index"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			http.Error(w, "Invalid index", http.StatusBadRequest)
			return
		}
		waitIndex = n
	}
	wait := DefaultWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, "Invalid wait time", http.StatusBadRequest)
			return
		}
		if d > 0 {
			wait = min(d, MaxWait)
		}
	}
	s.mu.Lock()
	if waitIndex > 0 && s.index <= waitIndex {
		if !s.block(r, waitIndex, wait) {
			s.mu.Unlock()
			return
		}
	}
	index := s.index
	entries := make([]*api.ServiceEntry, 0)
	for _, in := range s.instances {
		if in.svc.Name != name {
			continue
		}
		if passingOnly && in.check != nil && in.check.status != api.HealthPassing {
			continue
		}
		entries = append(entries, s.entry(in))
	}
	s.mu.Unlock()
	slices.SortFunc(entries, func(a, b *api.ServiceEntry) int { return strings.Compare(a.Service.ID, b.Service.ID) })
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Consul-Index", strconv.FormatUint(index, 10))
	h.Set("X-Consul-KnownLeader", "true")
	h.Set("X-Consul-LastContact", "0")
	_ = json.NewEncoder(w).Encode(entries)
}

// block waits, with mu held on entry and on return, until the index
// passes waitIndex or wait elapses; it reports false when the client gave
// up or the server is closing.
func (s *Server) block(r *http.Request, waitIndex uint64, wait time.Duration) bool {
	s.waiting[waitIndex]++
	defer func() {
		if s.waiting[waitIndex]--; s.waiting[waitIndex] == 0 {
			delete(s.waiting, waitIndex)
		}
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	for s.index <= waitIndex {
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-t.C:
			s.mu.Lock()
			return true
		case <-r.Context().Done():
			s.mu.Lock()
			return false
		case <-s.closing:
			s.mu.Lock()
			return false
		}
		s.mu.Lock()
	}
	return true
}

// entry is in as the health endpoint reports it; the caller holds mu.
func (s *Server) entry(in *instance) *api.ServiceEntry {
	svc := in.svc
	e := &api.ServiceEntry{
		Node: &api.Node{Node: s.cfg.Node, Address: s.cfg.NodeAddress, Datacenter: "dc1"},
		Service: &api.AgentService{
			ID: svc.ID, Service: svc.Name, Address: svc.Address, Port: svc.Port,
			Meta: maps.Clone(svc.Meta), Datacenter: "dc1",
		},
		Checks: api.HealthChecks{},
	}
	if c := in.check; c != nil {
		e.Checks = append(e.Checks, &api.HealthCheck{
			Node: s.cfg.Node, CheckID: c.id, Name: c.name, Status: c.status, Output: c.output,
			ServiceID: svc.ID, ServiceName: svc.Name, Type: "ttl",
		})
	}
	return e
}

// checkLocked finds the check with id; the caller holds mu.
func (s *Server) checkLocked(id string) *ttlCheck {
	for _, in := range s.instances {
		if in.check != nil && in.check.id == id {
			return in.check
		}
	}
	return nil
}

// bumpLocked advances the index and wakes blocked queries; the caller
// holds mu.
func (s *Server) bumpLocked() {
	s.index++
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) wakeReaper() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// reap turns checks whose TTL ran out critical and removes services
// critical for their DeregisterAfter, sleeping until the next such
// deadline or until a registration or renewal changes them.
func (s *Server) reap() {
	defer close(s.reaped)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		next := s.expireLocked(time.Now())
		s.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		t.Reset(wait)
		select {
		case <-s.closing:
			return
		case <-s.kick:
		case <-t.C:
		}
	}
}

// expireLocked applies the deadlines due at now and returns the next one
// (zero: none); the caller holds mu.
func (s *Server) expireLocked(now time.Time) time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	changed := false
	for id, in := range s.instances {
		c := in.check
		if c == nil {
			continue
		}
		if c.status != api.HealthCritical {
			if now.Before(c.deadline) {
				earliest(c.deadline)
				continue
			}
			c.status, c.criticalSince = api.HealthCritical, c.deadline
			c.output = "TTL expired"
			s.expired++
			changed = true
		}
		if c.dereg <= 0 {
			continue
		}
		if at := c.criticalSince.Add(c.dereg); now.Before(at) {
			earliest(at)
			continue
		}
		delete(s.instances, id)
		changed = true
	}
	if changed {
		s.bumpLocked()
	}
	return next
}

// snapshot is in as Services reports it; the caller holds mu.
func (in *instance) snapshot() Service {
	svc := in.svc
	svc.Meta = maps.Clone(svc.Meta)
	svc.Status = api.HealthPassing
	if c := in.check; c != nil {
		svc.CheckID, svc.Status, svc.TTL, svc.DeregisterAfter = c.id, c.status, c.ttl, c.dereg
	}
	return svc
}

// validateMeta applies Consul's rules for service meta.
func validateMeta(meta map[string]string) error {
	if len(meta) > 64 {
		return errors.New("Node metadata cannot contain more than 64 key/value pairs")
	}
	for k, v := range meta {
		switch {
		case k == "":
			return errors.New("Key cannot be blank")
		case len(k) > 128:
			return fmt.Errorf("Key is too long (limit: 128 characters): %q", k)
		case strings.HasPrefix(k, "consul-"):
			return fmt.Errorf("Key prefix 'consul-' is reserved for internal use: %q", k)
		case len(v) > 512:
			return fmt.Errorf("Value is too long (limit: 512 characters): key %q", k)
		}
		for _, c := range []byte(k) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return fmt.Errorf("Key contains invalid characters: %q", k)
			}
		}
	}
	return nil
}
