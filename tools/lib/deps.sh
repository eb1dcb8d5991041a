#!/usr/bin/env bash
# Installs what posfleet needs from Debian's packages, only if something is missing.
# Sourced by tools/test and tools/demo; run directly to install by hand.
set -euo pipefail

POSFLEET_DEPS=(
  build-essential cmake ninja-build ccache pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libpqxx-dev libabsl-dev libgtest-dev libgmock-dev libssl-dev libsqlite3-dev
  libspdlog-dev libcli11-dev libicu-dev libcpp-httplib-dev nlohmann-json3-dev libre2-dev
  libpaho-mqttpp-dev libpaho-mqtt-dev libmosquitto-dev mosquitto-dev
  postgresql util-linux openssl mosquitto mosquitto-clients
)

posfleet_install_deps() {
  local missing=()
  for p in "${POSFLEET_DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  # The postgresql package would start a system-wide cluster; posfleet runs its own private ones.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if command -v pg_lsclusters >/dev/null && [[ $(id -u) -eq 0 ]]; then
    pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | while read -r v c; do
      pg_ctlcluster "$v" "$c" stop 2>/dev/null || true
    done
  fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  posfleet_install_deps
fi
