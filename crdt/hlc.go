package crdt

import (
	"cmp"
	"math"
	"time"
)

// Timestamp is a reading of a hybrid logical clock: a physical time and a
// logical counter that orders events within one physical tick (or while a
// clock lags behind one it has heard from). Timestamps compare by Wall,
// then by Logical.
type Timestamp struct {
	// Wall is the physical part, in nanoseconds since the Unix epoch: the
	// largest physical time the clock has read or observed.
	Wall int64
	// Logical counts events at the same Wall.
	Logical uint32
}

// Compare returns -1, 0 or +1 as t is before, equal to or after u.
func (t Timestamp) Compare(u Timestamp) int {
	if c := cmp.Compare(t.Wall, u.Wall); c != 0 {
		return c
	}
	return cmp.Compare(t.Logical, u.Logical)
}

// IsZero reports whether t is the zero Timestamp.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

// bump returns the timestamp just after t.
func (t Timestamp) bump() Timestamp {
	switch {
	case t.Logical < math.MaxUint32:
		return Timestamp{t.Wall, t.Logical + 1}
	case t.Wall < math.MaxInt64:
		return Timestamp{t.Wall + 1, 0}
	}
	return t
}

// HLC is a hybrid logical clock (Kulkarni, Demirbas et al., "Logical
// Physical Clocks", 2014): it follows physical time, never goes backwards,
// and a timestamp it issues after observing another is greater than that
// one. LWWRegister and LWWMap use it so that a write is newer than every
// write its replica had seen, even when physical clocks disagree.
//
// The clock reads no time itself: every call takes the current physical
// time from the caller (time.Now(), or a test's clock). One HLC belongs to
// one replica and is not safe for concurrent use. The zero HLC is ready to
// use; a replica that restarts should start its clock at a timestamp no
// smaller than any it issued (or rely on physical time having advanced).
type HLC struct {
	last Timestamp
}

// NewHLC returns a clock whose timestamps will be greater than start (the
// last timestamp a restarted replica persisted, say).
func NewHLC(start Timestamp) *HLC { return &HLC{last: start} }

// Now returns a timestamp for a local event at physical time: greater than
// every timestamp the clock issued or observed before, and with Wall at
// least physical.
func (c *HLC) Now(physical time.Time) Timestamp {
	if pt := physical.UnixNano(); pt > c.last.Wall {
		c.last = Timestamp{Wall: pt}
	} else {
		c.last = c.last.bump()
	}
	return c.last
}

// Update returns a timestamp for an event that follows observed (a remote
// timestamp received, or the current timestamp of a register about to be
// overwritten) at physical time: greater than observed and than every
// timestamp the clock issued or observed before.
func (c *HLC) Update(observed Timestamp, physical time.Time) Timestamp {
	t := c.last
	if observed.Compare(t) > 0 {
		t = observed
	}
	if pt := physical.UnixNano(); pt > t.Wall {
		c.last = Timestamp{Wall: pt}
	} else {
		c.last = t.bump()
	}
	return c.last
}

// Last returns the last timestamp the clock issued (zero if none).
func (c *HLC) Last() Timestamp { return c.last }
