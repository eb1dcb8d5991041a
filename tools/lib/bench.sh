#!/usr/bin/env bash
# Helpers shared by the benchmarks in tools/bench/. They read the caller's variables:
# metrics_port (metric), bin and tenant (ctl, online_count).

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
