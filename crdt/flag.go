package crdt

// Flag is an enable-wins flag (Almeida et al.'s EWFlag): Enable tags the
// flag with a new dot of the acting replica, Disable removes the dots it
// has seen, and the flag is on while it has a dot — so an Enable concurrent
// with a Disable wins. A flag that is only ever enabled is Akka's Flag (a
// one-way switch). Its delta is the new dot, or the removed dots, with
// their context; deltas need no causal delivery. Prune gives the flag a dot
// of the owner if only removed's dots kept it on.
//
// The zero Flag is off and ready to use.
type Flag struct {
	ds    []dot
	ctx   causal
	delta *Flag
}

// NewFlag returns a flag that is off.
func NewFlag() *Flag { return &Flag{} }

func (f *Flag) pending() *Flag {
	if f.delta == nil {
		f.delta = &Flag{}
	}
	return f.delta
}

// record joins into f (a pending delta) the operation that removed the
// dots old and, if add is not nil, added *add.
func (f *Flag) record(old []dot, add *dot) {
	f.ds = withoutDots(f.ds, old)
	for _, d := range old {
		f.ctx.add(d)
	}
	if add != nil {
		f.ds = append(f.ds, *add)
		f.ctx.add(*add)
	}
}

// Enable turns the flag on as replica.
func (f *Flag) Enable(replica string) {
	d := f.ctx.next(replica)
	f.pending().record(f.ds, &d)
	f.ctx.add(d)
	f.ds = append(f.ds[:0], d)
}

// Disable turns the flag off, as replica, for the enables it has seen.
func (f *Flag) Disable(replica string) {
	if len(f.ds) == 0 {
		return
	}
	f.pending().record(f.ds, nil)
	f.ds = f.ds[:0]
}

// Value reports whether the flag is on.
func (f *Flag) Value() bool { return len(f.ds) > 0 }

// Merge joins other into f.
func (f *Flag) Merge(other *Flag) {
	if other == nil || other == f {
		return
	}
	f.ds = joinDots(f.ds, &f.ctx, other.ds, &other.ctx)
	f.ctx.union(&other.ctx)
}

// HasDelta reports whether f changed since the last TakeDelta.
func (f *Flag) HasDelta() bool { return f.delta != nil }

// TakeDelta returns the join of the deltas of the operations since the last
// TakeDelta.
func (f *Flag) TakeDelta() (*Flag, bool) {
	d := f.delta
	f.delta = nil
	return d, d != nil
}

// Clone returns a copy of f without its pending delta.
func (f *Flag) Clone() *Flag {
	return &Flag{ds: append([]dot(nil), f.ds...), ctx: f.ctx.clone()}
}

// NeedsPruning reports whether removed has dots in f.
func (f *Flag) NeedsPruning(removed string) bool { return f.ctx.hasReplica(removed) }

// Prune forgets removed's dots, first giving the flag a dot of owner if
// only removed's kept it on.
func (f *Flag) Prune(owner, removed string) {
	if owner == removed || !f.ctx.hasReplica(removed) {
		return
	}
	if f.delta != nil {
		f.delta.cleanup(removed)
	}
	rest, had := withoutReplica(f.ds, removed)
	if had && len(rest) == 0 {
		d := f.ctx.next(owner)
		f.ctx.add(d)
		rest = append(rest, d)
		f.pending().record(nil, &d)
	}
	f.ds = rest
	f.ctx.drop(removed)
}

// PruneCleanup forgets removed's dots.
func (f *Flag) PruneCleanup(removed string) {
	f.cleanup(removed)
	if f.delta != nil {
		f.delta.cleanup(removed)
	}
}

func (f *Flag) cleanup(removed string) {
	f.ds, _ = withoutReplica(f.ds, removed)
	f.ctx.drop(removed)
}

// AppendBinary appends f's encoding: the header, the causal context, then
// the number of dots and the dots.
func (f *Flag) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, KindFlag, 0)
	b, idx := appendContext(b, &f.ctx)
	return appendDots(b, idx, f.ds), nil
}

// MarshalBinary returns f's encoding.
func (f *Flag) MarshalBinary() ([]byte, error) { return f.AppendBinary(nil) }

// UnmarshalBinary replaces f with the Flag encoded in data.
func (f *Flag) UnmarshalBinary(data []byte) error {
	d, _ := newDecoder(data, KindFlag, 0)
	ctx, table := decodeContext(d)
	ds := decodeDots(d, table, &ctx, 0)
	if err := d.finish(); err != nil {
		return err
	}
	*f = Flag{ds: ds, ctx: ctx}
	return nil
}
