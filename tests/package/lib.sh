# shellcheck shell=bash
# Helpers of the package tests (sourced): processes started by these scripts are stopped by their pid, waits
# poll with deadlines, temporary directories go away on exit.

kf_pids=()      # processes to stop on exit
kf_tmpdirs=()   # directories to delete on exit
kf_on_exit=()   # further commands to run on exit (first registered runs last)

kf_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
kf_fail() { kf_log "FAIL: $*" >&2; exit 1; }

# True while PID runs (a zombie, exited but not yet reaped, does not count).
kf_running() {
  local pid=$1 stat
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# Polls COMMAND... every 0.1 s until it succeeds; fails after SECONDS. With a PID, fails as soon as PID exits.
kf_wait_until() {  # SECONDS PID|- WHAT COMMAND...
  local seconds=$1 pid=$2 what=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ "$pid" != - ] && ! kf_running "$pid"; then
      kf_fail "$what: process $pid exited before that"
    fi
    [ "$SECONDS" -lt "$deadline" ] || kf_fail "$what: not within ${seconds} s"
    sleep 0.1
  done
}

# SIGTERM, then up to SECONDS for PID to exit; SIGKILL and failure if it does not. Sets kf_stop_rc to its
# exit status. Call it directly, not in $( ): only this shell can reap its children.
kf_stop_rc=
kf_stop() {  # PID [SECONDS]
  local pid=$1 seconds=${2:-15} rc=0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + seconds))
  while kf_running "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      kf_fail "process $pid did not stop within ${seconds} s of SIGTERM"
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || rc=$?
  local kept=()
  for p in "${kf_pids[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  kf_pids=("${kept[@]}")
  kf_stop_rc=$rc
}

kf_cleanup() {
  local rc=$?
  set +e
  for pid in "${kf_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${kf_pids[@]}"; do
    for _ in $(seq 1 100); do kf_running "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  local i
  for ((i = ${#kf_on_exit[@]} - 1; i >= 0; i--)); do
    eval "${kf_on_exit[$i]}"
  done
  for d in "${kf_tmpdirs[@]}"; do
    rm -rf "$d"
  done
  exit "$rc"
}
trap kf_cleanup EXIT
# A command that fails outside a check of its own stops the test (set -e): say which.
trap 'kf_log "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
trap 'exit 130' INT TERM

kf_mktemp() {  # VAR: sets VAR to a new temporary directory, deleted on exit
  local d
  d=$(mktemp -d "${TMPDIR:-/tmp}/kf-package.XXXXXX")
  kf_tmpdirs+=("$d")
  printf -v "$1" '%s' "$d"
}

# The number after "KEY": in a one-line JSON file (the programs' --ready-file).
kf_json_number() {  # FILE KEY
  sed -n "s/.*\"$2\": *\([0-9][0-9]*\).*/\1/p" "$1"
}
