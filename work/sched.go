package work

import "slices"

// sched is a run's scheduling state: which tasks wait, which member holds
// which, which are done. It is pure (no goroutines, no clock, no I/O): the
// run's loop feeds it events and sends the chunks it returns.
//
// Chunks are handed out on demand: a member gets another chunk while it
// holds fewer tasks than its workers plus one chunk, so every worker stays
// busy and each member has one chunk queued, never more; near the end only
// free workers get tasks (see next). Without a fixed
// chunk size the chunks are guided: the tasks still waiting divided by
// guidedFactor times the workers of every member (between 1 and
// maxAutoChunk), large while much waits, one task at a time at the end,
// so members finish together.
type sched struct {
	chunk   int // fixed chunk size; 0: guided
	pending []int
	done    []bool
	left    int
	members map[string]*holder
	order   []string // active members in the order added
}

// holder is one member's share: its pool size and the tasks it holds
// (sent, not yet answered by it).
type holder struct {
	workers int
	held    map[int]struct{}
}

const (
	guidedFactor = 4
	maxAutoChunk = 64
)

// newSched schedules len(done) tasks, those with done[i] already finished
// (cached). chunk 0 is guided.
func newSched(done []bool, chunk int) *sched {
	s := &sched{chunk: chunk, done: done, members: map[string]*holder{}}
	for i, d := range done {
		if !d {
			s.pending = append(s.pending, i)
			s.left++
		}
	}
	return s
}

// add makes member id (with workers workers) eligible for chunks.
func (s *sched) add(id string, workers int) {
	if _, ok := s.members[id]; ok || workers < 1 {
		return
	}
	s.members[id] = &holder{workers: workers, held: map[int]struct{}{}}
	s.order = append(s.order, id)
}

// active is the number of members that may get chunks.
func (s *sched) active() int { return len(s.order) }

// has reports whether id is an active member.
func (s *sched) has(id string) bool { _, ok := s.members[id]; return ok }

// complete records member id's result of task i; it reports whether it is
// the task's first result (the one kept). Later ones are duplicates.
func (s *sched) complete(id string, i int) bool {
	if h := s.members[id]; h != nil {
		delete(h.held, i)
	}
	if i < 0 || i >= len(s.done) || s.done[i] {
		return false
	}
	s.done[i] = true
	s.left--
	return true
}

// lose removes member id: the unfinished tasks it held wait again, ahead
// of the others. It returns how many.
func (s *sched) lose(id string) int {
	h := s.members[id]
	if h == nil {
		return 0
	}
	delete(s.members, id)
	for k, m := range s.order {
		if m == id {
			s.order = append(s.order[:k], s.order[k+1:]...)
			break
		}
	}
	var back []int
	for i := range h.held {
		if !s.done[i] {
			back = append(back, i)
		}
	}
	slices.Sort(back)
	s.pending = append(back, s.pending...)
	return len(back)
}

// size is the chunk size now.
func (s *sched) size() int {
	if s.chunk > 0 {
		return s.chunk
	}
	w := 0
	for _, h := range s.members {
		w += h.workers
	}
	if w == 0 {
		return 1
	}
	c := (len(s.pending) + guidedFactor*w - 1) / (guidedFactor * w)
	return min(max(c, 1), maxAutoChunk)
}

// next returns the next chunk to send and its member, or ok false when
// nothing should be sent now. The member with the most free room gets it.
// While at least as many tasks wait as every member has workers, a member
// may hold one chunk beyond its workers (queued there, so that no worker
// waits for a round trip); after that only free workers get tasks, one
// chunk at most each: a task queued behind a busy worker at the end would
// wait while another member's worker is idle.
func (s *sched) next() (id string, chunk []int, ok bool) {
	for len(s.pending) > 0 && s.done[s.pending[0]] {
		s.pending = s.pending[1:]
	}
	if len(s.pending) == 0 {
		return "", nil, false
	}
	c, w := s.size(), 0
	for _, h := range s.members {
		w += h.workers
	}
	ahead := c
	if len(s.pending) < w {
		ahead = 0
	}
	best, room := "", 0
	for _, m := range s.order {
		h := s.members[m]
		if r := h.workers + ahead - len(h.held); r > room {
			best, room = m, r
		}
	}
	if best == "" {
		return "", nil, false
	}
	h := s.members[best]
	for len(chunk) < c && len(s.pending) > 0 {
		i := s.pending[0]
		s.pending = s.pending[1:]
		if s.done[i] {
			continue
		}
		chunk = append(chunk, i)
		h.held[i] = struct{}{}
	}
	return best, chunk, len(chunk) > 0
}

// finished reports whether every task has its result.
func (s *sched) finished() bool { return s.left == 0 }

// remaining is the number of tasks without a result.
func (s *sched) remaining() int { return s.left }
