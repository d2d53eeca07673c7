package work

import (
	"slices"
	"testing"
)

func drainNext(s *sched) map[string][]int {
	got := map[string][]int{}
	for {
		id, chunk, ok := s.next()
		if !ok {
			return got
		}
		got[id] = append(got[id], chunk...)
	}
}

func TestSchedGuidedChunksAndRoom(t *testing.T) {
	s := newSched(make([]bool, 100), 0)
	if _, _, ok := s.next(); ok {
		t.Fatal("a chunk without members")
	}
	s.add("a", 2)
	// 100 waiting, 2 workers: chunks of ceil(100/8) = 13; a holds up to
	// workers + chunk.
	if c := s.size(); c != 13 {
		t.Fatalf("guided size %d, want 13", c)
	}
	got := drainNext(s)
	if !slices.Equal(got["a"], ints(0, 13)) {
		t.Fatalf("a got %v", got["a"])
	}
	s.add("b", 2)
	// 87 waiting, 4 workers: ceil(87/16) = 6; b has room for 8: two chunks.
	got = drainNext(s)
	if !slices.Equal(got["b"], ints(13, 25)) || len(got["a"]) != 0 {
		t.Fatalf("after b joined: %v", got)
	}
	for i := range 13 {
		if !s.complete("a", i) {
			t.Fatalf("first result of %d not kept", i)
		}
	}
	if s.complete("b", 5) {
		t.Fatal("a second result of task 5 kept")
	}
	got = drainNext(s)
	if len(got["a"]) == 0 || len(got["b"]) != 0 {
		t.Fatalf("a emptied its share: %v", got)
	}
}

func TestSchedLoseRequeuesFirst(t *testing.T) {
	s := newSched(make([]bool, 10), 3)
	s.add("a", 1)
	s.add("b", 1)
	got := drainNext(s)
	// room: workers + chunk = 4 each, in chunks of 3: a 0-2, b 3-5, a 6-8;
	// then fewer tasks wait (1) than there are workers (2): only a free
	// worker gets one, and none is free.
	if !slices.Equal(got["a"], []int{0, 1, 2, 6, 7, 8}) || !slices.Equal(got["b"], []int{3, 4, 5}) {
		t.Fatalf("chunks %v", got)
	}
	s.complete("b", 3)
	if n := s.lose("b"); n != 2 {
		t.Fatalf("lose requeued %d, want 2 (4, 5)", n)
	}
	if s.has("b") || s.active() != 1 {
		t.Fatal("b still active")
	}
	// A late answer of the lost member is still the first result of 4.
	if !s.complete("b", 4) {
		t.Fatal("late first result dropped")
	}
	for _, i := range []int{0, 1, 2, 6, 7, 8} {
		s.complete("a", i)
	}
	got = drainNext(s)
	if !slices.Equal(got["a"], []int{5, 9}) {
		t.Fatalf("requeued tasks went %v, want a: 5, 9 (4 is done)", got)
	}
	s.complete("a", 5)
	if s.finished() {
		t.Fatal("finished with task 9 open")
	}
	s.complete("a", 9)
	if !s.finished() || s.remaining() != 0 {
		t.Fatal("not finished")
	}
}

// TestSchedTail: once fewer tasks wait than there are workers, only a
// member with a free worker gets one.
func TestSchedTail(t *testing.T) {
	s := newSched(make([]bool, 11), 1)
	s.add("a", 2)
	s.add("b", 2)
	got := drainNext(s)
	// 11 waiting, 4 workers: each holds workers + 1 = 3 (6 sent), then 5
	// wait (>= 4): nobody has room.
	if len(got["a"]) != 3 || len(got["b"]) != 3 {
		t.Fatalf("got %v", got)
	}
	s.complete("a", got["a"][0])
	// 5 wait, room again for one on a (3 held - 1 done + 1 = 3).
	if got := drainNext(s); len(got["a"]) != 1 || len(got["b"]) != 0 {
		t.Fatalf("after a's first result: %v", got)
	}
	s.complete("a", got["a"][1])
	s.complete("a", got["a"][2])
	// 4 wait (= workers): still one ahead, a (holding 1) gets one; then 3
	// wait (< 4 workers), a's two workers are busy: no more.
	if got := drainNext(s); len(got["a"]) != 1 || len(got["b"]) != 0 {
		t.Fatalf("4 waiting, then 3: %v", got)
	}
	// b holds 3 (one beyond its workers): nothing while no worker is free.
	s.complete("b", got["b"][0])
	if got := drainNext(s); len(got) != 0 {
		t.Fatalf("b at its workers, 3 waiting: %v", got)
	}
	// b has one free worker: exactly one task.
	s.complete("b", got["b"][1])
	if got := drainNext(s); len(got["b"]) != 1 || len(got["a"]) != 0 {
		t.Fatalf("b with a free worker, 3 waiting: %v", got)
	}
}

func TestSchedSkipsDone(t *testing.T) {
	done := []bool{true, false, true, false}
	s := newSched(done, 0)
	if s.remaining() != 2 {
		t.Fatalf("remaining %d", s.remaining())
	}
	s.add("a", 4)
	if got := drainNext(s); !slices.Equal(got["a"], []int{1, 3}) {
		t.Fatalf("got %v", got)
	}
}

func ints(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
