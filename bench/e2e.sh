#!/usr/bin/env bash
# e2e.sh [OUT]: the end-to-end load. Runs the example app (httpsession) on
# memstore, boltstore, Redis and PostgreSQL, and bench/cmd/scsserver (scs)
# on its memstore and on Redis, each on a free 127.0.0.1 port, and loads
# each with wrk for E2E_DURATION per route (POST /api/count, then GET
# /api/get) through e2e/session.lua, which keeps a cookie per session.
# Writes one line per run to OUT (default results/e2e.txt):
#
#   server=NAME route=ROUTE rps=... p50_us=... p99_us=... requests=... non2xx=... sockerr=...
#
# Run it through servers.sh, which names the Redis and PostgreSQL servers;
# the runs whose server is missing are left out.
set -euo pipefail
cd "$(dirname "$0")"

out=${1:-results/e2e.txt}
duration=${E2E_DURATION:-10s}
threads=${E2E_THREADS:-2}
connections=${E2E_CONNECTIONS:-32}
go=${GO:-go}

if ! command -v wrk >/dev/null; then
  echo "e2e.sh: wrk not found: apt-get install wrk" >&2
  exit 1
fi

tmp=$(mktemp -d /tmp/httpsession-e2e.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd .. && $go build -o "$tmp/example" ./example)
$go build -o "$tmp/scsserver" ./cmd/scsserver

# Pairs that compare are next to each other, so drift hits both alike.
runs=("httpsession-memstore|$tmp/example -store mem:"
  "scs-memstore|$tmp/scsserver -store mem:")
if [ -n "${BENCH_REDIS_ADDR:-}" ]; then
  runs+=("httpsession-redisstore|$tmp/example -store redis://$BENCH_REDIS_ADDR"
    "scs-redisstore|$tmp/scsserver -store redis://$BENCH_REDIS_ADDR")
fi
runs+=("httpsession-boltstore|$tmp/example -store bolt:$tmp/sessions.db")
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  runs+=("httpsession-sqlstore-postgres|$tmp/example -store $BENCH_POSTGRES_URL")
fi

. ./ports.sh

mkdir -p "$(dirname "$out")"
: >"$out"
for run in "${runs[@]}"; do
  name=${run%%|*}
  # shellcheck disable=SC2086 # the command line is our own
  if ! start_listening "$tmp/$name.log" ${run#*|} -addr '127.0.0.1:{port}'; then
    echo "e2e.sh: $name did not start:" >&2
    cat "$tmp/$name.log" >&2
    exit 1
  fi
  for route in count get; do
    echo "== $name $route: wrk -t$threads -c$connections -d$duration" >&2
    line=$(wrk -t"$threads" -c"$connections" -d"$duration" --timeout 5s --latency \
      -s e2e/session.lua "http://127.0.0.1:$port/" -- "$route" | tee "$tmp/wrk.txt" | grep '^E2E ') || {
      cat "$tmp/wrk.txt" >&2
      exit 1
    }
    echo "server=$name route=$route ${line#E2E }" | tee -a "$out" >&2
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
done
