package pubsub

import (
	"context"
	"fmt"
	"strings"

	"github.com/foundation-go/foundation/crdt"
)

// interestPrefix is the prefix of the interest keys in the replicator:
// one ORSet per topic ("pubsub/<topic>") of entries "member" or
// "member|group".
const interestPrefix = "pubsub/"

// NewInterest returns the Interest replicated by r (package crdt): one
// add-wins set per topic, written by the member whose entry it is with
// consistency Local (it reaches every member within the replicator's batch
// window, a few milliseconds; anti-entropy repairs what a lost frame
// missed). Entries reads this member's replica.
func NewInterest(r *crdt.Replicator) (Interest, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: NewInterest: nil replicator", ErrInvalid)
	}
	return replicatedInterest{r}, nil
}

type replicatedInterest struct{ r *crdt.Replicator }

func topicKey(topic string) crdt.Key[*crdt.ORSet[string]] {
	return crdt.ORSetKey(interestPrefix+topic, crdt.StringCodec())
}

func (in replicatedInterest) Set(topic, entry string, present bool) error {
	return crdt.Update(context.Background(), in.r, topicKey(topic), crdt.Local, func(s *crdt.ORSet[string], op crdt.Op) {
		switch {
		case present && !s.Contains(entry):
			s.Add(op.Replica, entry)
		case !present && s.Contains(entry):
			s.Remove(op.Replica, entry)
		}
	})
}

func (in replicatedInterest) Entries(topic string) []string {
	s, err := crdt.Get(context.Background(), in.r, topicKey(topic), crdt.Local)
	if err != nil || s == nil {
		return nil
	}
	out := make([]string, 0, s.Len())
	for e := range s.All() {
		out = append(out, e)
	}
	return out
}

func (in replicatedInterest) Forget(member string) error {
	var first error
	for _, k := range in.r.Keys(interestPrefix + "*") {
		topic := strings.TrimPrefix(k, interestPrefix)
		for _, e := range in.Entries(topic) {
			if m, _ := splitEntry(e); m == member {
				if err := in.Set(topic, e, false); err != nil && first == nil {
					first = err
				}
			}
		}
	}
	return first
}
