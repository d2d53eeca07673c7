package cache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/foundation-go/foundation/internal/frame"
	"github.com/foundation-go/foundation/internal/protos"
)

// Dump writes the cache's entries to w, as length-prefixed protobuf
// CacheEntry frames with their expiry: the Local store's, or, for a
// distributed tier, the entries each hosting member owns, asked of every
// one of them (a member that does not answer fails the Dump: a backup is
// all or nothing). Load puts them back through their owners.
func (c *Cache[K, V]) Dump(ctx context.Context, w io.Writer) error {
	if c.closed.Load() {
		return ErrClosed
	}
	bw := bufio.NewWriter(w)
	var buf []byte
	var err error
	emit := func(e *protos.CacheEntry) bool {
		if err = ctx.Err(); err != nil {
			return false
		}
		buf, err = frame.Append(buf[:0], e, maxFrame)
		if err == nil {
			_, err = bw.Write(buf)
		}
		return err == nil
	}
	if c.cfg.Tier == Local {
		c.local.each(func(it *item[V]) bool {
			if it.err != "" {
				return true
			}
			var b []byte
			if b, err = c.codec.Encode(it.val); err != nil {
				err = codecErr("value", err)
				return false
			}
			return emit(&protos.CacheEntry{Key: it.key, Value: b, ExpireUnixNano: it.exp, TtlNanos: it.ttl, Version: it.ver, Found: true})
		})
	} else if derr := c.dumpMembers(ctx, emit); err == nil {
		err = derr // else emit's own error
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// dumpMembers pages through the entries every hosting member owns.
func (c *Cache[K, V]) dumpMembers(ctx context.Context, emit func(*protos.CacheEntry) bool) error {
	seen := map[string]bool{}
	for _, m := range c.r.topo.Load().members {
		after := ""
		for {
			rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
			resp, err := c.h.do(rctx, m, &protosRequest{Cache: c.name, Op: opEntries, Keys: []string{after}})
			cancel()
			if err != nil {
				return fmt.Errorf("%w: dumping member %s's entries: %v", ErrUnavailable, m, err)
			}
			if resp.Status != statusOK {
				return fmt.Errorf("%w: dumping member %s's entries: %s", ErrUnavailable, m, resp.Error)
			}
			for _, e := range resp.Entries {
				if seen[e.Key] { // views that disagree: two owners of a key
					continue
				}
				seen[e.Key] = true
				if !emit(e) {
					return errors.New("cache: dump stopped") // Dump reports emit's error
				}
			}
			if !resp.Changed || len(resp.Entries) == 0 {
				break
			}
			after = resp.Entries[len(resp.Entries)-1].Key
		}
	}
	return nil
}

// Load puts the entries Dump wrote back into the cache, with the time to
// live they had left; expired ones are skipped.
func (c *Cache[K, V]) Load(ctx context.Context, r io.Reader) error {
	if c.closed.Load() {
		return ErrClosed
	}
	br := bufio.NewReader(r)
	now := time.Now().UnixNano()
	byOwner := map[string][]*protos.CacheEntry{}
	size := 0
	flush := func() error {
		err := c.putEntries(ctx, byOwner)
		clear(byOwner)
		size = 0
		return err
	}
	for {
		e := &protos.CacheEntry{}
		err := frame.Read(br, e, maxFrame)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: reading a dump: %v", ErrCodec, err)
		}
		if e.ExpireUnixNano != 0 && e.ExpireUnixNano <= now {
			continue
		}
		var ttl time.Duration
		if e.ExpireUnixNano != 0 {
			ttl = time.Duration(e.ExpireUnixNano - now)
		}
		if len(e.Value) > c.cfg.MaxValueSize {
			return fmt.Errorf("%w: key %q: %d bytes, over Config.MaxValueSize %d", ErrTooLarge, e.Key, len(e.Value), c.cfg.MaxValueSize)
		}
		if c.cfg.Tier == Local {
			v, err := c.decode(e.Value)
			if err != nil {
				return err
			}
			c.local.put(e.Key, v, int64(len(e.Value)), ttl, protos.CachePutMode_CACHE_PUT_ALWAYS, c.clk.next())
			continue
		}
		e.TtlNanos, e.ExpireUnixNano, e.Version = int64(ttl), 0, 0
		o := c.r.topo.Load().owner(e.Key)
		byOwner[o] = append(byOwner[o], e)
		if size += len(e.Value); size > handoffBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
