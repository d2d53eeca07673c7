package crdt

import (
	"fmt"
	"reflect"
)

// value is the replicator's type-erased view of a CRDT: a key's state (or
// delta) whatever its Go type. Values of one key always have one concrete
// type, so merge's type assertion holds; box is the only implementation.
type value interface {
	kind() Kind
	goType() reflect.Type
	// merge joins o (a value of the same concrete type) into the receiver.
	merge(o value)
	takeDelta() (value, bool)
	clone() value
	needsPruning(removed string) bool
	prune(owner, removed string)
	pruneCleanup(removed string)
	appendBinary(b []byte) ([]byte, error)
	// decode returns a new value of the receiver's type decoded from data.
	decode(data []byte) (value, error)
	// replicas calls add with every replica id the value's bookkeeping
	// names.
	replicas(add func(string))
	// get returns the boxed CRDT.
	get() any
	// empty returns an empty value of the receiver's type.
	empty() value
}

// box wraps a CRDT of type T as a value; mk makes an empty T (with its
// codecs).
type box[T CRDT[T]] struct {
	v  T
	mk func() T
	k  Kind
}

func newBox[T CRDT[T]](v T, mk func() T, k Kind) *box[T] { return &box[T]{v: v, mk: mk, k: k} }

func (b *box[T]) kind() Kind           { return b.k }
func (b *box[T]) goType() reflect.Type { return reflect.TypeOf(b.v) }
func (b *box[T]) merge(o value)        { b.v.Merge(o.(*box[T]).v) }
func (b *box[T]) clone() value         { return &box[T]{v: b.v.Clone(), mk: b.mk, k: b.k} }
func (b *box[T]) get() any             { return b.v }
func (b *box[T]) empty() value         { return &box[T]{v: b.mk(), mk: b.mk, k: b.k} }

func (b *box[T]) takeDelta() (value, bool) {
	d, ok := b.v.TakeDelta()
	if !ok {
		return nil, false
	}
	return &box[T]{v: d, mk: b.mk, k: b.k}, true
}

func (b *box[T]) needsPruning(r string) bool            { return b.v.NeedsPruning(r) }
func (b *box[T]) prune(owner, removed string)           { b.v.Prune(owner, removed) }
func (b *box[T]) pruneCleanup(removed string)           { b.v.PruneCleanup(removed) }
func (b *box[T]) appendBinary(p []byte) ([]byte, error) { return b.v.AppendBinary(p) }

func (b *box[T]) decode(data []byte) (value, error) {
	v := b.mk()
	if err := v.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return &box[T]{v: v, mk: b.mk, k: b.k}, nil
}

func (b *box[T]) replicas(add func(string)) {
	if l, ok := any(b.v).(replicaLister); ok {
		l.listReplicas(add)
	}
}

// replicaLister is implemented by this package's types: it lists the
// replica ids the value's bookkeeping names (for the replicator's pruning).
type replicaLister interface {
	listReplicas(add func(string))
}

func (g *GCounter) listReplicas(add func(string)) {
	for r := range g.c {
		add(r)
	}
}

func (c *PNCounter) listReplicas(add func(string)) {
	for r := range c.p {
		add(r)
	}
	for r := range c.n {
		add(r)
	}
}

func (c *causal) listReplicas(add func(string)) {
	for r := range c.m {
		add(r)
	}
}

func (s *GSet[E]) listReplicas(func(string))           {}
func (r *LWWRegister[V]) listReplicas(func(string))    {}
func (s *ORSet[E]) listReplicas(add func(string))      { s.ctx.listReplicas(add) }
func (r *MVRegister[V]) listReplicas(add func(string)) { r.ctx.listReplicas(add) }
func (f *Flag) listReplicas(add func(string))          { f.ctx.listReplicas(add) }
func (m *ORMultiMap[K, E]) listReplicas(add func(string)) {
	m.ctx.listReplicas(add)
}

func (m *ORMap[K, V]) listReplicas(add func(string)) {
	m.ctx.listReplicas(add)
	for _, es := range m.m {
		for _, e := range es {
			add(e.d.r)
			if l, ok := any(e.v).(replicaLister); ok {
				l.listReplicas(add)
			}
		}
	}
}

func (m *LWWMap[K, V]) listReplicas(add func(string))    { m.m.listReplicas(add) }
func (m *PNCounterMap[K]) listReplicas(add func(string)) { m.m.listReplicas(add) }

// rawValue returns an empty value of kind k that holds any encoding of
// that kind without knowing its Go type: elements, keys and register values
// as their encoded bytes (string or []byte, whose codecs keep the bytes as
// they are) and ORMap values as anyValue. A codec is injective, so equal
// elements have equal bytes and a raw value merges exactly as the typed one
// would; its encoding is the same canonical bytes. A member holds keys it
// never used itself as raw values, and converts them when a Key binds them.
func rawValue(k Kind) (value, error) {
	switch k {
	case KindGCounter:
		return newBox(NewGCounter(), NewGCounter, k), nil
	case KindPNCounter:
		return newBox(NewPNCounter(), NewPNCounter, k), nil
	case KindFlag:
		return newBox(NewFlag(), NewFlag, k), nil
	case KindGSet:
		mk := func() *GSet[string] { return NewGSet(StringCodec()) }
		return newBox(mk(), mk, k), nil
	case KindORSet:
		mk := func() *ORSet[string] { return NewORSet(StringCodec()) }
		return newBox(mk(), mk, k), nil
	case KindLWWRegister:
		mk := func() *LWWRegister[[]byte] { return NewLWWRegister(BytesCodec()) }
		return newBox(mk(), mk, k), nil
	case KindMVRegister:
		mk := func() *MVRegister[[]byte] { return NewMVRegister(BytesCodec()) }
		return newBox(mk(), mk, k), nil
	case KindORMap:
		mk := func() *ORMap[string, *anyValue] { return NewORMap[string](StringCodec(), newAnyValue) }
		return newBox(mk(), mk, k), nil
	case KindLWWMap:
		mk := func() *LWWMap[string, []byte] { return NewLWWMap(StringCodec(), BytesCodec()) }
		return newBox(mk(), mk, k), nil
	case KindORMultiMap:
		mk := func() *ORMultiMap[string, string] { return NewORMultiMap(StringCodec(), StringCodec()) }
		return newBox(mk(), mk, k), nil
	case KindPNCounterMap:
		mk := func() *PNCounterMap[string] { return NewPNCounterMap(StringCodec()) }
		return newBox(mk(), mk, k), nil
	}
	return nil, fmt.Errorf("%w: kind %v", ErrMalformed, k)
}

// decodeRaw decodes data as a raw value of the kind its header names.
func decodeRaw(data []byte) (value, error) {
	k, err := KindOf(data)
	if err != nil {
		return nil, err
	}
	v, err := rawValue(k)
	if err != nil {
		return nil, err
	}
	return v.decode(data)
}

// anyValue is a raw ORMap value: a CRDT of whatever kind its encoding
// names (nil until decoded or merged into).
type anyValue struct {
	in value
}

func newAnyValue() *anyValue { return &anyValue{} }

var _ CRDT[*anyValue] = (*anyValue)(nil)

func (a *anyValue) Merge(o *anyValue) {
	switch {
	case o == nil || o == a || o.in == nil:
	case a.in == nil:
		a.in = o.in.clone()
	case a.in.kind() == o.in.kind():
		a.in.merge(o.in)
	}
}

func (a *anyValue) HasDelta() bool { return false }

func (a *anyValue) TakeDelta() (*anyValue, bool) {
	if a.in == nil {
		return nil, false
	}
	d, ok := a.in.takeDelta()
	if !ok {
		return nil, false
	}
	return &anyValue{in: d}, true
}

func (a *anyValue) Clone() *anyValue {
	if a.in == nil {
		return &anyValue{}
	}
	return &anyValue{in: a.in.clone()}
}

func (a *anyValue) NeedsPruning(r string) bool { return a.in != nil && a.in.needsPruning(r) }

func (a *anyValue) Prune(owner, removed string) {
	if a.in != nil {
		a.in.prune(owner, removed)
	}
}

func (a *anyValue) PruneCleanup(removed string) {
	if a.in != nil {
		a.in.pruneCleanup(removed)
	}
}

func (a *anyValue) AppendBinary(b []byte) ([]byte, error) {
	if a.in == nil {
		return b, fmt.Errorf("%w: an empty raw ORMap value", ErrNoCodec)
	}
	return a.in.appendBinary(b)
}

func (a *anyValue) MarshalBinary() ([]byte, error) { return a.AppendBinary(nil) }

func (a *anyValue) UnmarshalBinary(data []byte) error {
	v, err := decodeRaw(data)
	if err != nil {
		return err
	}
	a.in = v
	return nil
}

func (a *anyValue) listReplicas(add func(string)) {
	if a.in != nil {
		a.in.replicas(add)
	}
}
