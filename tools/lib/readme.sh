#!/usr/bin/env bash
# Runs every posfleetctl line of README.md as printed, against a running demo (tools/demo
# --smoke sources this and calls it last). The placeholders a reader fills in by hand are filled
# in with real ids: trm_... (a simulated terminal; a provisioned one for activation-code),
# mer_..., ten_..., and fleet.csv is the CSV shown in the README. POSFLEET_SERVER, POSFLEET_TOKEN
# and POSFLEET_TLS_CA must be set as the README says.
#
#   posfleet_run_readme_lines README CTL_BIN WORKDIR TERMINAL PROVISIONED MERCHANT TENANT
posfleet_run_readme_lines() {
  local readme=$1 ctl=$2 work=$3 terminal=$4 provisioned=$5 merchant=$6 tenant=$7
  mkdir -p "$work"
  # The CSV block of the README, with a real merchant.
  awk '/^```csv$/{on=1; next} /^```$/{on=0} on' "$readme" | sed "s/mer_\.\.\./$merchant/g" >"$work/fleet.csv"
  [[ -s "$work/fleet.csv" ]] || { echo "README.md: no csv block" >&2; return 1; }
  local n=0 failed=0 line cmd out
  while IFS= read -r line; do
    n=$((n + 1))
    cmd=${line#posfleetctl }
    if [[ $cmd == *activation-code* ]]; then
      cmd=${cmd//trm_.../$provisioned}
    else
      cmd=${cmd//trm_.../$terminal}
    fi
    cmd=${cmd//mer_.../$merchant}
    cmd=${cmd//ten_.../$tenant}
    cmd=${cmd//fleet.csv/$work/fleet.csv}
    if ! out=$(cd "$work" && eval "\"$ctl\" $cmd" 2>&1); then
      echo "README.md line does not run as printed: $line" >&2
      echo "$out" | sed 's/^/  /' >&2
      failed=$((failed + 1))
    fi
  done < <(grep -E '^posfleetctl ' "$readme")
  [[ $n -gt 0 ]] || { echo "README.md: no posfleetctl lines found" >&2; return 1; }
  echo "README.md: $((n - failed)) of $n posfleetctl lines ran as printed"
  [[ $failed -eq 0 ]]
}
