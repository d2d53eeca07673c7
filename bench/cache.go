package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/golang/groupcache"
	"go.uber.org/zap"

	"github.com/foundation-go/foundation/cache"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/internal/nodeproc"
)

func init() {
	register("cache", "cache: local get vs raw ristretto, partitioned remote get p50 vs groupcache, near hit ratio (Zipf 1.1, 100k keys, 3 members), GetOrCompute computations for 100 callers", runCache)
	register("cache-groupcache-peer", "internal: one groupcache HTTPPool peer for the cache scenario (GC_SELF, GC_PEERS, GC_WARM)", runGroupcachePeer)
}

const (
	cacheMembers   = 3
	cacheValueSize = 100
	cacheRemoteN   = 10_000 // keys of the remote-get comparison
)

func cacheValue(key string) []byte {
	v := make([]byte, cacheValueSize)
	copy(v, key)
	return v
}

// cacheNode is one member of the cache scenario's cluster.
type cacheNode struct {
	ms   *cluster.Membership
	rep  *crdt.Replicator
	host *cache.Host
}

// cacheCluster starts n memberships (development timings, loopback),
// each with a replicator and a cache host.
func cacheCluster(n int) ([]*cacheNode, func(), error) {
	ports, err := nodeproc.FreePorts(n)
	if err != nil {
		return nil, nil, err
	}
	dev := cluster.Development()
	seed := fmt.Sprintf("127.0.0.1:%d", ports[0])
	nodes := make([]*cacheNode, n)
	stop := func() {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			if nd == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if nd.host != nil {
					nd.host.Abort()
				}
				if nd.rep != nil {
					_ = nd.rep.Stop(ctx)
				}
				nd.ms.Abort()
			}()
		}
		wg.Wait()
	}
	for i := range nodes {
		var p fixedSeeds
		if i > 0 {
			p = fixedSeeds{seed}
		}
		ms, err := cluster.NewMembership(cluster.MembershipConfig{
			Cluster: "bench-cache", Secret: []byte("bench-secret-0123456789"),
			Self:                cluster.Member{Address: fmt.Sprintf("127.0.0.1:%d", ports[i])},
			Bind:                fmt.Sprintf("127.0.0.1:%d", ports[i]),
			ProbeInterval:       dev.ProbeInterval,
			ProbeTimeout:        dev.ProbeTimeout,
			GossipInterval:      dev.GossipInterval,
			SuspicionMultiplier: dev.SuspicionMultiplier,
			SplitBrain:          cluster.ResolverConfig{StableAfter: dev.SplitBrain.StableAfter},
			Logger:              zap.NewNop(),
		}, p)
		if err != nil {
			stop()
			return nil, nil, err
		}
		if err := ms.Start(context.Background()); err != nil {
			stop()
			return nil, nil, err
		}
		nodes[i] = &cacheNode{ms: ms}
	}
	if err := waitFor(20*time.Second, func() bool {
		for _, nd := range nodes {
			if v := nd.ms.View(); len(v.Up()) != n || v.Self != cluster.Serving {
				return false
			}
		}
		return true
	}); err != nil {
		stop()
		return nil, nil, err
	}
	for _, nd := range nodes {
		if nd.rep, err = crdt.NewReplicator(nd.ms, crdt.Config{}); err == nil {
			err = nd.rep.Start(context.Background())
		}
		if err == nil {
			nd.host, err = cache.NewHost(nd.ms, nd.rep, nil)
		}
		if err == nil {
			err = nd.host.Start(context.Background())
		}
		if err != nil {
			stop()
			return nil, nil, err
		}
	}
	return nodes, stop, nil
}

// openCaches opens name on every node and waits until each routes over
// all of them.
func openCaches(nodes []*cacheNode, name string, cfg cache.Config) ([]*cache.Cache[string, []byte], error) {
	cs := make([]*cache.Cache[string, []byte], len(nodes))
	for i, nd := range nodes {
		var err error
		if cs[i], err = cache.New(nd.host, name, cache.Bytes(), cfg); err != nil {
			return nil, err
		}
	}
	err := waitFor(20*time.Second, func() bool {
		for _, c := range cs {
			if len(c.Members()) != len(nodes) {
				return false
			}
		}
		return true
	})
	return cs, err
}

func runCache(out *report) error {
	if err := benchLocalGet(out); err != nil {
		return err
	}
	nodes, stop, err := cacheCluster(cacheMembers)
	if err != nil {
		return err
	}
	defer stop()
	ours, err := benchPartitionedGet(out, nodes)
	if err != nil {
		return err
	}
	if err := benchNearHitRatio(out, nodes); err != nil {
		return err
	}
	if err := benchComputeOnce(out, nodes); err != nil {
		return err
	}
	theirs, err := benchGroupcacheGet(out)
	if err != nil {
		return err
	}
	out.figure("groupcache_get_p50_ratio", ours/theirs, "x")
	return nil
}

// benchLocalGet: a Local cache's Get against raw ristretto with the same
// configuration (string keys, []byte values, 10k entries), best of ten
// interleaved rounds each (the best round is the least disturbed by other
// load on the machine).
func benchLocalGet(out *report) error {
	const keys, ops, rounds = 10_000, 500_000, 10
	ks := make([]string, keys)
	for i := range ks {
		ks[i] = fmt.Sprintf("key-%d", i)
	}
	c, err := cache.New[string, []byte](nil, "bench-local", cache.Bytes(), cache.Config{})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	raw, err := ristretto.NewCache(&ristretto.Config[string, []byte]{NumCounters: (64 << 20) / 256, MaxCost: 64 << 20, BufferItems: 64, IgnoreInternalCost: true})
	if err != nil {
		return err
	}
	defer raw.Close()
	ctx := context.Background()
	for _, k := range ks {
		v := cacheValue(k)
		if err := c.Put(ctx, k, v, 0); err != nil {
			return err
		}
		raw.Set(k, v, int64(len(v)+len(k)+64))
	}
	raw.Wait()
	bestOurs, bestRaw := time.Duration(1<<62), time.Duration(1<<62)
	misses := 0
	for range rounds {
		t0 := time.Now()
		for i := range ops {
			if _, ok := raw.Get(ks[i%keys]); !ok {
				misses++
			}
		}
		bestRaw = min(bestRaw, time.Since(t0))
		t0 = time.Now()
		for i := range ops {
			if _, ok, _ := c.Get(ctx, ks[i%keys]); !ok {
				misses++
			}
		}
		bestOurs = min(bestOurs, time.Since(t0))
	}
	if misses > 0 {
		return fmt.Errorf("local get: %d misses on loaded keys", misses)
	}
	ns := float64(bestOurs.Nanoseconds()) / ops
	out.figure("cache_local_get_ns", ns, "ns/op")
	out.figure("cache_ristretto_get_ns", float64(bestRaw.Nanoseconds())/ops, "ns/op")
	out.figure("cache_local_get_ratio", float64(bestOurs)/float64(bestRaw), "x")
	return nil
}

// benchPartitionedGet: Gets from member 0 of keys owned by the other
// members (Partitioned, no near cache), one Get per key, 100-byte
// values: the p50 of a remote owner's hit. Returns it in µs.
func benchPartitionedGet(out *report, nodes []*cacheNode) (float64, error) {
	cs, err := openCaches(nodes, "bench-partitioned", cache.Config{Tier: cache.Partitioned})
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	self := nodes[0].ms.Self().ID
	var remote []string
	for i := range cacheRemoteN {
		k := fmt.Sprintf("key-%d", i)
		owner := cs[0].Owner(k)
		if owner == self {
			continue
		}
		remote = append(remote, k)
		for j, nd := range nodes { // written by its owner
			if nd.ms.Self().ID == owner {
				if err := cs[j].Put(ctx, k, cacheValue(k), 0); err != nil {
					return 0, err
				}
			}
		}
	}
	lat := make([]time.Duration, 0, len(remote))
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range remote {
		t0 := time.Now()
		v, ok, err := cs[0].Get(ctx, k)
		lat = append(lat, time.Since(t0))
		if err != nil || !ok || len(v) != cacheValueSize {
			return 0, fmt.Errorf("partitioned get %q: %v, %v", k, ok, err)
		}
		if time.Now().After(deadline) {
			break
		}
	}
	p50 := float64(pct(lat, 50).Nanoseconds()) / 1e3
	out.figure("cache_partitioned_get_p50_us", p50, "µs")
	out.figure("cache_partitioned_get_p99_us", float64(pct(lat, 99).Nanoseconds())/1e3, "µs")
	return p50, nil
}

// benchNearHitRatio: a Multilevel cache on 3 members, each reading a
// Zipf(1.1) stream over 100k keys with GetOrCompute (a miss computes the
// value): the share of reads served by the near cache.
func benchNearHitRatio(out *report, nodes []*cacheNode) error {
	const keys, perMember = 100_000, 100_000
	cs, err := openCaches(nodes, "bench-near", cache.Config{Tier: cache.Multilevel, NearTTL: time.Minute})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(cs))
	deadline := time.Now().Add(60 * time.Second)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			z := rand.NewZipf(rand.New(rand.NewSource(int64(i+1))), 1.1, 1, keys-1)
			ctx := context.Background()
			for n := 0; n < perMember && time.Now().Before(deadline); n++ {
				k := fmt.Sprintf("key-%d", z.Uint64())
				if _, err := c.GetOrCompute(ctx, k, func(context.Context) ([]byte, error) { return cacheValue(k), nil }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	var near, reads uint64
	for _, c := range cs {
		s := c.Stats()
		near += s.Near
		reads += s.Hits + s.Misses
	}
	out.figure("cache_near_hit_ratio", float64(near)/float64(reads), "")
	return nil
}

// benchComputeOnce: 100 concurrent GetOrCompute callers spread over the 3
// members, on one key: how many computations ran.
func benchComputeOnce(out *report, nodes []*cacheNode) error {
	cs, err := openCaches(nodes, "bench-compute", cache.Config{Tier: cache.Multilevel})
	if err != nil {
		return err
	}
	var runs atomic.Int32
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var failed atomic.Int32
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cs[i%len(cs)].GetOrCompute(ctx, "the-key", func(context.Context) ([]byte, error) {
				runs.Add(1)
				time.Sleep(100 * time.Millisecond) // a slow computation: the callers pile up
				return cacheValue("the-key"), nil
			})
			if err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("getorcompute: %d callers failed", failed.Load())
	}
	out.figure("cache_getorcompute_computations", float64(runs.Load()), "")
	return nil
}

// benchGroupcacheGet: the partitioned workload on groupcache: three
// HTTPPool peers on 127.0.0.1 (this process and two child processes: an
// HTTPPool is one per process), default HTTP transport with keep-alive;
// the children load every key into the owners' main caches; this process
// then Gets each key owned by another peer once (no hot-cache copies yet).
func benchGroupcacheGet(out *report) (float64, error) {
	ports, err := nodeproc.FreePorts(cacheMembers)
	if err != nil {
		return 0, err
	}
	var peers []string
	for _, p := range ports {
		peers = append(peers, fmt.Sprintf("http://127.0.0.1:%d", p))
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	var children []*exec.Cmd
	defer func() {
		for _, c := range children {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	pool := groupcache.NewHTTPPoolOpts(peers[0], &groupcache.HTTPPoolOptions{})
	pool.Set(peers...)
	g := groupcache.NewGroup("bench", 64<<20, groupcache.GetterFunc(func(_ context.Context, key string, dest groupcache.Sink) error {
		return dest.SetBytes(cacheValue(key))
	}))
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: pool, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	for i := 1; i < cacheMembers; i++ {
		cmd := exec.Command(self, "cache-groupcache-peer")
		cmd.Env = append(os.Environ(), "GC_SELF="+peers[i], "GC_PEERS="+strings.Join(peers, ","), fmt.Sprintf("GC_WARM=%d", cacheRemoteN))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return 0, err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		children = append(children, cmd)
		ready := make(chan bool, 1)
		go func() {
			s := bufio.NewScanner(stdout)
			ok := false
			for s.Scan() {
				if s.Text() == "ready" && !ok {
					ok = true
					ready <- true
				}
			}
			if !ok {
				ready <- false
			}
		}()
		select {
		case ok := <-ready:
			if !ok {
				return 0, fmt.Errorf("groupcache peer %d exited", i)
			}
		case <-time.After(60 * time.Second):
			return 0, fmt.Errorf("groupcache peer %d not ready", i)
		}
	}
	ctx := context.Background()
	var lat []time.Duration
	deadline := time.Now().Add(30 * time.Second)
	for i := range cacheRemoteN {
		k := fmt.Sprintf("key-%d", i)
		if _, remote := pool.PickPeer(k); !remote {
			continue
		}
		var v []byte
		t0 := time.Now()
		err := g.Get(ctx, k, groupcache.AllocatingByteSliceSink(&v))
		lat = append(lat, time.Since(t0))
		if err != nil || len(v) != cacheValueSize {
			return 0, fmt.Errorf("groupcache get %q: %v", k, err)
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if st := g.Stats; st.Loads.Get() > 0 && st.LocalLoads.Get() > 0 {
		return 0, fmt.Errorf("groupcache: %d keys were computed here, not read from their owner", st.LocalLoads.Get())
	}
	p50 := float64(pct(lat, 50).Nanoseconds()) / 1e3
	out.figure("groupcache_get_p50_us", p50, "µs")
	out.figure("groupcache_get_p99_us", float64(pct(lat, 99).Nanoseconds())/1e3, "µs")
	return p50, nil
}

// runGroupcachePeer is one child groupcache peer: it serves its HTTPPool,
// loads keys key-0..GC_WARM-1 (each lands in its owner's main cache),
// prints "ready" and serves until killed.
func runGroupcachePeer(*report) error {
	selfURL, peers := os.Getenv("GC_SELF"), strings.Split(os.Getenv("GC_PEERS"), ",")
	var warm int
	fmt.Sscan(os.Getenv("GC_WARM"), &warm)
	pool := groupcache.NewHTTPPoolOpts(selfURL, &groupcache.HTTPPoolOptions{})
	pool.Set(peers...)
	g := groupcache.NewGroup("bench", 64<<20, groupcache.GetterFunc(func(_ context.Context, key string, dest groupcache.Sink) error {
		return dest.SetBytes(cacheValue(key))
	}))
	ln, err := net.Listen("tcp", strings.TrimPrefix(selfURL, "http://"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: pool, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	// Load the keys this peer owns (the other peer loads its own; the
	// measuring process loads its own keys on first use, which it skips).
	for i := range warm {
		k := fmt.Sprintf("key-%d", i)
		if _, remote := pool.PickPeer(k); remote {
			continue
		}
		var v []byte
		if err := g.Get(context.Background(), k, groupcache.AllocatingByteSliceSink(&v)); err != nil {
			return err
		}
	}
	fmt.Println("ready")
	select {} // until the parent kills it
}
