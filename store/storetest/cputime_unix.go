//go:build unix

package storetest

import "syscall"

// ProcessCPU returns the CPU time, user and system, that the process has
// used so far, in nanoseconds, and true; false where it is not known. On
// a machine shared with other work it measures what a benchmark costs
// better than wall time, which counts the time other processes ran.
func ProcessCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
