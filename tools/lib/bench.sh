#!/usr/bin/env bash
# Helpers shared by the benchmarks in tools/bench/. They read the caller's variables:
# metrics_port (metric), bin and tenant (ctl, online_count).

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
source "$(dirname "${BASH_SOURCE[0]}")/token.sh"

# A sleep in the background, so that a signal runs the caller's cleanup at once.
pause() { sleep "$1" & wait $!; }
# The value of one series of the server's /metrics (0 when absent): metric 'name{labels}'.
metric() {
  curl -s "http://127.0.0.1:$metrics_port/metrics" |
    awk -v k="$1" 'index($0, k) == 1 { print $2; found = 1 } END { if (!found) print 0 }'
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system CPU of a process
ctl() { "$bin/tools/posfleetctl/posfleetctl" "$@"; }
# The first "id" of posfleetctl's JSON output on stdin.
json_id() { grep -o '"id": "[^"]*"' | head -1 | cut -d'"' -f4; }
online_count() {  # from the server's own count, one query
  ctl -o json fleet summary --tenant "$tenant" | grep -o '"online": "[0-9]*"' | grep -o '[0-9]*' || echo 0
}

# --- The private stack every end-to-end benchmark runs against ---------------------------------
# bench_stack_init NAME: a temp folder ($state) and five free ports (pg_port, api_port,
# mqtt_port, metrics_port, device_port); on exit, stops what bench_start_* started (and $sim_pid, if the
# caller set it), copies the logs to $logs if the caller set it, and removes the folder.
bench_stack_init() {
  bench_name=$1
  state=$(mktemp -d "/tmp/posfleet-$bench_name-XXXXXX")
  pg_port=$(posfleet_free_ports 5); api_port=$(( pg_port + 1 )); mqtt_port=$(( pg_port + 2 ))
  metrics_port=$(( pg_port + 3 )); device_port=$(( pg_port + 4 ))
  server_pid=""; sim_pid=""; broker_pid=""
  trap bench_stack_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_stack_cleanup() {
  [[ -n "${sim_pid:-}" ]] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
  [[ -n "${server_pid:-}" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  tools/lib/mosquitto-local stop "$state/broker" >/dev/null 2>&1 || true
  tools/lib/pg-local stop "$state/pg" >/dev/null 2>&1 || true
  if [[ -n "${logs:-}" ]]; then
    mkdir -p "$logs" && cp "$state"/*.log "$state/broker/mosquitto.log" "$logs/" 2>/dev/null || true
  fi
  rm -rf "$state"
}
bench_fail() { echo "tools/bench/$bench_name: $*" >&2; exit 1; }

# bench_start_pg_broker [broker-certs flags...]: PostgreSQL (db_url) and Mosquitto with mutual
# TLS (broker_pid, certificates in $state/broker/certs).
bench_start_pg_broker() {
  db_url=$(tools/lib/pg-local start "$state/pg" "$pg_port")
  runtime_db_url=$(tools/lib/pg-local url "$pg_port" runtime)
  mkdir -p "$state/broker/certs"
  "$bin/server/main/posfleet-server" --db-url "$db_url" broker-certs "$@" --out "$state/broker/certs" \
    >"$state/broker-certs.log" 2>&1 || bench_fail "broker-certs failed: $(tail -3 "$state/broker-certs.log")"
  tools/lib/mosquitto-local start "$state/broker" "$mqtt_port" "$bin/broker/posfleet_mosquitto.so"
  broker_pid=$(cat "$state/broker/mosquitto.pid")
}

# bench_start_server [server flags...]: posfleet-server (server_pid, log $state/server.log) with a
# fresh admin token (token; exported for ctl with POSFLEET_SERVER), once it answers, and a tenant
# named after the benchmark (tenant).
bench_start_server() {
  token=$(posfleet_new_token)
  bench_server_flags=("$@")
  # The API over TLS as in production (posfleetctl and posfleet-sim read the CA from here).
  export POSFLEET_SERVER=127.0.0.1:$api_port POSFLEET_TOKEN=$token
  export POSFLEET_TLS_CA=$state/broker/certs/ca.pem
  bench_restart_server
  tenant=$(ctl -o json tenants create "$bench_name bench" | json_id)
  [[ -n "$tenant" ]] || bench_fail "could not create the tenant: $(tail -3 "$state/server.log")"
}

# bench_restart_server: starts posfleet-server again on the same database with the same flags and
# token (after the caller killed it), and returns once it answers. The log is appended to.
bench_restart_server() {
  # One token drives a whole benchmark's load, so the per-token and per-tenant call limits are
  # off unless the caller set bench_keep_limits=1 (tools/bench/limits measures them).
  bench_limits=()
  if [[ "${bench_keep_limits:-0}" != 1 ]]; then
    bench_limits=(--limit-token-rate 0 --limit-tenant-rate 0 --limit-calls-per-tenant 0
      --limit-streams-per-token 0 --limit-streams-per-tenant 0)
  fi
  local c=$state/broker/certs
  [[ -s "$state/code.key" ]] || (umask 077; openssl rand -hex 32 >"$state/code.key")
  POSFLEET_BOOTSTRAP_TOKEN=$token "$bin/server/main/posfleet-server" --db-url "$runtime_db_url" \
    --owner-db-url "$db_url" \
    --listen "127.0.0.1:$api_port" --device-listen "127.0.0.1:$device_port" \
    --metrics-listen "127.0.0.1:$metrics_port" --broker-address "ssl://127.0.0.1:$mqtt_port" --mqtt-url "ssl://127.0.0.1:$mqtt_port" \
    --mqtt-ca "$c/ca.pem" --mqtt-cert "$c/posfleet-server.pem" --mqtt-key "$c/posfleet-server.key" \
    --tls-cert "$c/api.pem" --tls-key "$c/api.key" \
    --enroll-parallel-per-source 1024 --code-key-file "$state/code.key" \
    "${bench_limits[@]}" \
    "${bench_server_flags[@]}" >>"$state/server.log" 2>&1 &
  server_pid=$!
  local deadline=$(( $(date +%s) + 30 ))
  until ctl tokens whoami >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || bench_fail "the server stopped: $(tail -3 "$state/server.log")"
    (( $(date +%s) < deadline )) || bench_fail "the server did not answer in 30 s: $(tail -3 "$state/server.log")"
    pause 0.1
  done
}
