#!/usr/bin/env bash
# micro.sh [OUT]: the in-process benchmarks (BenchmarkSession and
# BenchmarkFloor), BENCH_ROUNDS rounds over the whole set, -count=1 each,
# so that machine drift hits every adapter alike; then benchstat. Writes the
# raw results to OUT (default results/micro.txt), benchstat's summary
# beside it (benchstat.txt) and the load average at each round's start
# (load.txt). Run it through servers.sh.
set -euo pipefail
cd "$(dirname "$0")"

out=${1:-results/micro.txt}
rounds=${BENCH_ROUNDS:-5}
benchtime=${BENCHTIME:-0.3s}
filter=${BENCH_FILTER:-'^Benchmark(Session|Floor)$'}
go=${GO:-go}
dir=$(dirname "$out")

tmp=$(mktemp -d /tmp/httpsession-micro.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
$go test -c -o "$tmp/bench.test" .

mkdir -p "$dir"
{
  # Configuration lines (benchfmt's "key: value") for the report.
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "go-version: $($go env GOVERSION)"
  echo "cpu-model: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cpu-count: $(nproc)"
  echo "rounds: $rounds"
  echo "benchtime: $benchtime"
} >"$out"
: >"$dir/load.txt"
for round in $(seq "$rounds"); do
  echo "== round $round/$rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  cut -d' ' -f1-3 /proc/loadavg >>"$dir/load.txt"
  "$tmp/bench.test" -test.run '^$' -test.bench "$filter" -test.benchtime "$benchtime" \
    -test.count 1 -test.timeout 10m | tee -a "$out" | grep -E '^(Benchmark|--- FAIL|FAIL|panic)' >&2
done
# Five samples give the median a 94% interval (min to max); benchstat's
# default 95% would need six.
$go tool benchstat -confidence 0.9 "$out" >"$dir/benchstat.txt"
echo "micro.sh: wrote $out, $dir/benchstat.txt" >&2
