package work

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"

	"go.uber.org/zap"
)

// MaxTaskSize bounds one task's encoded input and one task's encoded
// output (16 MiB): a larger one is that task's ErrCodec.
const MaxTaskSize = 16 << 20

// Codec encodes a task's input or output for the trip between members.
// It is called concurrently and must be safe for concurrent use.
type Codec[T any] interface {
	Encode(T) ([]byte, error)
	Decode([]byte) (T, error)
}

// JSON is the codec of any type with encoding/json: the default of
// Kind.Input and Kind.Output.
func JSON[T any]() Codec[T] { return jsonCodec[T]{} }

type jsonCodec[T any] struct{}

func (jsonCodec[T]) Encode(v T) ([]byte, error) { return json.Marshal(v) }
func (jsonCodec[T]) Decode(b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// Kind is a task kind: a name, a handler and the codecs of its input and
// output. Go functions do not travel between members, names do: every
// member that runs the kind registers it (Host.Register, or
// foundation.WithTasks) with its Handler, under the same Name, with the
// same types and codecs; a caller passes the Kind to Run for its name and
// codecs (its Handler runs only where it is registered).
type Kind[In, Out any] struct {
	// Name identifies the kind across the cluster. Required.
	Name string
	// Handler runs one task. It must return when ctx ends: ctx is
	// cancelled when the run is cancelled or ends, when the calling member
	// is gone, and when this member's Host stops. Required to register;
	// ignored by Run.
	Handler func(ctx context.Context, in In) (Out, error)
	// Input and Output encode the task's input and output. Nil: JSON.
	Input  Codec[In]
	Output Codec[Out]
	// Workers is the size of this member's worker pool for the kind: at
	// most this many of its tasks run at once on this member, whatever
	// the runs and callers. 0: Config.Workers. Read when registering.
	Workers int
}

// AnyKind is a Kind of any input and output types, as Host.Register and
// foundation.WithTasks take them. Only Kind implements it.
type AnyKind interface {
	kindName() string
	entry(defaultWorkers int) (*entry, error)
}

func (k Kind[In, Out]) kindName() string { return k.Name }

func (k Kind[In, Out]) codecs() (Codec[In], Codec[Out]) {
	in, out := k.Input, k.Output
	if in == nil {
		in = JSON[In]()
	}
	if out == nil {
		out = JSON[Out]()
	}
	return in, out
}

// entry is a registered kind: its pool and its handler, typed (for runs
// of this member) and over bytes (for other members' runs).
type entry struct {
	name    string
	workers int
	sem     chan struct{}
	typed   any // func(context.Context, In) (Out, error)
	call    func(ctx context.Context, in []byte) ([]byte, error)
}

func (k Kind[In, Out]) entry(defaultWorkers int) (*entry, error) {
	if k.Name == "" {
		return nil, fmt.Errorf("%w: Kind.Name is empty", ErrInvalid)
	}
	if k.Handler == nil {
		return nil, fmt.Errorf("%w: kind %q: Kind.Handler is nil (a member that runs a kind needs its handler)", ErrInvalid, k.Name)
	}
	if k.Workers < 0 {
		return nil, fmt.Errorf("%w: kind %q: Kind.Workers %d must be >= 0 (0: Config.Workers)", ErrInvalid, k.Name, k.Workers)
	}
	w := k.Workers
	if w == 0 {
		w = defaultWorkers
	}
	inc, outc := k.codecs()
	h := k.Handler
	return &entry{
		name: k.Name, workers: w, sem: make(chan struct{}, w), typed: h,
		call: func(ctx context.Context, b []byte) ([]byte, error) {
			in, err := inc.Decode(b)
			if err != nil {
				return nil, fmt.Errorf("%w: decoding the input: %v", ErrCodec, err)
			}
			out, err := h(ctx, in)
			if err != nil {
				return nil, err
			}
			ob, err := outc.Encode(out)
			if err != nil {
				return nil, fmt.Errorf("%w: encoding the output: %v", ErrCodec, err)
			}
			if len(ob) > MaxTaskSize {
				return nil, fmt.Errorf("%w: output of %d bytes exceeds MaxTaskSize (%d)", ErrCodec, len(ob), MaxTaskSize)
			}
			return ob, nil
		},
	}, nil
}

// acquire takes a worker of the kind's pool, or fails when ctx ends first.
func (e *entry) acquire(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case e.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (e *entry) release() { <-e.sem }

// protect runs f, turning a panic into an error.
func protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// Config configures a Host. The zero value is the default.
type Config struct {
	// Workers is the worker pool size of a kind that does not set
	// Kind.Workers: at most this many of its tasks run at once on this
	// member. 0: runtime.GOMAXPROCS(0), the member's CPUs (an "optimal"
	// count for CPU-bound tasks; tasks that mostly wait, such as calls to
	// a remote model, want more).
	Workers int
	// Logger logs what a run cannot report (a failed cache write, a
	// member lost). Nil: no logs.
	Logger *zap.Logger
}

// Validate reports a Config's problems, each wrapping ErrInvalid.
func (c Config) Validate() error {
	if c.Workers < 0 {
		return fmt.Errorf("%w: Config.Workers %d must be >= 0 (0: GOMAXPROCS)", ErrInvalid, c.Workers)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}
