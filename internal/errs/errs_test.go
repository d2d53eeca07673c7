package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestFlatten(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	got := Flatten(errors.Join(a, fmt.Errorf("wrapped: %w", b), errors.Join(c)))
	if len(got) != 3 || got[0] != a || !errors.Is(got[1], b) || got[2] != c {
		t.Fatalf("Flatten: %v", got)
	}
	if Flatten(nil) != nil || len(Flatten(a)) != 1 {
		t.Fatal("Flatten of nil or of a single error")
	}
}
