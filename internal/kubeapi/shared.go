package kubeapi

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// shared is the server of Shared: one per test binary.
var shared struct {
	mu  sync.Mutex
	srv *Server
	dir string
	err error // why it could not start; every later Shared reports it
}

// Shared returns the Server shared by every test of the test binary,
// starting it at the first call. Tests sharing it keep to namespaces of
// their own (NewNamespace). Like Start, it skips t when the binaries are
// not built (fails it when CI is set) and fails t when the server cannot
// start. Main stops it.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.dir, shared.err = os.MkdirTemp("", "kubeapi-")
		if shared.err == nil {
			shared.srv, shared.err = StartServer(shared.dir, Options{})
		}
	}
	if errors.Is(shared.err, ErrNotBuilt) {
		SkipUnlessCI(t, shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// StopShared stops the server Shared started, if any, and removes its
// files.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var err error
	if shared.srv != nil {
		err = shared.srv.Stop()
	}
	if shared.dir != "" {
		err = errors.Join(err, os.RemoveAll(shared.dir))
	}
	shared.srv, shared.dir, shared.err = nil, "", nil
	return err
}

// Main is a TestMain for packages that use Shared: it runs the tests,
// stops the shared server, and then, when the tests passed, fails the run
// if goroutines are left (goleak, with opts), as goleak.VerifyTestMain
// does.
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: Errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
