//go:build !linux

package kubeapi

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; the Server's
// Stop (a test's cleanup) is what ends the servers.
func sysProcAttr() *syscall.SysProcAttr { return nil }
