package cache

import (
	"fmt"
	"slices"
	"testing"
)

// TestRendezvousMovesOnlyWhatItMust: a member that joins takes about 1/N
// of the keys and no key moves between the others; a member that leaves
// gives away only its own keys. Backups are the next owners.
func TestRendezvousMovesOnlyWhatItMust(t *testing.T) {
	const keys = 20_000
	abc := newTopo([]string{"a", "b", "c"})
	abcd := newTopo([]string{"a", "b", "c", "d"})
	ab := newTopo([]string{"a", "b"})
	joined, left := 0, 0
	for i := range keys {
		k := fmt.Sprint("key-", i)
		before, after := abc.owner(k), abcd.owner(k)
		if before != after {
			if after != "d" {
				t.Fatalf("%s moved from %s to %s on d's join", k, before, after)
			}
			joined++
		}
		if gone := ab.owner(k); gone != before {
			if before != "c" {
				t.Fatalf("%s moved from %s to %s on c's leave", k, before, gone)
			}
			left++
		}
		// The first backup is the owner once the owner is gone.
		r := abc.ranked(k, 2)
		if r[0] != before {
			t.Fatalf("ranked(%s)[0] = %s, owner %s", k, r[0], before)
		}
		rest := newTopo(slices.DeleteFunc([]string{"a", "b", "c"}, func(m string) bool { return m == before }))
		if rest.owner(k) != r[1] {
			t.Fatalf("%s: backup %s, owner without %s: %s", k, r[1], before, rest.owner(k))
		}
	}
	if joined < keys/4*9/10 || joined > keys/4*11/10 {
		t.Fatalf("d's join moved %d of %d keys, want about a quarter", joined, keys)
	}
	if left < keys/3*9/10 || left > keys/3*11/10 {
		t.Fatalf("c's leave moved %d of %d keys, want about a third", left, keys)
	}
}
