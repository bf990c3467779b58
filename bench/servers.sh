#!/usr/bin/env bash
# servers.sh CMD [ARG...]: start a private redis-server, memcached and
# PostgreSQL on free 127.0.0.1 ports, run CMD with their addresses in
#
#   BENCH_REDIS_ADDR      host:port
#   BENCH_MEMCACHE_ADDR   host:port
#   BENCH_POSTGRES_URL    postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#
# and stop them all when CMD ends, fails or is interrupted. A server whose
# binary is missing is left out (its variable stays unset and the benchmarks
# that need it are skipped) unless BENCH_REQUIRE_SERVERS=1.
#
# PostgreSQL refuses to run as root, so as root initdb and the server run as
# the user postgres (Debian's postgresql package creates it), in a directory
# that user owns. Nothing is fsynced: this is a benchmark, not a database.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
fi

dir=$(mktemp -d /tmp/httpsession-bench.XXXXXX)
chmod 755 "$dir"
pids=()
pgdata=""
pgbin=""
asuser=()

stop() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  if [ -n "$pgdata" ]; then
    "${asuser[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
  exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT TERM

missing() {
  if [ "${BENCH_REQUIRE_SERVERS:-0}" = 1 ]; then
    echo "servers.sh: $1 not found: apt-get install $2" >&2
    exit 1
  fi
  echo "servers.sh: $1 not found (apt-get install $2); its benchmarks will be skipped" >&2
}

. "$(dirname "$0")/ports.sh"

start_redis() {
  if ! start_listening "$dir/redis.log" redis-server --port '{port}' --bind 127.0.0.1 \
    --dir "$dir" --save '' --appendonly no --daemonize no --logfile ''; then
    echo "servers.sh: redis-server did not start; see its log:" >&2
    cat "$dir/redis.log" >&2
    exit 1
  fi
  pids+=("$pid")
  export BENCH_REDIS_ADDR=127.0.0.1:$port
}

start_memcached() {
  local user=()
  [ "$(id -u)" = 0 ] && user=(-u root) # memcached refuses root without -u
  if ! start_listening "$dir/memcached.log" memcached -l 127.0.0.1 -p '{port}' -U 0 -m 256 "${user[@]}"; then
    echo "servers.sh: memcached did not start; see its log:" >&2
    cat "$dir/memcached.log" >&2
    exit 1
  fi
  pids+=("$pid")
  export BENCH_MEMCACHE_ADDR=127.0.0.1:$port
}

start_postgres() {
  local port pgdir=$dir/postgres
  mkdir -p "$pgdir"
  if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      missing "user postgres" postgresql
      return
    fi
    chown postgres: "$pgdir"
    asuser=(runuser -u postgres --)
  fi
  "${asuser[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust \
    --no-locale -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  pgdata=$pgdir/data
  for _ in 1 2 3; do
    port=$(freeport)
    if "${asuser[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdir/postgres.log" -w -t 30 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pgdir -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c shared_buffers=64MB -c max_connections=200" \
      start >/dev/null; then
      export BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
      return
    fi
  done
  echo "servers.sh: postgres did not start; see its log:" >&2
  cat "$pgdir/postgres.log" >&2
  exit 1
}

if command -v redis-server >/dev/null; then start_redis; else missing redis-server redis-server; fi
if command -v memcached >/dev/null; then start_memcached; else missing memcached memcached; fi
initdb=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$initdb" ]; then
  pgbin=$(dirname "$(readlink -f "$initdb")")
  start_postgres
else
  missing initdb postgresql
fi

echo "servers.sh: redis ${BENCH_REDIS_ADDR:-none}, memcached ${BENCH_MEMCACHE_ADDR:-none}, postgres ${BENCH_POSTGRES_URL:-none}" >&2
"$@"
