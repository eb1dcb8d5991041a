#!/usr/bin/env bash
# posfleet_new_token: a fresh API token secret ("pft_" + 52 characters of a-z2-7), for scripts
# that choose the first admin token themselves. Reads a fixed amount of randomness first, so no
# pipe is cut short (a `tr </dev/urandom | head` pipeline dies of SIGPIPE under pipefail).
posfleet_new_token() {
  local chars
  chars=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc 'a-z2-7')
  echo "pft_${chars:0:52}"
}
