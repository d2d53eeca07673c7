package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/foundation-go/foundation/actor"
	"github.com/foundation-go/foundation/crdt"
	"github.com/foundation-go/foundation/router"
)

// serviceWorkers is the service the workers register as.
const serviceWorkers = "jobs.worker"

// outcome is how attempt (1, 2...) of job id ends, deterministically: ids
// divisible by 13 always fail, ids divisible by 7 fail their first attempt
// only, the others succeed.
func outcome(id, attempt int) error {
	switch {
	case id%13 == 0:
		return fmt.Errorf("job %d: permanent failure (ids divisible by 13 always fail)", id)
	case id%7 == 0 && attempt == 1:
		return fmt.Errorf("job %d: transient failure (ids divisible by 7 fail their first attempt)", id)
	}
	return nil
}

// worker is one instance of the workers' service: it runs the attempts
// it is given, one at a time, and counts them.
type worker struct {
	actor.ServerBase
	name       string
	ok, failed atomic.Int64
}

// HandleCall runs an attempt, {"id", "attempt"}, replying with the
// worker's name or the attempt's error; or, for an emptypb.Empty, replies
// with the worker's counts {"worker", "ok", "failed"}.
func (w *worker) HandleCall(_ actor.Process, req any) (any, error) {
	switch m := req.(type) {
	case *structpb.Struct:
		id, attempt := int(m.GetFields()["id"].GetNumberValue()), int(m.GetFields()["attempt"].GetNumberValue())
		if err := outcome(id, attempt); err != nil {
			w.failed.Add(1)
			return nil, fmt.Errorf("%s: %w", w.name, err)
		}
		w.ok.Add(1)
		return wrapperspb.String(w.name), nil
	case *emptypb.Empty:
		return structpb.NewStruct(map[string]any{"worker": w.name, "ok": w.ok.Load(), "failed": w.failed.Load()})
	}
	return nil, fmt.Errorf("%w: worker %s got %T", actor.ErrUnhandled, w.name, req)
}

// retryPolicy bounds the attempts of a job and spaces them.
type retryPolicy struct {
	// Attempts is how many times a job is tried before it is dead-lettered.
	Attempts int
	// Backoff is the wait before the second attempt; each later wait
	// doubles, up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one attempt.
	AttemptTimeout time.Duration
}

// delay is the wait before attempt (2, 3...).
func (p retryPolicy) delay(attempt int) time.Duration {
	d := p.Backoff
	for i := 2; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}

func (p retryPolicy) validate() error {
	if p.Attempts < 1 || p.Backoff < 0 || p.MaxBackoff < p.Backoff || p.AttemptTimeout <= 0 {
		return fmt.Errorf("retry policy %+v: want Attempts >= 1, 0 <= Backoff <= MaxBackoff, AttemptTimeout > 0", p)
	}
	return nil
}

// deadLetter is a job that failed every attempt.
type deadLetter struct {
	Job      int    `json:"job"`
	Attempts int    `json:"attempts"`
	Producer string `json:"producer"`
	Error    string `json:"error"` // the last attempt's
}

// deadLetters is the dead-letter list: a last-writer-wins map from job id
// to its deadLetter (JSON), replicated to every node. Each job is
// dead-lettered by the one producer that owns it, so entries never
// conflict.
var deadLetters = crdt.LWWMapKey("jobs/dead-letters", crdt.StringCodec(), crdt.StringCodec())

// tally counts what the producers did.
type tally struct {
	submitted, done, retried, retries, dead, resent atomic.Int64
}

// producer submits jobs from one node through a router over the workers'
// service instances, retrying as its policy says.
type producer struct {
	name   string
	router *router.Router
	repl   *crdt.Replicator
	policy retryPolicy
	tally  *tally
}

// submit runs job id to its end: done, or dead-lettered after the policy's
// attempts. Each attempt goes to the next worker in turn. Processing is at
// least once: an attempt that timed out may have run, and is tried again
// (as a failed attempt).
// It returns an error only when ctx ended or the dead letter could not be
// recorded.
func (p *producer) submit(ctx context.Context, id int) error {
	p.tally.submitted.Add(1)
	var last error
	for attempt := 1; attempt <= p.policy.Attempts; attempt++ {
		if attempt > 1 {
			if attempt == 2 {
				p.tally.retried.Add(1)
			}
			p.tally.retries.Add(1)
			t := time.NewTimer(p.policy.delay(attempt))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		req, err := structpb.NewStruct(map[string]any{"id": id, "attempt": attempt})
		if err != nil {
			return err
		}
		if last = p.attempt(ctx, req); last == nil {
			p.tally.done.Add(1)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	p.tally.dead.Add(1)
	return p.deadLetter(ctx, deadLetter{Job: id, Attempts: p.policy.Attempts, Producer: p.name, Error: last.Error()})
}

// attempt sends one attempt to the next worker in turn and waits for its
// outcome. A send that reached no worker (none listed, or the chosen one's
// process gone) ran nothing: it is sent again after resendDelay, within
// the attempt's timeout, and does not count as an attempt.
func (p *producer) attempt(ctx context.Context, req *structpb.Struct) error {
	actx, cancel := context.WithTimeout(ctx, p.policy.AttemptTimeout)
	defer cancel()
	for {
		_, err := router.Call[*wrapperspb.StringValue](actx, p.router, req)
		if err == nil || !undelivered(err) {
			return err
		}
		p.tally.resent.Add(1)
		t := time.NewTimer(resendDelay)
		select {
		case <-actx.Done():
			t.Stop()
			return fmt.Errorf("reached no worker within %s: %w", p.policy.AttemptTimeout, err)
		case <-t.C:
		}
	}
}

// resendDelay is the wait before sending again an attempt that reached no
// worker.
const resendDelay = 10 * time.Millisecond

// undelivered reports whether err says that a call reached no process.
func undelivered(err error) bool {
	return errors.Is(err, router.ErrNoRoutees) || (errors.Is(err, actor.ErrNoProcess) && !errors.Is(err, actor.ErrExited))
}

// deadLetter records d with a majority write: once it returns, d is on
// more than half of the nodes, and survives the loss of any one.
func (p *producer) deadLetter(ctx context.Context, d deadLetter) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	err = crdt.Update(ctx, p.repl, deadLetters, crdt.Majority, func(m *crdt.LWWMap[string, string], op crdt.Op) {
		m.Put(op.Replica, strconv.Itoa(d.Job), string(b), op.Clock, op.Now)
	})
	if err != nil {
		return fmt.Errorf("dead-letter job %d: %w", d.Job, err)
	}
	return nil
}

// readDeadLetters reads the dead-letter list with a majority read, which
// overlaps every majority write: it holds every dead letter recorded.
func readDeadLetters(ctx context.Context, r *crdt.Replicator) ([]deadLetter, error) {
	m, err := crdt.Get(ctx, r, deadLetters, crdt.Majority)
	if err != nil && !errors.Is(err, crdt.ErrNotFound) {
		return nil, err
	}
	var out []deadLetter
	for _, v := range m.All() {
		var d deadLetter
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
