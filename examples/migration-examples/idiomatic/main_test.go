package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The program at the end of its migration gives the proto.actor program's
// answers: those of ../testdata/answers.txt, which ../before's test holds
// the proto.actor program to.
func TestSameAnswersAsBefore(t *testing.T) {
	want, err := os.ReadFile("../testdata/answers.txt")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := answers(out.String()); got != string(want) {
		t.Fatalf("answers:\n%s\nwant (../testdata/answers.txt):\n%s", got, want)
	}
}

// answers returns the lines of out that answer the script.
func answers(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "member ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
