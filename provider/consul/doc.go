// Package consul is a discovery back-end on a Consul agent's service
// catalog: each member registers itself as an instance of one Consul
// service with a TTL check it keeps passing, and learns the other members
// from the service's healthy instances.
//
// # What is registered
//
// A member with id "m1", address 10.0.0.1:7000, cluster "shop" and
// Config.Service "shop" registers, through its local agent's HTTP API:
//
//	ID       shop-m1
//	Name     shop
//	Address  10.0.0.1        (none for 0.0.0.0 or ::: the node's address is used)
//	Port     7000
//	Meta     id=m1 cluster=shop kinds=cart,user version=v1 auth=…
//	Check    CheckID service:shop-m1, TTL Config.TTL, registered passing,
//	         DeregisterCriticalServiceAfter Config.DeregisterAfter
//
// auth is provider.Sign of the announced member when Config.Secret is set;
// kinds longer than one meta value (512 bytes) continue in kinds-2,
// kinds-3, … .
//
// # Keeping the registration
//
// Start registers the member and passes its check at once, retrying up to
// Config.StartRetries times; then one goroutine passes the check every
// TTL/3. When the agent answers that it does not know the check (404, or
// the 500 "does not have associated TTL" of an agent that restarted without
// its state, or after an operator deregistered the member), that goroutine
// registers the member again. Other errors are retried with exponential
// backoff between Config.RetryMin and Config.RetryMax, never less often
// than every TTL/3; the first failure of a run is logged at warn level and
// the recovery at info level, nothing in between.
//
// # Watching the members
//
// A second goroutine follows the service's passing instances with Consul
// blocking queries (GET /v1/health/service/<Service>?passing&index=…&wait=…):
// each query returns as soon as the catalog changes, or after
// Config.WaitTime unchanged — the provider does not poll. It follows
// Consul's rules for blocking queries: an index that goes backwards resets
// the loop to 0, an index of 0 is replaced by 1, and two queries start at
// least Config.RetryMin apart. After an error the next query starts from
// index 0 too, so that an agent that restarted (and whose index started
// again) is caught up with at once. Each answer is converted into members (the
// address is the service's address, or the node's, with the service's
// port; id, cluster, kinds, version and auth come from the meta); instances
// of other clusters are left out, and with Config.Secret set so are those
// whose auth does not verify (logged once per member). update is called
// with the whole set, self included, whenever it differs from the last one
// reported.
//
// # Leaving
//
// Stop first ends both goroutines — so nothing can renew or re-register the
// member any more — and then deregisters it, so that the other members'
// blocking queries return without it at once: no ghost member is left
// behind. Stop returns within one second (StopTimeout) even when the agent
// does not answer; the agent then removes the instance by itself, its check
// turning critical TTL after the last renewal (the member drops out of the
// others' sets then) and the registration removed DeregisterAfter later.
// A member that crashes is removed the same way.
//
// # Testing
//
// Package consultest serves the same HTTP API in process, with TTL expiry,
// blocking queries and fault injection (errors, delays, an agent restart).
package consul
