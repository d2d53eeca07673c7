//go:build linux

package etcdtest

import "syscall"

// sysProcAttr makes the kernel kill etcd when the test process dies
// without running its cleanups (a test binary killed on -timeout). Strictly
// the signal follows the OS thread that started etcd, and the Go runtime
// ends a thread only when a goroutine locked to it exits, which the code
// that starts servers does not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
