#!/usr/bin/env bash
# growth.sh [OUT]: the growth benchmarks (growth_test.go). BenchmarkGrowth
# runs W2 and W3 on memstore, boltstore, SQLite, PostgreSQL and Redis
# holding each size of BENCH_GROWTH_SIZES, in BENCH_GROWTH_ROUNDS
# interleaved rounds of GROWTH_BENCHTIME each; then BenchmarkBare, the
# bare engines under boltstore, SQLite and PostgreSQL (a bbolt or SQL
# lookup and update on databases filled the same way), likewise; then
# BenchmarkSweepStall (memstore) and BenchmarkSQLiteSweep at the largest
# size, once per round of BENCH_GROWTH_SWEEP_ROUNDS. Writes the raw results
# to OUT (default results/growth.txt), with configuration lines and the
# load average before each part, for cmd/report. Run it through servers.sh.
set -euo pipefail
cd "$(dirname "$0")"

out=${1:-results/growth.txt}
export BENCH_GROWTH_SIZES=${BENCH_GROWTH_SIZES:-1000,100000}
export BENCH_GROWTH_ROUNDS=${BENCH_GROWTH_ROUNDS:-5}
export BENCH_GROWTH_SWEEP_ROUNDS=${BENCH_GROWTH_SWEEP_ROUNDS:-3}
benchtime=${GROWTH_BENCHTIME:-0.3s}
go=${GO:-go}

tmp=$(mktemp -d /tmp/httpsession-growth.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
$go test -c -o "$tmp/bench.test" .

mkdir -p "$(dirname "$out")"
{
  # Configuration lines (benchfmt's "key: value") for the report.
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "go-version: $($go env GOVERSION)"
  echo "cpu-model: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cpu-count: $(nproc)"
  echo "growth-sizes: $BENCH_GROWTH_SIZES"
  echo "growth-rounds: $BENCH_GROWTH_ROUNDS"
  echo "growth-sweep-rounds: $BENCH_GROWTH_SWEEP_ROUNDS"
  echo "growth-benchtime: $benchtime"
  echo "load-start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
run() { # run BENCH-REGEXP BENCHTIME
  echo "== growth.sh: $1 (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$tmp/bench.test" -test.run '^$' -test.bench "$1" -test.benchtime "$2" \
    -test.count 1 -test.timeout 90m -test.v | tee -a "$out" | grep -E '^(Benchmark.*-[0-9]+ |--- (FAIL|SKIP)|FAIL|panic|    growth_test)' >&2
}
run '^BenchmarkGrowth$' "$benchtime"
run '^BenchmarkBare$' "$benchtime"
run '^Benchmark(SweepStall|SQLiteSweep)$' 1x
echo "load-end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
echo "growth.sh: wrote $out" >&2
