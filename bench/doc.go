// Package bench compares httpsession with the session libraries Go
// developers use today, alexedwards/scs and gorilla/sessions, on the same
// workloads, in one run, on one machine.
//
// It is a module of its own so that the main module never depends on the
// peers. The benchmarks are in the _test.go files: harness_test.go defines
// the workloads and runs them against every adapter, one adapter per
// adapter_*_test.go file; floor_test.go times the raw store clients. The
// networked stores need servers named by BENCH_REDIS_ADDR,
// BENCH_MEMCACHE_ADDR and BENCH_POSTGRES_URL; servers.sh starts private
// ones on 127.0.0.1. "make bench" at the repository root runs it all and
// writes BENCHMARKS.md with cmd/report.
package bench
