package work

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Compare them with errors.Is; the
// wrapped message names the argument or field and what is allowed.
var (
	// ErrInvalid: a bad argument, option or Config field (a nil Host, an
	// empty Kind.Name, a nil Kind.Handler given to Register, a negative
	// worker count or chunk size, a kind registered twice, CacheResults
	// for other types than the kind's).
	ErrInvalid = errors.New("work: invalid argument")
	// ErrNoWorkers: no member can run the tasks: no Up member has the
	// role, none of those that have it serves the kind, or every one of
	// them was lost during the run. The message names the role and the
	// kind, and why each member asked was not used.
	ErrNoWorkers = errors.New("work: no member runs the task kind")
	// ErrTask: a task's handler returned an error or panicked. It is the
	// task's Result.Err (a *TaskError), not the run's error, unless the
	// run was started with FailFast.
	ErrTask = errors.New("work: task failed")
	// ErrCodec: a task's input or output could not be encoded or decoded
	// (a Result.Err), or is larger than MaxTaskSize.
	ErrCodec = errors.New("work: codec failed")
	// ErrClosed: the Host is stopped or was never started.
	ErrClosed = errors.New("work: host closed")
)

// TaskError is the Result.Err of a task whose handler failed: it matches
// ErrTask. The handler's own error does not travel between members, only
// its text does, so errors.Is with the handler's sentinels is false even
// when the task ran on the calling member.
type TaskError struct {
	// Kind is the task kind's name.
	Kind string
	// Index is the task's index in the run.
	Index int
	// Member is the id of the member that ran the task.
	Member string
	// Message is the handler's error text (or the panic's value).
	Message string
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("work: task %d of kind %q failed on member %s: %s", e.Index, e.Kind, e.Member, e.Message)
}

// Is makes a TaskError match ErrTask.
func (e *TaskError) Is(target error) bool { return target == ErrTask }
