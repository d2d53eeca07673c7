package crdt

// dotMap is the store of an add-wins set: each element and the dots of the
// adds that are still live for it. ORSet is one dotMap with a causal
// context; ORMultiMap is a dotMap per key sharing one context.
//
// In a full state every entry has at least one dot. In a delta ("delta
// form") an entry may have none: it lists an element whose dots the delta's
// context removes. Every dot of a delta's context belongs to an element the
// delta lists, so merging a delta visits only those elements, and a delta
// for one Add to a set of any size stays a few bytes.
type dotMap[E comparable] map[E][]dot

// live returns the number of entries with dots.
func (dm dotMap[E]) live(deltaForm bool) int {
	if !deltaForm {
		return len(dm)
	}
	n := 0
	for _, ds := range dm {
		if len(ds) > 0 {
			n++
		}
	}
	return n
}

// record joins into dm, a pending delta with context dc, the operation on e
// that superseded the dots old and, when add is not nil, added the dot
// *add: the delta ({e: {add}}, old ∪ {add}). It keeps no reference to old.
func (dm *dotMap[E]) record(dc *causal, e E, old []dot, add *dot) {
	if *dm == nil {
		*dm = make(dotMap[E])
	}
	cur := withoutDots((*dm)[e], old)
	if add != nil {
		cur = append(cur, *add)
		dc.add(*add)
	}
	for _, d := range old {
		dc.add(d)
	}
	(*dm)[e] = cur
}

// join joins o, whose context is oc, into dm, whose context is sc (before
// either is updated). oFull: o is a full state, so dm's entries that o
// lacks lose the dots oc has seen; otherwise o is a delta and lists every
// element it concerns. keepEmpty keeps entries left without dots (the
// result is a delta).
func (dm *dotMap[E]) join(sc *causal, o dotMap[E], oc *causal, oFull, keepEmpty bool) {
	if *dm == nil && len(o) > 0 {
		*dm = make(dotMap[E], len(o))
	}
	m := *dm
	if oFull {
		for e, sd := range m {
			if _, ok := o[e]; ok {
				continue
			}
			kept := sd[:0]
			for _, d := range sd {
				if !oc.has(d) {
					kept = append(kept, d)
				}
			}
			if len(kept) == 0 && !keepEmpty {
				delete(m, e)
			} else {
				m[e] = kept
			}
		}
	}
	for e, od := range o {
		sd, had := m[e]
		var res []dot
		if had {
			res = joinDots(sd, sc, od, oc)
		} else {
			for _, d := range od {
				if !sc.has(d) {
					if res == nil {
						res = make([]dot, 0, len(od))
					}
					res = append(res, d)
				}
			}
		}
		switch {
		case len(res) > 0 || keepEmpty:
			m[e] = res
		case had:
			delete(m, e)
		}
	}
}

// dropEmpty deletes the entries without dots (a delta became a full state).
func (dm dotMap[E]) dropEmpty() {
	for e, ds := range dm {
		if len(ds) == 0 {
			delete(dm, e)
		}
	}
}

// cleanup drops the dots of removed.
func (dm dotMap[E]) cleanup(removed string, keepEmpty bool) {
	for e, ds := range dm {
		rest, had := withoutReplica(ds, removed)
		switch {
		case !had:
		case len(rest) == 0 && !keepEmpty:
			delete(dm, e)
		default:
			dm[e] = rest
		}
	}
}

// prune drops the dots of removed and re-adds, as owner's adds recorded in
// the pending delta (pm, pc), the elements left without dots. c is the
// store's context; the caller then drops removed from it.
func (dm dotMap[E]) prune(c *causal, pm *dotMap[E], pc *causal, owner, removed string) {
	for e, ds := range dm {
		rest, had := withoutReplica(ds, removed)
		if !had {
			continue
		}
		if len(rest) == 0 {
			d := c.next(owner)
			c.add(d)
			rest = append(rest, d)
			pm.record(pc, e, nil, &d)
		}
		dm[e] = rest
	}
}

func (dm dotMap[E]) clone() dotMap[E] {
	if dm == nil {
		return nil
	}
	out := make(dotMap[E], len(dm))
	for e, ds := range dm {
		out[e] = append([]dot(nil), ds...)
	}
	return out
}

// appendTo appends the number of entries and each entry (element, dots),
// sorted by the element's encoding.
func (dm dotMap[E]) appendTo(b []byte, codec Codec[E], idx map[string]uint64) []byte {
	var enc encoded
	keys := make([]E, 0, len(dm))
	for e := range dm {
		keys = append(keys, e)
		enc.add(func(b []byte) []byte { return codec.Append(b, e) })
	}
	b = appendUvarint(b, len(keys))
	for _, i := range enc.order() {
		b = appendBytes(b, enc.bytes(i))
		b = appendDots(b, idx, dm[keys[i]])
	}
	return b
}

// decodeDotMap reads what appendTo wrote: at least minEntries entries,
// each with at least minDots dots (1 in a full state, 0 in a delta).
func decodeDotMap[E comparable](d *decoder, codec Codec[E], table []string, c *causal, minDots, minEntries int) dotMap[E] {
	n := d.count("elements")
	if d.ok() && n < minEntries {
		d.failf("%d elements, at least %d required", n, minEntries)
	}
	if !d.ok() || n == 0 {
		return nil
	}
	dm := make(dotMap[E], n)
	var prev []byte
	for i := 0; i < n && d.ok(); i++ {
		e, raw := decodeElem(d, codec, "element", i)
		d.sortedAfter(prev, raw, "element", i)
		prev = raw
		ds := decodeDots(d, table, c, minDots)
		if _, dup := dm[e]; dup && d.ok() {
			d.failf("element %d decodes to an element already decoded (the element codec is not injective)", i)
		}
		dm[e] = ds
	}
	return dm
}
