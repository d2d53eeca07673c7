//go:build !linux

package etcdtest

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; the Server's
// Stop (a test's cleanup) is what ends etcd.
func sysProcAttr() *syscall.SysProcAttr { return nil }
