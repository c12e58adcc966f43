#!/usr/bin/env bash
# User-space instructions per relayed input, the relay against kfake (issue 14, docs/BENCHMARKS.md): each
# server runs under callgrind while `kaillera load` plays GAMES 2-player games for SHORT and then LONG seconds;
# the difference of the two totals over the difference of inputs sent is the cost of one input in steady play
# (start-up, set-up and teardown cancel out). Repeatable where CPU time on this VM is not; the kernel's share
# (system calls, the UDP path) is not counted, and is the same work for both.
# Usage: bench/run_relay_callgrind.sh   (GAMES=20 SHORT=4 LONG=12; RELAY_BIN=path for another relay build)
set -euo pipefail
cd "$(dirname "$0")/.."
games=${GAMES:-20}
short=${SHORT:-4}
long=${LONG:-12}
port=${PORT:-38400}
relay_bin=${RELAY_BIN:-build/bin/kaillera-relay}
kfake_dir=${KFAKE_DIR:-../shared/bench}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -std=c11 -Wall -Wextra -I "$kfake_dir" -o "$work/kfake" "$kfake_dir/kfake.c"
printf 'busy_limit = 0\ndrop_limit = 0\n' >"$work/relay.toml"

# one NAME SECONDS CMD...: prints "instructions inputs" for one run.
one() {
  local name=$1 secs=$2
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$work/${name%% *}-$secs.out" "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 3  # valgrind starts slowly
  build/bin/kaillera load --server "127.0.0.1:$port" --games "$games" --seconds "$secs" --warmup 1 --json \
    >"$work/${name%% *}-$secs.json" || true
  kill -INT "$pid"  # the relay stops on it; kfake, blocked in recvmmsg, needs TERM
  sleep 1
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  local ir inputs
  ir=$(callgrind_annotate "$work/${name%% *}-$secs.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  inputs=$(grep -o '"inputs_sent": *[0-9]*' "$work/${name%% *}-$secs.json" | sed 's/.*: *//')
  echo "$ir $inputs"
}

measure() {
  local name=$1
  shift
  local ir1 in1 ir2 in2
  read -r ir1 in1 < <(one "$name" "$short" "$@")
  read -r ir2 in2 < <(one "$name" "$long" "$@")
  awk -v n="$name" -v a="$ir1" -v b="$ir2" -v x="$in1" -v y="$in2" \
    'BEGIN { printf "%s: %.0f instructions per input ((%d - %d) / (%d - %d))\n", n, (b - a) / (y - x), b, a, y, x }'
}

echo "== $games games, $short s and $long s measured, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
measure kfake "$work/kfake" "$port" 64
measure "relay ($relay_bin)" "$relay_bin" --config "$work/relay.toml" --listen "127.0.0.1:$port" \
  --game-ports "$((port + 1))" --max-users 0 --log-level warn
