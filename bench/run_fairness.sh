#!/usr/bin/env bash
# The fair pick's benchmark (docs/BENCHMARKS.md, "Fair pick: simulated internet"): fairness_bench over the
# standard matrix, RTT error +-3 % and +-10 % x routing by fewest hops and by least delay, with the default
# faults (10 % missing pairs, 5 % stale, 5 % full relays), then the reference runs without missing/stale/full
# and with exact measurements, then balanced with other slacks than the default 3. Every run scores each
# objective twice: on the measurements alone and with the missing pairs estimated (rows "+est"). Writes
# bench/results/fairness-<date>.txt and prints it. Builds nothing.
#
#   bench/run_fairness.sh                         # build/bin, 2,500 groups over 5 networks
#   BUILD=build-fair SEEDS=10 N_GROUPS=5000 bench/run_fairness.sh
#
# Needs fairness_bench built (cmake --build BUILD --target fairness_bench).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
[[ $build = /* ]] || build=$here/$build
bin=$build/bin/fairness_bench
seeds=${SEEDS:-5}
groups=${N_GROUPS:-2500}  # not GROUPS: bash owns that name
out=${OUT:-$here/bench/results/fairness-$(date -u +%Y-%m-%d).txt}

if [[ ! -x $bin ]]; then
  echo "run_fairness: $bin is missing; build it first (cmake --build $build --target fairness_bench)" >&2
  exit 2
fi

run() {
  echo "== fairness_bench --seeds $seeds --groups $groups $*"
  "$bin" --seeds "$seeds" --groups "$groups" "$@"
  echo
}

{
  echo "== fair pick benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
  echo "== commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown), binary from $build ($(grep -m1 CMAKE_BUILD_TYPE: "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2))"
  echo
  echo "#### standard matrix: default faults (missing 10 %, stale 5 %, full 5 %)"
  for routing in hops delay; do
    for error in 0.03 0.10; do
      run --routing "$routing" --error "$error"
    done
  done
  echo "#### reference: RTT error only (no missing, stale or full)"
  for routing in hops delay; do
    for error in 0.03 0.10; do
      run --routing "$routing" --error "$error" --missing 0 --stale 0 --full 0
    done
  done
  echo "#### reference: exact RTTs (whole ms), default missing/stale/full, and no faults at all"
  for routing in hops delay; do
    run --routing "$routing" --error 0
    run --routing "$routing" --error 0 --missing 0 --stale 0 --full 0
  done
  echo "#### balanced with other slacks than the default 3 (error 3 %, default faults)"
  for routing in hops delay; do
    for slack in 0 1 2; do
      run --routing "$routing" --slack "$slack"
    done
  done
} | tee "$out"
echo "run_fairness: wrote $out" >&2
