#!/usr/bin/env bash
# The relay load benchmark (docs/BENCHMARKS.md): for each game count, a fresh kaillera-relay pinned to core 0
# and `kaillera load` pinned to core 1, G concurrent 2-player LAN games at 60 inputs/s per player.
# Usage: bench/run_relay_load.sh [GAMES...]   (default 100 500 1000); SECONDS=10 WARMUP=5 to change the window.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
seconds=${SECONDS_MEASURED:-10}
warmup=${WARMUP:-5}
games_list=("$@")
[ "${#games_list[@]}" -gt 0 ] || games_list=(100 500 1000)
port=${PORT:-37888}
for g in "${games_list[@]}"; do
  taskset -c 0 "$bin/kaillera-relay" --listen "127.0.0.1:$port" --game-ports "$((port + 1))" --max-users 0 \
    --log-level warn &
  relay=$!
  sleep 0.5
  echo "== $g games (relay pid $relay on core 0, load on core 1)"
  taskset -c 1 "$bin/kaillera" load --server "127.0.0.1:$port" --games "$g" --seconds "$seconds" \
    --warmup "$warmup" --relay-pid "$relay" || true
  kill -TERM "$relay"
  wait "$relay" || true
done
