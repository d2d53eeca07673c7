package cluster

import (
	"reflect"
	"time"
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

		// Two probes a second per peer: cheap even with hundreds of
		// members, and frequent enough that SuspectAfter sees four of them.
		HeartbeatInterval: 500 * time.Millisecond,
		// Four missed heartbeats: rides out a GC pause or a network hiccup
		// of about 1.5s without a false alarm.
		SuspectAfter: 2 * time.Second,
		// A process restart takes longer than a network blip: a member back
		// within 5s keeps its grains; after that they move (failover ≈ 7s).
		RemoveAfter: 5 * time.Second,
		// Reaching a seed across a real network: DNS, TCP and TLS
		// handshakes, the member list, with retries.
		JoinTimeout: 10 * time.Second,
		// A graceful leave announces itself and moves on: stopping must not
		// hang on peers that do not answer.
		LeaveTimeout: time.Second,

		MDNS: MDNSConfig{
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
		Consul: ConsulConfig{
			// The Consul agent's default HTTP address.
			Address: "127.0.0.1:8500",
			// Consul drives discovery only (failures are the heartbeats'
			// job): a 10s check keeps the agent's load low.
			TTL: 10 * time.Second,
			// Consul's minimum for DeregisterCriticalServiceAfter; a crashed
			// member's registration is gone a minute later.
			DeregisterAfter: time.Minute,
		},
		DNS: DNSConfig{
			// Records change when pods become ready; finding new members
			// within 5s is enough, and failures are the heartbeats' job.
			Interval: 5 * time.Second,
		},
		Etcd: EtcdConfig{
			// One namespace for every Foundation cluster in an etcd.
			Prefix: "/foundation/",
			// Outlives an etcd leader election (about 1s by default), so
			// members' keys survive one; keep-alives go every TTL/3.
			LeaseTTL: 10 * time.Second,
		},
		// Info is what an operator reads; debug is opt-in.
		LogLevel: "info",
	}
}

// Production returns the production preset: real hosts on a network, a
// fixed port, timings that tolerate GC pauses and network jitter (a crashed
// member is removed about 7s after its last heartbeat). Secret must be set.
func Production() Config { return productionBase() }

// Development returns the development preset: one machine, loopback only,
// a free port per member, timings fast enough that tests and local restarts
// see membership change within half a second. Secret may be empty.
func Development() Config {
	c := productionBase()
	c.Profile = ProfileDevelopment
	// Never expose a development member to the network.
	c.Host = "127.0.0.1"
	// Several members on one machine must not clash: pick a free port.
	c.Port = 0
	// Loopback has no latency: probe ten times a second.
	c.HeartbeatInterval = 100 * time.Millisecond
	// Three heartbeats (the minimum allowed is two).
	c.SuspectAfter = 300 * time.Millisecond
	// On one machine an unreachable member is dead, not partitioned:
	// remove it at once (failover ≈ 0.5s).
	c.RemoveAfter = 200 * time.Millisecond
	// Seeds are on the same machine: if joining takes longer than 2s,
	// something is wrong; say so quickly.
	c.JoinTimeout = 2 * time.Second
	return c
}

// Enterprise returns the enterprise preset: production with mutual TLS
// required (TLS must be set) and failure detection twice as fast, for a
// provisioned low-latency network with a tight failover budget (a crashed
// member is removed about 4s after its last heartbeat).
func Enterprise() Config {
	c := productionBase()
	c.Profile = ProfileEnterprise
	// Four probes a second per peer: affordable on a provisioned network.
	c.HeartbeatInterval = 250 * time.Millisecond
	// Four missed heartbeats, the same ratio as production.
	c.SuspectAfter = time.Second
	// Failover budget ≈ 4s instead of production's 7s.
	c.RemoveAfter = 3 * time.Second
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
