#!/usr/bin/env bash
# posfleet_free_ports N: prints a base port B such that B .. B+N-1 are all free on loopback.
# The range is below the kernel's ephemeral ports (ip_local_port_range, 32768 up by default):
# a port picked there can be taken a moment later by any outgoing connection (the server's own
# connection to PostgreSQL did exactly that to the demo's API port once).
posfleet_free_ports() {
  local n=$1 low=10000 high=32000 eph tries base p busy
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph _ </proc/sys/net/ipv4/ip_local_port_range
    (( eph - n > low )) && high=$(( eph - n ))
  fi
  local listening
  listening=$(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
  for tries in $(seq 1 50); do
    base=$(( low + RANDOM % (high - low) ))
    busy=0
    for (( p = base; p < base + n; p++ )); do
      if grep -qx "$p" <<<"$listening"; then busy=1; break; fi
    done
    if [[ $busy -eq 0 ]]; then echo "$base"; return 0; fi
  done
  echo "posfleet_free_ports: no $n free ports in $low-$high" >&2
  return 1
}
