# ports.sh: helpers for servers.sh and e2e.sh, which source it.

# freeport prints a port on 127.0.0.1 that nothing listens on now, below
# the kernel's ephemeral range (32768 and up), where outgoing connections
# would take it.
freeport() {
  local p
  while :; do
    p=$((10000 + RANDOM % 22000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# start_listening LOG CMD [ARG...]: start CMD in the background, with
# "{port}" in its arguments replaced by a free port and its output in LOG,
# and wait up to 10 s for it to listen on 127.0.0.1. A server that loses
# the race for its port is started again on another, three times at most.
# Sets pid and port; returns 1 if the server never listened.
start_listening() {
  local log=$1 try
  shift
  for try in 1 2 3; do
    port=$(freeport)
    "${@//\{port\}/$port}" >>"$log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pid=""
  return 1
}
