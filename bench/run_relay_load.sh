#!/usr/bin/env bash
# The relay load benchmark (docs/BENCHMARKS.md): for each game count, `kaillera load` pinned to core 1 plays
# G concurrent 2-player LAN games at 60 inputs/s per player, first against kfake (the bare batched forwarder of
# shared/bench: the least work a relay can do) and then against a fresh kaillera-relay, each pinned to core 0,
# in the same run; then the relay's CPU per input and p99 as multiples of the forwarder's.
# Usage: bench/run_relay_load.sh [GAMES...]   (default 100 500 1000); SECONDS_MEASURED=10 WARMUP=5 to change
# the window; KFAKE_DIR (default ../shared/bench) holds kfake.c, NO_KFAKE=1 skips it; RELAY_BIN=path runs
# another relay binary (an older build, for a before-and-after in one sitting).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
relay_bin=${RELAY_BIN:-$bin/kaillera-relay}
seconds=${SECONDS_MEASURED:-10}
warmup=${WARMUP:-5}
games_list=("$@")
[ "${#games_list[@]}" -gt 0 ] || games_list=(100 500 1000)
port=${PORT:-37888}
kfake_dir=${KFAKE_DIR:-../shared/bench}
kfake=""
if [ -z "${NO_KFAKE:-}" ] && [ -f "$kfake_dir/kfake.c" ]; then
  kfake=build/kfake
  cc -O2 -std=c11 -Wall -Wextra -I "$kfake_dir" -o "$kfake" "$kfake_dir/kfake.c"
fi

# run NAME PID GAMES: one load run against the server with PID on $port; prints the JSON result line.
run() {
  taskset -c 1 "$bin/kaillera" load --server "127.0.0.1:$port" --games "$3" --seconds "$seconds" \
    --warmup "$warmup" --relay-pid "$2" --json || true
}

field() { grep -o "\"$1\": *[0-9.eE+-]*" <<<"$2" | head -1 | sed 's/.*: *//'; }

# Admission off: this measures what the relay costs at a load, and `kaillera load` logs every player in
# before any game starts, a lobby storm that trips admission (docs/OPERATING.md "Admission") although no game
# is running yet (bench/run_relay_ramp.sh runs with admission on).
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf 'busy_limit = 0\ndrop_limit = 0\n' >"$config"

for g in "${games_list[@]}"; do
  base=""
  if [ -n "$kfake" ]; then
    taskset -c 0 "$kfake" "$port" $((2 * g + 16)) >/dev/null 2>&1 &
    fake=$!
    sleep 0.5
    echo "== $g games against kfake (pid $fake on core 0, load on core 1)"
    base=$(run kfake "$fake" "$g")
    echo "$base"
    kill -TERM "$fake"
    wait "$fake" || true
    port=$((port + 2))
  fi
  taskset -c 0 "$relay_bin" --config "$config" --listen "127.0.0.1:$port" --game-ports "$((port + 1))" \
    --max-users 0 --log-level warn &
  relay=$!
  sleep 0.5
  echo "== $g games against kaillera-relay (pid $relay on core 0, load on core 1)"
  res=$(run relay "$relay" "$g")
  echo "$res"
  kill -TERM "$relay"
  wait "$relay" || true
  port=$((port + 2))
  if [ -n "$base" ]; then
    awk -v g="$g" -v rc="$(field relay_cpu_us_per_input "$res")" -v fc="$(field relay_cpu_us_per_input "$base")" \
      -v rp="$(field p99 "$res")" -v fp="$(field p99 "$base")" \
      'BEGIN { if (fc > 0 && fp > 0) printf "== %s games: relay / kfake: CPU per input %.2fx (%.2f / %.2f us), p99 %.2fx (%.0f / %.0f us)\n", g, rc / fc, rc, fc, rp / fp, rp, fp }'
  fi
done
