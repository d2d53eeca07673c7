package crdt_test

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/foundation-go/foundation/crdt"
)

// Three replicas count page views independently; any exchange of their
// deltas gives every one the total.
func ExampleGCounter() {
	a, b, c := crdt.NewGCounter(), crdt.NewGCounter(), crdt.NewGCounter()
	a.Increment("node-a", 3)
	b.Increment("node-b", 4)
	c.Increment("node-c", 5)

	// Each replica ships its delta (a few bytes: its new total) to the
	// others, in whatever order they arrive.
	da, _ := a.TakeDelta()
	db, _ := b.TakeDelta()
	dc, _ := c.TakeDelta()
	a.Merge(dc)
	a.Merge(db)
	b.Merge(da)
	b.Merge(dc)
	c.Merge(db)
	c.Merge(da)
	c.Merge(da) // a duplicate changes nothing

	fmt.Println(a.Value(), b.Value(), c.Value())
	// Output: 12 12 12
}

// An add concurrent with a remove wins: the remove removes only the adds
// it has seen.
func ExampleORSet() {
	a := crdt.NewORSet(crdt.StringCodec())
	b := crdt.NewORSet(crdt.StringCodec())

	a.Add("node-a", "alice")
	a.Add("node-a", "bob")
	b.Merge(a)

	b.Remove("node-b", "alice") // b has seen a's add of alice
	a.Add("node-a", "alice")    // concurrently, a adds alice again
	b.Remove("node-b", "bob")

	a.Merge(b)
	b.Merge(a)
	fmt.Println(slices.Sorted(a.All()), slices.Sorted(b.All()))

	// A delta of one add to a large set stays tiny.
	a.TakeDelta()
	a.Add("node-a", "carol")
	delta, _ := a.TakeDelta()
	bytes, _ := delta.MarshalBinary()
	fmt.Println(len(bytes), "bytes")
	// Output:
	// [alice] [alice]
	// 24 bytes
}

// The last write wins, by hybrid logical clock; a replica's write wins over
// what it has seen even when its physical clock lags.
func ExampleLWWMap() {
	a := crdt.NewLWWMap(crdt.StringCodec(), crdt.StringCodec())
	b := crdt.NewLWWMap(crdt.StringCodec(), crdt.StringCodec())
	clockA, clockB := &crdt.HLC{}, &crdt.HLC{}
	at := func(s int64) time.Time { return time.Unix(s, 0) }

	a.Put("node-a", "color", "red", clockA, at(100))
	b.Put("node-b", "color", "blue", clockB, at(200)) // later
	b.Put("node-b", "size", "L", clockB, at(200))
	a.Merge(b)

	// a's clock is behind b's, but a has seen blue: its write is newer.
	a.Put("node-a", "color", "green", clockA, at(150))
	b.Remove("node-b", "size")
	b.Merge(a)
	a.Merge(b)

	fmt.Println(maps.Collect(a.All()), maps.Collect(b.All()))
	ts, by := a.Written("color")
	fmt.Println(ts.Wall == at(200).UnixNano(), ts.Logical, by)
	// Output:
	// map[color:green] map[color:green]
	// true 1 node-a
}

// An ORMap holds CRDT values per key; removing a key resets it.
func ExampleORMap() {
	newCounter := func() *crdt.PNCounter { return crdt.NewPNCounter() }
	stock := crdt.NewORMap(crdt.StringCodec(), newCounter)

	stock.Update("node-a", "apples", func(c *crdt.PNCounter) { c.Increment("node-a", 10) })
	stock.Update("node-a", "apples", func(c *crdt.PNCounter) { c.Decrement("node-a", 3) })
	apples, _ := stock.Get("apples")
	fmt.Println(apples.Value())

	stock.Remove("node-a", "apples")
	stock.Update("node-a", "apples", func(c *crdt.PNCounter) { c.Increment("node-a", 1) })
	apples, _ = stock.Get("apples")
	fmt.Println(apples.Value())
	// Output:
	// 7
	// 1
}

// A departed member's contribution is folded into the owner's, and the
// other members forget it, without changing the value.
func Example_pruning() {
	owner, other, leaving := crdt.NewGCounter(), crdt.NewGCounter(), crdt.NewGCounter()
	owner.Increment("owner", 1)
	other.Increment("other", 2)
	leaving.Increment("leaving", 4)
	for _, x := range []*crdt.GCounter{owner, other} {
		x.Merge(leaving)
	}
	owner.Merge(other)

	// "leaving" has left the cluster for good, and the owner holds all of
	// its contributions.
	owner.Prune("owner", "leaving")
	other.PruneCleanup("leaving") // before merging anything from the owner
	other.Merge(owner)

	fmt.Println(owner.Value(), other.Value(), other.NeedsPruning("leaving"))
	// Output: 7 7 false
}

// Values encode canonically; KindOf tells what an encoding holds.
func ExampleKindOf() {
	s := crdt.NewORSet(crdt.Int64Codec())
	s.Add("node-a", 42)
	data, _ := s.MarshalBinary()

	kind, _ := crdt.KindOf(data)
	t := crdt.NewORSet(crdt.Int64Codec())
	err := t.UnmarshalBinary(data)
	fmt.Println(kind, err, t.Contains(42))

	err = crdt.NewGCounter().UnmarshalBinary(data)
	fmt.Println(err)
	// Output:
	// ORSet <nil> true
	// crdt: encoding holds a different CRDT type: encoded ORSet, decoding into GCounter
}
