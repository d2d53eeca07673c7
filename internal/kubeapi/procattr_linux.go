//go:build linux

package kubeapi

import "syscall"

// sysProcAttr makes the kernel kill the servers when the test process dies
// without running its cleanups (a test binary killed on -timeout). Strictly
// the signal follows the OS thread that started them, and the Go runtime
// ends a thread only when a goroutine locked to it exits, which the code
// that starts servers does not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
