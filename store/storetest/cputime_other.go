//go:build !unix

package storetest

// ProcessCPU is not known here.
func ProcessCPU() (int64, bool) { return 0, false }
