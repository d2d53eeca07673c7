package crdt

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
)

// Export returns the full state of every key matching pattern ("*" or ""
// for all, "prefix/*" for a prefix), deleted keys included, encoded as one
// snapshot for Import: what a backup keeps. It reads this replica only (run
// a Majority Get first, or export from several members, when a write may
// not have reached it). n is the number of keys.
func (r *Replicator) Export(pattern string) (data []byte, n int, err error) {
	if pattern == "" {
		pattern = "*"
	}
	r.mu.Lock()
	if r.st == nil {
		r.mu.Unlock()
		return nil, 0, ErrStopped
	}
	snap := &protos.CRDTSnapshot{}
	ids := make([]string, 0, len(r.st.entries))
	for id := range r.st.entries {
		if matchPattern(pattern, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		w, err := r.st.wire(r.st.entries[id])
		if err != nil {
			r.mu.Unlock()
			return nil, 0, fmt.Errorf("crdt: exporting %q: %w", id, err)
		}
		snap.Entries = append(snap.Entries, w)
	}
	r.mu.Unlock()
	data, err = proto.MarshalOptions{Deterministic: true}.Marshal(snap)
	if err != nil {
		return nil, 0, err
	}
	return data, len(snap.Entries), nil
}

// ErrBadSnapshot: Import was given bytes Export did not write (or a
// snapshot with a malformed key or value). Nothing was imported.
var ErrBadSnapshot = errors.New("crdt: not a valid snapshot")

// Import merges a snapshot Export wrote into this replica, each key as if a
// peer had sent its full state: merged with what is here (never replacing
// it), deleted keys deleted, durable keys written to disk, subscribers
// told. The merged keys are then pushed to every member, and anti-entropy
// repairs a member the push missed. The snapshot is decoded and checked in
// full before anything is applied: a malformed one returns ErrBadSnapshot
// and changes nothing. A key whose type here differs from the snapshot's is
// skipped and reported (ErrKeyType) after the rest were applied. n is the
// number of keys applied.
func (r *Replicator) Import(ctx context.Context, data []byte) (n int, err error) {
	var snap protos.CRDTSnapshot
	if err := proto.Unmarshal(data, &snap); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	for _, w := range snap.Entries {
		if err := checkKeyID(w.Key); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
		}
		if w.Delta {
			return 0, fmt.Errorf("%w: key %q holds a delta, not a full state", ErrBadSnapshot, w.Key)
		}
		if len(w.Data) > 0 {
			if _, err := decodeRaw(w.Data); err != nil {
				return 0, fmt.Errorf("%w: key %q: %w", ErrBadSnapshot, w.Key, err)
			}
		}
		if _, err := decodeMarks(w.Pruning); err != nil {
			return 0, fmt.Errorf("%w: key %q: %w", ErrBadSnapshot, w.Key, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var errs []error
	r.mu.Lock()
	if r.st == nil {
		r.mu.Unlock()
		return 0, ErrStopped
	}
	now := r.now()
	for _, w := range snap.Entries {
		ok, err := r.st.apply(w, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if e := r.st.entries[w.Key]; ok && e != nil {
			e.pendFull = true // push the merged state to every member
			r.st.pending[e] = struct{}{}
			n++
		}
	}
	r.mu.Unlock()
	r.wake()
	if err := r.persistPending(); err != nil {
		errs = append(errs, fmt.Errorf("crdt: persisting imported keys: %w", err))
	}
	return n, errors.Join(errs...)
}
