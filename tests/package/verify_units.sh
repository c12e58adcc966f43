#!/usr/bin/env bash
# The systemd units of deploy/systemd/ pass `systemd-analyze verify` without a word, and stay hardened
# (`systemd-analyze security --offline` exposure at most KF_MAX_EXPOSURE, default 2.5 of 10).
# verify checks that ExecStart= names an executable, so the test verifies copies whose /usr/bin/<program>
# points at the built binaries; the man pages the units name (Documentation=man:...) come from MAN_DIR.
# Usage: verify_units.sh UNIT_DIR BIN_DIR MAN_DIR
# Exit 77 (ctest: skipped) only when systemd-analyze is not installed.
set -euo pipefail
unit_dir=$1
bin_dir=$(realpath "$2")
man_dir=$3
max_exposure=${KF_MAX_EXPOSURE:-2.5}

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (deploy/install-deps.sh installs systemd)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

units=()
for unit in "$unit_dir"/*.service; do
  name=$(basename "$unit")
  sed -e "s#/usr/bin/kaillera-relay#$bin_dir/kaillera-relay#g" \
      -e "s#/usr/bin/kaillera-master#$bin_dir/kaillera-master#g" "$unit" > "$tmp/$name"
  grep -q "^ExecStart=$bin_dir/" "$tmp/$name" || { echo "FAIL $name: no ExecStart=/usr/bin/... to point at $bin_dir"; exit 1; }
  units+=("$tmp/$name")
done
[ "${#units[@]}" -ge 2 ] || { echo "FAIL: expected the relay's and the master's unit in $unit_dir"; exit 1; }

# help2man's pages when they were built; else verify's man check would fail on pages only the package has.
man_flag=(--man=no)
if [ -s "$man_dir/kaillera-relay.1.gz" ] && [ -s "$man_dir/kaillera-master.1.gz" ] && command -v man >/dev/null; then
  mkdir -p "$tmp/man/man1"
  cp "$man_dir"/*.1.gz "$tmp/man/man1/"
  export MANPATH="$tmp/man"
  man_flag=(--man=yes)
fi

failed=0
if ! out=$(systemd-analyze verify "${man_flag[@]}" "${units[@]}" 2>&1); then
  echo "FAIL systemd-analyze verify ${man_flag[*]} exited non-zero:"
  echo "$out"
  failed=1
elif [ -n "$out" ]; then
  echo "FAIL systemd-analyze verify ${man_flag[*]} is not clean:"
  echo "$out"
  failed=1
else
  echo "ok   systemd-analyze verify ${man_flag[*]}: ${units[*]##*/}"
fi

for unit in "${units[@]}"; do
  name=$(basename "$unit")
  report=$(systemd-analyze security --offline=true "$unit" 2>&1 || true)
  exposure=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if [ -z "$exposure" ]; then
    echo "FAIL $name: no exposure level in systemd-analyze security's report:"
    echo "$report" | tail -5
    failed=1
  elif awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e > m) }'; then
    echo "FAIL $name: exposure $exposure is above $max_exposure (systemd-analyze security --offline=true)"
    printf '%s\n' "$report" | grep '✗' || true
    failed=1
  else
    echo "ok   $name: exposure $exposure (at most $max_exposure)"
  fi
done
exit "$failed"
