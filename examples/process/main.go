// Command demo shows Foundation's process model on one node: a gen_server
// style Server, a link, a monitor, a crash, the exit signal and the Down
// message it causes, a named process, and a clean stop.
//
//	go run ./examples/process
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/foundation-go/foundation/actor"
)

// account is a Server holding a balance.
type account struct {
	actor.ServerBase
	balance int
	out     io.Writer
}

type deposit struct{ amount int }
type balance struct{}

func (a *account) HandleCall(p actor.Process, req any) (any, error) {
	switch r := req.(type) {
	case deposit:
		if r.amount < 0 {
			panic(fmt.Sprintf("negative deposit %d", r.amount)) // a bug: the process crashes
		}
		a.balance += r.amount
		return a.balance, nil
	case balance:
		return a.balance, nil
	}
	return nil, actor.ErrUnhandled
}

func (a *account) Terminate(p actor.Process, reason actor.Reason) {
	fmt.Fprintf(a.out, "  account %s terminated: %v\n", p.Self().Id, reason)
}

// auditor traps exits from the account it is linked to and monitors it.
type auditor struct {
	actor.ServerBase
	seen chan string
}

func (a *auditor) Init(p actor.Process) error {
	p.TrapExit(true)
	return nil
}

func (a *auditor) HandleInfo(p actor.Process, msg any) {
	switch m := msg.(type) {
	case actor.Exit:
		a.seen <- fmt.Sprintf("auditor got exit signal from %s: %v", m.From.Id, m.Reason)
	case actor.Down:
		a.seen <- fmt.Sprintf("auditor got Down for %s: %v", m.PID.Id, m.Reason)
	}
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run tours the process model, printing to out (the node's logs too).
func run(out io.Writer) error {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.CallerKey = "", ""
	logger := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(out), zap.InfoLevel))
	defer logger.Sync()
	sys, err := actor.NewSystem(actor.WithLogger(logger.Named("foundation")))
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := sys.Start(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "1. spawn an account Server and call it")
	acct, err := sys.Spawn(&account{out: out})
	if err != nil {
		return err
	}
	_ = sys.Register("account", acct)
	for _, amt := range []int{10, 32} {
		b, err := actor.Call[int](ctx, sys, sys.Whereis("account"), deposit{amt})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  deposit %d -> balance %d\n", amt, b)
	}

	fmt.Fprintln(out, "2. an auditor links to the account (trapping exits) and monitors it")
	seen := make(chan string, 2)
	aud, err := sys.Spawn(&auditor{seen: seen}, actor.WithLink(acct))
	if err != nil {
		return err
	}
	if _, err := sys.Monitor(aud, acct); err != nil {
		return err
	}

	fmt.Fprintln(out, "3. a bad request crashes the account")
	callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = actor.Call[int](callCtx, sys, acct, deposit{-5})
	cancel()
	fmt.Fprintf(out, "  the caller gets an error at once: %v\n", err)
	for i := 0; i < 2; i++ {
		select {
		case s := <-seen:
			fmt.Fprintln(out, "  "+s)
		case <-time.After(5 * time.Second):
			return fmt.Errorf("auditor saw nothing")
		}
	}
	fmt.Fprintf(out, "  the name is free again: Whereis(\"account\") = %v\n", sys.Whereis("account"))

	fmt.Fprintln(out, "4. stop the system: every process stops, children first")
	if err := sys.Stop(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "done")
	return nil
}
