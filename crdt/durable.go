package crdt

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
)

// Durable keys are kept in a bbolt database (Config.Durable.Path), one
// record per key in bucket "crdt": the key's envelope (a CRDTEntry: its full
// state and pruning markers). A local update of a durable key is written
// before Update returns (or, with WriteBehind, within that interval);
// states merged from peers are written behind, within BatchWindow, and
// before a WRITE is acknowledged. Start restores every record, so a member
// restarted on its file — or a whole cluster restarted — has its keys
// back. A record is an 8-byte version (big-endian) and the envelope; a
// write replaces a record only with a newer version, so concurrent writers
// never put an older state on disk.

var boltBucket = []byte("crdt")

func (r *Replicator) openDurable() error {
	db, err := bolt.Open(r.cfg.Durable.Path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("crdt: opening durable store %s: %w", r.cfg.Durable.Path, err)
	}
	now := r.now()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(boltBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			w := &protos.CRDTEntry{}
			if len(v) < 8 || proto.Unmarshal(v[8:], w) != nil || w.Key != string(k) {
				r.log.Warn("crdt: skipping a malformed durable record")
				return nil
			}
			if _, err := r.st.apply(w, now); err != nil {
				r.log.Warn("crdt: skipping a durable record: " + err.Error())
				return nil
			}
			if e := r.st.entries[w.Key]; e != nil {
				e.ver = max(e.ver, binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("crdt: reading durable store %s: %w", r.cfg.Durable.Path, err)
	}
	// What was just read is on disk already; digests and subscribers
	// still see it as changed.
	clear(r.st.persist)
	clear(r.st.pending)
	r.db = db
	return nil
}

func (r *Replicator) closeDurable() {
	if r.db != nil {
		_ = r.db.Close()
		r.db = nil
	}
}

type durableRec struct {
	id  string
	e   *entry
	ver uint64
	b   []byte
}

// persistSync writes e now when it is durable and writes are not behind.
func (r *Replicator) persistSync(e *entry) error {
	if r.db == nil || e == nil || !e.durable || r.cfg.Durable.WriteBehind > 0 {
		return nil
	}
	return r.persistPending()
}

// persistPending writes every durable entry changed since its last write
// (and deletes the records of expired ones).
func (r *Replicator) persistPending() error {
	if r.db == nil {
		return nil
	}
	r.mu.Lock()
	if len(r.st.persist) == 0 && len(r.st.gone) == 0 {
		r.mu.Unlock()
		return nil
	}
	recs := make([]durableRec, 0, len(r.st.persist))
	for e := range r.st.persist {
		w, err := r.st.wire(e)
		if err != nil {
			continue
		}
		b, err := proto.Marshal(w)
		if err != nil {
			continue
		}
		rec := make([]byte, 8, 8+len(b))
		binary.BigEndian.PutUint64(rec, e.ver)
		recs = append(recs, durableRec{id: e.id, e: e, ver: e.ver, b: append(rec, b...)})
	}
	clear(r.st.persist)
	var gone []string
	for id := range r.st.gone {
		if r.st.entries[id] == nil {
			gone = append(gone, id)
		}
	}
	clear(r.st.gone)
	r.mu.Unlock()
	err := r.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for _, rec := range recs {
			if old := b.Get([]byte(rec.id)); len(old) >= 8 && binary.BigEndian.Uint64(old) >= rec.ver {
				continue
			}
			if err := b.Put([]byte(rec.id), rec.b); err != nil {
				return err
			}
		}
		for _, id := range gone {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Try again with the next write.
		r.mu.Lock()
		for _, rec := range recs {
			r.st.persist[rec.e] = struct{}{}
		}
		r.mu.Unlock()
		return fmt.Errorf("crdt: writing durable keys: %w", err)
	}
	return nil
}
