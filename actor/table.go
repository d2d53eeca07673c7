package actor

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// table holds the state that outlives a single message and is shared between
// processes: links, monitors, registered names and groups. It is sharded by
// PID id; no operation holds two shard locks at once. A process that never
// links, monitors, registers or joins costs nothing here.
type table struct {
	seed   maphash.Seed
	shards [64]shard
	refs   atomic.Uint64

	namesMu sync.Mutex
	names   map[string]*PID

	groupsMu sync.Mutex
	groups   map[string]map[string]*PID // group -> pid key -> pid
}

type shard struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	links       map[string]*PID // pid key -> linked pid
	monitoredBy map[uint64]*PID // ref -> watcher
	monitoring  map[uint64]*PID // refs this process holds -> their targets
	names       []string
	groups      []string
	killed      bool  // Kill was called: exit reason is Killed
	crash       error // a panic the engine caught
	owned       bool  // spawned linked to another process, which stops it
}

func (t *table) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].m = make(map[string]*entry)
	}
	t.names = make(map[string]*PID)
	t.groups = make(map[string]map[string]*PID)
}

func key(pid *PID) string { return pid.Address + "\x00" + pid.Id }

func (t *table) shard(k string) *shard {
	return &t.shards[maphash.String(t.seed, k)%uint64(len(t.shards))]
}

// with runs f on pid's entry under its shard lock, creating the entry, if
// alive(pid) holds under that lock; it reports whether it did. Checking
// liveness under the lock is what makes a dying process (which takes its
// entry after leaving the engine registry) and a concurrent Link or Monitor
// agree: either the entry is made before the take, or the pid is seen dead.
func (t *table) with(pid *PID, alive func(*PID) bool, f func(e *entry)) bool {
	k := key(pid)
	sh := t.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !alive(pid) {
		return false
	}
	e := sh.m[k]
	if e == nil {
		e = &entry{}
		sh.m[k] = e
	}
	f(e)
	return true
}

// peek runs f on pid's entry if it exists.
func (t *table) peek(pid *PID, f func(e *entry)) {
	k := key(pid)
	sh := t.shard(k)
	sh.mu.Lock()
	if e := sh.m[k]; e != nil {
		f(e)
	}
	sh.mu.Unlock()
}

// take removes and returns pid's entry (nil if none).
func (t *table) take(pid *PID) *entry {
	k := key(pid)
	sh := t.shard(k)
	sh.mu.Lock()
	e := sh.m[k]
	delete(sh.m, k)
	sh.mu.Unlock()
	return e
}
