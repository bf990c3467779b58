//go:build !linux

package testservice

import "syscall"

// setPdeathsig does nothing: only Linux has a parent-death signal. A server
// of a test binary that crashed keeps running there.
func setPdeathsig(*syscall.SysProcAttr) {}
