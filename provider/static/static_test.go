package static_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/static"
)

// recorder collects the member sets a provider reports.
type recorder struct {
	mu   sync.Mutex
	sets [][]string
}

func (r *recorder) update(ms []provider.Member) {
	addrs := make([]string, len(ms))
	for i, m := range ms {
		if m.ID != "" || m.Cluster != "" || m.Kinds != nil || m.Version != "" || m.Auth != "" {
			panic("static reported more than an address")
		}
		addrs[i] = m.Address
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, addrs)
}

func (r *recorder) all() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sets)
}

func TestStartReportsSeedsOnceDeduplicated(t *testing.T) {
	p, err := static.New([]string{"b:2", "a:1", "b:2", "a:01", "[::1]:7", "[::ffff:10.0.0.1]:9"})
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	self := provider.Member{ID: "me", Address: "a:1", Cluster: "c"}
	if err := p.Start(context.Background(), self, r.update); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"10.0.0.1:9", "[::1]:7", "a:1", "b:2"}}
	if got := r.all(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("updates = %q, want %q", got, want)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSetSeeds(t *testing.T) {
	ctx := context.Background()
	p, err := static.New([]string{"a:1"})
	if err != nil {
		t.Fatal(err)
	}
	// Before Start: replaces the list Start reports, reports nothing.
	if err := p.SetSeeds(ctx, []string{"a:1", "b:2"}); err != nil {
		t.Fatal(err)
	}
	var r recorder
	if err := p.Start(ctx, provider.Member{}, r.update); err != nil {
		t.Fatal(err)
	}
	// The same set in another order with duplicates: no update.
	if err := p.SetSeeds(ctx, []string{"b:2", "a:1", "a:1"}); err != nil {
		t.Fatal(err)
	}
	// A change: one update.
	if err := p.SetSeeds(ctx, []string{"c:3"}); err != nil {
		t.Fatal(err)
	}
	// A bad list: an error, the list is unchanged, no update.
	if err := p.SetSeeds(ctx, []string{"c:3", "d"}); !errors.Is(err, provider.ErrInvalidConfig) {
		t.Fatalf("SetSeeds(bad) = %v, want ErrInvalidConfig", err)
	}
	want := [][]string{{"a:1", "b:2"}, {"c:3"}}
	if got := r.all(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("updates = %q, want %q", got, want)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.SetSeeds(ctx, []string{"e:5"}); !errors.Is(err, provider.ErrStopped) {
		t.Fatalf("SetSeeds after Stop = %v, want ErrStopped", err)
	}
	if got := r.all(); len(got) != 2 {
		t.Fatalf("update after Stop: %q", got)
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	p, err := static.New([]string{"a:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, provider.Member{}, nil); !errors.Is(err, provider.ErrInvalidConfig) {
		t.Fatalf("Start(nil update) = %v, want ErrInvalidConfig", err)
	}
	var r recorder
	if err := p.Start(ctx, provider.Member{}, r.update); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, provider.Member{}, r.update); !errors.Is(err, static.ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	for range 3 {
		if err := p.Stop(ctx); err != nil {
			t.Fatalf("Stop = %v, want nil (idempotent)", err)
		}
	}
	if err := p.Start(ctx, provider.Member{}, r.update); !errors.Is(err, provider.ErrStopped) {
		t.Fatalf("Start after Stop = %v, want ErrStopped", err)
	}
	// Stop of a never-started provider.
	q, _ := static.New([]string{"a:1"})
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUpdatesNeverOverlap: concurrent SetSeeds calls deliver one update at a
// time, and the last update delivered is the last list set.
func TestUpdatesNeverOverlap(t *testing.T) {
	ctx := context.Background()
	p, err := static.New([]string{"a:1"})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		inside  bool
		overlap bool
		last    []provider.Member
	)
	update := func(ms []provider.Member) {
		mu.Lock()
		if inside {
			overlap = true
		}
		inside = true
		mu.Unlock()
		time.Sleep(50 * time.Microsecond) // widen the window an overlap would need
		mu.Lock()
		inside = false
		last = ms
		mu.Unlock()
	}
	if err := p.Start(ctx, provider.Member{}, update); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				_ = p.SetSeeds(ctx, []string{"h:" + string(rune('1'+i)), "x:" + string(rune('1'+j%9))})
			}
		})
	}
	wg.Wait()
	if err := p.SetSeeds(ctx, []string{"final:1"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Fatal("update was called concurrently")
	}
	if len(last) != 1 || last[0].Address != "final:1" {
		t.Fatalf("last update = %v, want [final:1]", last)
	}
}

func TestStopWaitsWithinContext(t *testing.T) {
	p, err := static.New([]string{"a:1"})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	first := true
	update := func([]provider.Member) {
		if first {
			first = false
			return
		}
		close(entered)
		<-release
	}
	if err := p.Start(context.Background(), provider.Member{}, update); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.SetSeeds(context.Background(), []string{"b:2"}) }()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop during a blocked update with a canceled ctx = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadSeeds(t *testing.T) {
	for _, tc := range []struct {
		seeds []string
		want  string
	}{
		{nil, "list is empty"},
		{[]string{}, "list is empty"},
		{[]string{"localhost"}, `seed 0 "localhost"`},
		{[]string{"a:1", "a:0"}, `seed 1 "a:0"`},
		{[]string{"a:65536"}, "out of range"},
		{[]string{"a:-1"}, "not a decimal number"},
		{[]string{"a:+1"}, "not a decimal number"},
		{[]string{"a:http"}, "not a decimal number"},
		{[]string{":80"}, "missing host"},
		{[]string{"0.0.0.0:80"}, "unspecified"},
		{[]string{"[::]:80"}, "unspecified"},
		{[]string{"[fe80::1%eth0]:80"}, "zone"},
		{[]string{"a b:80"}, "not a host name"},
		{[]string{"a..b:80"}, "not a host name"},
		{[]string{"::1:80"}, `seed 0 "::1:80"`},
	} {
		_, err := static.New(tc.seeds)
		if !errors.Is(err, provider.ErrInvalidConfig) {
			t.Errorf("New(%q) = %v, want ErrInvalidConfig", tc.seeds, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || (len(tc.seeds) > 0 && !strings.Contains(msg, "host:port with port 1..65535")) {
			t.Errorf("New(%q) error %q, want it to mention %q and the allowed form", tc.seeds, msg, tc.want)
		}
	}
	if _, err := static.New([]string{"a:65535", "A-b_c.example.:1", "127.0.0.1:80"}); err != nil {
		t.Errorf("New(good seeds) = %v", err)
	}
}

// FuzzNew: New never panics, and what it accepts is canonical: feeding a
// reported address back in reports the same address.
func FuzzNew(f *testing.F) {
	for _, s := range []string{"a:1", "[::1]:80", "127.0.0.1:65535", "x:0", ":", "[::ffff:1.2.3.4]:007", "h.:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := static.New([]string{s})
		if err != nil {
			if !errors.Is(err, provider.ErrInvalidConfig) {
				t.Fatalf("New(%q) = %v, want ErrInvalidConfig", s, err)
			}
			return
		}
		addr := reported(t, p)
		q, err := static.New([]string{addr})
		if err != nil {
			t.Fatalf("New(%q) accepted, reported %q, which New rejects: %v", s, addr, err)
		}
		if again := reported(t, q); again != addr {
			t.Fatalf("%q reported as %q, then as %q", s, addr, again)
		}
	})
}

func reported(t *testing.T, p *static.Provider) string {
	t.Helper()
	var got []provider.Member
	if err := p.Start(context.Background(), provider.Member{}, func(ms []provider.Member) { got = ms }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("reported %v, want one member", got)
	}
	return got[0].Address
}
