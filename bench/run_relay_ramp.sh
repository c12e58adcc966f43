#!/usr/bin/env bash
# The relay past its ceiling (issue 14, docs/BENCHMARKS.md "Past the ceiling"): `kaillera load --ramp` on core 1
# opens a 2-player LAN game every 1/RATE s (GAMES in all), each starting as soon as its room is full and playing
# to the end, against a fresh kaillera-relay on core 0 with admission on. For each busy_limit given (busy_resume
# is 0.2 below it), one run: the games the relay admitted, the ones it refused (where), the admitted games'
# frames on time, wrong blocks (an input played as zeros is one), p99, and the kernel's receive drops.
# Usage: bench/run_relay_ramp.sh [BUSY_LIMIT...]   (default: the relay's default only)
#        GAMES=2000 RATE=40 SECONDS_AFTER=10 to change the ramp.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
games=${GAMES:-2000}
rate=${RATE:-40}
after=${SECONDS_AFTER:-10}
port=${PORT:-38100}
limits=("$@")
[ "${#limits[@]}" -gt 0 ] || limits=(default)
config=$(mktemp)
json=$(mktemp)
trap 'rm -f "$config" "$json"' EXIT

for limit in "${limits[@]}"; do
  if [ "$limit" = default ]; then
    : >"$config"
  else
    printf 'busy_limit = %s\nbusy_resume = %s\n' "$limit" "$(awk -v l="$limit" 'BEGIN { print l - 0.2 }')" >"$config"
  fi
  taskset -c 0 "$bin/kaillera-relay" --config "$config" --listen "127.0.0.1:$port" --game-ports "$((port + 1))" \
    --metrics "127.0.0.1:$((port + 2))" --max-users 0 --log-level warn 2>/dev/null &
  relay=$!
  sleep 0.5
  taskset -c 1 "$bin/kaillera" load --server "127.0.0.1:$port" --games "$games" --ramp "$rate" \
    --seconds "$after" --setup-timeout 20 --relay-pid "$relay" --json >"$json" || true
  drops=$(curl -s "127.0.0.1:$((port + 2))/metrics" | awk '/^kaillera_relay_receive_drops_total/ { print $2 }')
  kill -TERM "$relay"
  wait "$relay" || true
  port=$((port + 3))
  python3 - "$json" "$limit" "$games" "$rate" "${drops:-?}" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r = j["refused"]
print(f"busy_limit {sys.argv[2]}: ramp to {sys.argv[3]} games at {sys.argv[4]}/s: admitted {j['games_started']}, "
      f"refused {j['games_refused']} (hello {r['hello']}, login {r['login']}, start {r['start']}), "
      f"failed {j['games_failed']}; admitted games: {j['on_time_percent']:.2f} % of frames on time, "
      f"wrong blocks {j['mismatches']}, p99 {j['latency_us']['p99']:.0f} us; relay CPU {j['relay_cpu_percent']:.0f} %, "
      f"kernel receive drops {sys.argv[5]}")
PY
done
