#!/usr/bin/env bash
# The master benchmark of issue 4: a kaillera-master on 127.0.0.1 (ephemeral ports, a temporary database) with
# RELAYS simulated relays reporting every INTERVAL_MS while master_load hammers the list endpoints for SECONDS.
# The master runs on core 0 and the load on core 1 (taskset). Prints master_load's results.
#
#   bench/run_master_load.sh                       # build/bin, 1000 relays, 10 s interval, 30 s, 2 HTTP threads
#   BUILD=build-release RELAYS=200 SECONDS_=10 CHANGING=10 bench/run_master_load.sh
#
# Needs kaillera-master and master_load built (cmake --build BUILD --target kaillera-master master_load).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
[[ $build = /* ]] || build=$here/$build
master_bin=$build/bin/kaillera-master
load_bin=$build/bin/master_load
relays=${RELAYS:-1000}
interval_ms=${INTERVAL_MS:-10000}
seconds=${SECONDS_:-30}
http_threads=${HTTP_THREADS:-2}
changing=${CHANGING:-100}  # % of reports that change a relay's users/games (and so the master's lists)
master_cpu=${MASTER_CPU:-0}
load_cpu=${LOAD_CPU:-1}

for b in "$master_bin" "$load_bin"; do
  if [[ ! -x $b ]]; then
    echo "run_master_load: $b is missing; build it first (cmake --build $build --target kaillera-master master_load)" >&2
    exit 2
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/kf-master-load-XXXXXX")
master_pid=
cleanup() {
  if [[ -n $master_pid ]] && kill -0 "$master_pid" 2>/dev/null; then
    kill -TERM "$master_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$master_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$master_pid" 2>/dev/null || true
    wait "$master_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

db=$work/master.db
echo "== kaillera-master benchmark: $relays relays, a report every $interval_ms ms ($changing% change users/games), $seconds s, $http_threads HTTP threads"
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown), binaries from $build ($(grep -m1 CMAKE_BUILD_TYPE: "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2))"

# One token per relay (a token names one relay), issued before the master starts.
t0=$(date +%s.%N)
for i in $(seq 1 "$relays"); do
  "$master_bin" relay add "bench-$i" --db "$db" --log-level warn | tail -n 1
done > "$work/tokens"
t1=$(date +%s.%N)
printf "== %s tokens issued with \`kaillera-master relay add\` in %.1f s\n" "$(wc -l < "$work/tokens")" "$(awk "BEGIN{print $t1 - $t0}")"

taskset -c "$master_cpu" "$master_bin" --db "$db" --grpc 127.0.0.1:0 --http 127.0.0.1:0 --check-bind 127.0.0.1:0 \
  --ready-file "$work/ready.json" --log-level warn > "$work/master.log" 2>&1 &
master_pid=$!
for _ in $(seq 1 150); do
  [[ -s $work/ready.json ]] && break
  kill -0 "$master_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ ! -s $work/ready.json ]]; then
  echo "run_master_load: kaillera-master did not start:" >&2
  cat "$work/master.log" >&2
  exit 1
fi
grpc=$(jq -r .grpc "$work/ready.json")
http=$(jq -r .http "$work/ready.json")
echo "== master pid $master_pid on core $master_cpu: gRPC $grpc, HTTP $http; master_load on core $load_cpu"

cmd=(taskset -c "$load_cpu" "$load_bin" --grpc "$grpc" --http "$http" --token-file "$work/tokens"
  --relays "$relays" --interval-ms "$interval_ms" --seconds "$seconds" --http-threads "$http_threads"
  --changing "$changing" --master-pid "$master_pid")
echo "== ${cmd[*]}" | sed "s#$work#\$TMP#g"
echo
status=0
"${cmd[@]}" || status=$?

kill -TERM "$master_pid"
for _ in $(seq 1 100); do kill -0 "$master_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$master_pid" 2>/dev/null; then
  echo "run_master_load: the master did not stop within 10 s of SIGTERM; killing it" >&2
  kill -KILL "$master_pid" || true
fi
wait "$master_pid" 2>/dev/null || true
master_pid=
if [[ -s $work/master.log ]]; then
  echo
  echo "== master log (warnings and errors):"
  tail -n 20 "$work/master.log"
fi
exit $status
