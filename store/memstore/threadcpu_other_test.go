//go:build !linux

package memstore_test

func threadCPU() (int64, bool) { return 0, false }
