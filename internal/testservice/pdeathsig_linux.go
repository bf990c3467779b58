package testservice

import "syscall"

// setPdeathsig has the kernel kill the server when the test binary dies, so
// that no server outlives a test run that crashed or timed out.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
