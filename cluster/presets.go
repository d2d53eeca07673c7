package cluster

import (
	"reflect"
	"time"

	"github.com/foundation-go/foundation/provider/consul"
	"github.com/foundation-go/foundation/provider/dns"
	"github.com/foundation-go/foundation/provider/etcd"
	"github.com/foundation-go/foundation/provider/mdns"
)

// productionBase is the one configuration every preset derives from: real
// hosts on a LAN. Development and Enterprise change only what differs, each
// change next to its reason.
func productionBase() Config {
	return Config{
		Name:     "foundation",
		Profile:  ProfileProduction,
		Provider: ProviderAuto,

		// Members run on different hosts: accept peers on every interface.
		Host: "0.0.0.0",
		// A fixed port, so that seed lists, firewall rules and container
		// port specs can name it.
		Port: 7350,
		// The port after Port, fixed for the same reasons: one firewall
		// rule covers both.
		ClusterPort: 7351,

		// Each member probes one peer every 500ms: the load per member is
		// the same whatever the cluster's size, and a crashed member is
		// probed by someone within about one interval.
		ProbeInterval: 500 * time.Millisecond,
		// An ack across a LAN takes well under a millisecond: 300ms rides
		// out a short GC pause of the probed member and leaves 200ms of the
		// interval for the indirect probes.
		ProbeTimeout: 300 * time.Millisecond,
		// memberlist's LAN value: news reaches every member within a few
		// rounds (about log N) of 200ms.
		GossipInterval: 200 * time.Millisecond,
		// A suspected member has 2 probe intervals (1s up to 10 members,
		// 2s at 100) to refute the suspicion; with the probe and
		// stable-after, a member must be silent about 2s before it is
		// downed, which rides out GC pauses and network hiccups while a
		// lost host is still removed in under 3s (memberlist's LAN value,
		// 4, would take 4s).
		SuspicionMultiplier: 2,
		// Reaching a seed across a real network: DNS, TCP and TLS
		// handshakes, the member list, with retries.
		JoinTimeout: 10 * time.Second,
		// A graceful leave announces itself and moves on: stopping must not
		// hang on peers that do not answer.
		LeaveTimeout: time.Second,
		SplitBrain: SplitBrainConfig{
			// Needs no other setting and suits any cluster size.
			Strategy: SplitBrainKeepMajority,
			// One probe interval with no change to the unreachable set:
			// SWIM has already waited out its suspicion timeout, and the
			// members of one side learn each other's verdicts within a
			// gossip round or two. A lost host is removed about 2.3s after
			// it vanished (0.25s until probed, 0.5s of probing, 1s of
			// suspicion, 0.2s of gossip, then this). A member cut off from
			// the others fences itself within about one probe interval of
			// its own failed probe, well before.
			StableAfter: 500 * time.Millisecond,
			Lease: SplitBrainLeaseConfig{
				// Outlives an etcd leader election or an API server
				// restart (seconds), so that the holder keeps the lease
				// through one; a crashed holder frees it within 10s.
				TTL: 10 * time.Second,
				// Many round trips to etcd or the API server: the majority
				// side, which tries at once, has taken the lease long before
				// the minority side tries.
				AcquireDelay: 2 * time.Second,
			},
		},

		MDNS: mdns.Config{
			// The DNS-SD service type of Foundation members.
			Service: "_foundation._tcp",
			// The link-local mDNS domain (RFC 6762).
			Domain: "local.",
			// A new member is seen within a second on the local network.
			AnnounceInterval: time.Second,
			// Three announcements missed before discovery forgets a member;
			// the failure detector normally notices first.
			ExpireAfter: 3 * time.Second,
		},
		Consul: consul.Config{
			// The Consul agent's default HTTP address.
			Address: "127.0.0.1:8500",
			// Consul drives discovery only (failures are the failure detector's
			// job): a 10s check keeps the agent's load low.
			TTL: 10 * time.Second,
			// Consul's minimum for DeregisterCriticalServiceAfter; a crashed
			// member's registration is gone a minute later.
			DeregisterAfter: time.Minute,
		},
		DNS: dns.Config{
			// Records change when pods become ready; finding new members
			// within 5s is enough, and failures are the failure detector's job.
			Interval: 5 * time.Second,
		},
		Etcd: etcd.Config{
			// One namespace for every Foundation cluster in an etcd.
			Prefix: "/foundation/",
			// Outlives an etcd leader election (about 1s by default), so
			// members' keys survive one; keep-alives go every TTL/3.
			LeaseTTL: 10 * time.Second,
		},
		// Info is what an operator reads; debug is opt-in.
		LogLevel: "info",
		Telemetry: TelemetryConfig{
			// The port after ClusterPort, fixed so that Prometheus's
			// scrape configs and Kubernetes probes can name it; the
			// member's host.
			Address: ":7352",
			// Counting costs a few nanoseconds per batch of messages
			// (BENCHMARKS.md): always worth it.
			Metrics: TelemetryOn,
			// Follow the traces that callers sampled (an HTTP front, the
			// operator's debug mode) and start none: free for calls made
			// outside a trace, which is most of them.
			Tracing: TelemetryFollow,
			// With tracing on, one trace in a hundred: enough to see the
			// shape of the traffic at a small cost.
			SampleRatio: 0.01,
			// A few seconds of spans of a busy member, hours of a quiet
			// one; a span costs about 500 bytes.
			RecorderSize: 4096,
			Advisor:      TelemetryRecommend,
		},
	}
}

// Production returns the production preset: real hosts on a network, a
// fixed port, timings that tolerate GC pauses and network jitter (a crashed
// member is removed about 4s after it crashed, in clusters of up to 10
// members). Secret must be set.
func Production() Config { return productionBase() }

// Development returns the development preset: one machine, loopback only,
// a free port per member, timings fast enough that tests and local restarts
// see membership change within about two thirds of a second. Secret may be
// empty.
func Development() Config {
	c := productionBase()
	c.Profile = ProfileDevelopment
	// Never expose a development member to the network.
	c.Host = "127.0.0.1"
	// Several members on one machine must not clash: pick a free port.
	c.Port = 0
	// The same for the cluster port.
	c.ClusterPort = 0
	// Loopback has no latency: probe ten times a second.
	c.ProbeInterval = 100 * time.Millisecond
	// An ack over loopback takes microseconds: 60ms still absorbs a
	// scheduling hiccup on a loaded test machine and leaves 40ms of the
	// interval for the indirect probes.
	c.ProbeTimeout = 60 * time.Millisecond
	// News spreads in a few 50ms rounds: tests see joins and failures
	// almost at once.
	c.GossipInterval = 50 * time.Millisecond
	// memberlist's local value: 300ms (three probe intervals) to refute a
	// suspicion on one machine.
	c.SuspicionMultiplier = 3
	// On one machine an unreachable member is dead, not partitioned:
	// decide soon (failover ≈ 0.65s: 0.1s until probed, 0.3s of
	// suspicion, then this; a killed member's port refuses at once and it
	// is removed within a probe interval).
	c.SplitBrain.StableAfter = 250 * time.Millisecond
	// Seeds are on the same machine: if joining takes longer than 2s,
	// something is wrong; say so quickly.
	c.JoinTimeout = 2 * time.Second
	// Several members on one machine: a free port each, on Host.
	c.Telemetry.Address = ":0"
	// A developer wants to see every call's trace on the dashboard.
	c.Telemetry.Tracing = TelemetryOn
	c.Telemetry.SampleRatio = 1
	return c
}

// Enterprise returns the enterprise preset: production with mutual TLS
// required (TLS must be set) and failure detection about twice as fast, for
// a provisioned low-latency network with a tight failover budget (a lost
// member is removed about 1.3s after it vanished, in clusters of up to 10
// members).
func Enterprise() Config {
	c := productionBase()
	c.Profile = ProfileEnterprise
	// Four probes a second per member: affordable on a provisioned network.
	c.ProbeInterval = 250 * time.Millisecond
	// Production's ratio to the interval: 100ms left for indirect probes.
	c.ProbeTimeout = 150 * time.Millisecond
	// Twice production's rate, like the probes.
	c.GossipInterval = 100 * time.Millisecond
	// Failover ≈ 1.3s (0.125s until probed, 0.25s of probing, 0.5s of
	// suspicion, then this) instead of production's 2.5s.
	c.SplitBrain.StableAfter = 500 * time.Millisecond
	return c
}

// Preset returns the preset of profile p; "" means development. An unknown
// profile yields the development values with Profile left as p, so that
// Validate reports it.
func Preset(p Profile) Config {
	switch p {
	case ProfileProduction:
		return Production()
	case ProfileEnterprise:
		return Enterprise()
	case "", ProfileDevelopment:
		return Development()
	}
	c := Development()
	c.Profile = p
	return c
}

// WithDefaults returns a copy of c whose zero fields are filled from
// Preset(c.Profile) (development when Profile is empty). It does not modify
// c, and the copy shares no slice or map with c.
func (c Config) WithDefaults() Config {
	out := Preset(c.Profile)
	src := reflect.ValueOf(c)
	mergeConfigFields(reflect.ValueOf(&out).Elem(), src, src, func(v, _ reflect.Value) bool { return !v.IsZero() })
	return out
}

// clone returns a deep copy of c.
func (c Config) clone() Config {
	var out Config
	src := reflect.ValueOf(c)
	mergeConfigFields(reflect.ValueOf(&out).Elem(), src, src, func(reflect.Value, reflect.Value) bool { return true })
	return out
}

// mergeConfigFields walks dst, a and b — values of one struct type — in
// step, and sets every field of dst that is not itself a struct to a copy of
// a's field when take(a's field, b's field) is true. Config's nested structs
// hold only exported fields, which is what makes this walk valid.
func mergeConfigFields(dst, a, b reflect.Value, take func(a, b reflect.Value) bool) {
	for i := range dst.NumField() {
		d, x, y := dst.Field(i), a.Field(i), b.Field(i)
		if d.Kind() == reflect.Struct {
			mergeConfigFields(d, x, y, take)
			continue
		}
		if take(x, y) {
			d.Set(cloneConfigValue(x))
		}
	}
}

// cloneConfigValue copies slices and maps so that no two Configs share them.
func cloneConfigValue(v reflect.Value) reflect.Value {
	switch {
	case v.Kind() == reflect.Slice && !v.IsNil():
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(out, v)
		return out
	case v.Kind() == reflect.Map && !v.IsNil():
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), it.Value())
		}
		return out
	}
	return v
}
