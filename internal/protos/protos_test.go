package protos_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
)

// TestGeneratedCodeIsFresh regenerates every .proto into a temporary folder
// and compares it with the committed Go. It needs protoc (Debian's
// protobuf-compiler); without it the test skips, except under CI where it
// fails.
func TestGeneratedCodeIsFresh(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("protoc not found; .ci/run installs protobuf-compiler")
		}
		t.Skip("protoc not installed (apt-get install protobuf-compiler); skipping the freshness check")
	}
	tmp := t.TempDir()
	plugin := filepath.Join(tmp, "protoc-gen-go")
	build := exec.Command("go", "build", "-o", plugin, "google.golang.org/protobuf/cmd/protoc-gen-go")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building protoc-gen-go: %v\n%s", err, out)
	}
	sources, _ := filepath.Glob("*.proto")
	if len(sources) == 0 {
		t.Fatal("no .proto sources")
	}
	args := append([]string{"--plugin=protoc-gen-go=" + plugin, "-I", ".", "--go_out=" + tmp, "--go_opt=paths=source_relative"}, sources...)
	if out, err := exec.Command(protoc, args...).CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	for _, src := range sources {
		gen := src[:len(src)-len(".proto")] + ".pb.go"
		want, err := os.ReadFile(filepath.Join(tmp, gen))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(gen)
		if err != nil {
			t.Fatalf("%s is not committed: run make proto", gen)
		}
		if !bytes.Equal(want, have) {
			t.Errorf("%s is stale: run make proto and commit the result", gen)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	in := &protos.Pong{Text: "t", Headers: map[string]string{"k": "v"}}
	b, err := proto.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := &protos.Pong{}
	if err := proto.Unmarshal(b, out); err != nil || !proto.Equal(in, out) {
		t.Fatalf("round trip: %v %v", out, err)
	}
}
