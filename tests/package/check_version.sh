#!/usr/bin/env bash
# `--version` of each program prints "<program> <project version> (git <commit>)": the version from
# CMakeLists.txt's project() line and the commit git names for HEAD of the source tree ("unknown" when the
# source tree is not a git checkout, as cmake/Version.cmake decides).
# Usage: check_version.sh SOURCE_DIR PROGRAM...   (each PROGRAM a path to kaillera-relay, kaillera-master, kaillera)
set -euo pipefail
src=$1
shift
[ "$#" -gt 0 ] || { echo "check_version: no program given" >&2; exit 2; }

version=$(sed -n 's/^project(kaillera_federation VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || { echo "check_version: no project version in $src/CMakeLists.txt" >&2; exit 1; }

commit=unknown
if top=$(git -C "$src" rev-parse --show-toplevel 2>/dev/null) &&
   [ "$(realpath "$top")" = "$(realpath "$src")" ]; then
  commit=$(git -C "$src" rev-parse --short HEAD)
fi

failed=0
for program in "$@"; do
  name=$(basename "$program")
  expected="$name $version (git $commit)"
  if ! got=$("$program" --version 2>&1); then
    echo "FAIL $name --version exited non-zero: $got"
    failed=1
  elif [ "$got" != "$expected" ]; then
    echo "FAIL $name --version: got '$got', expected '$expected'"
    failed=1
  else
    echo "ok   $got"
  fi
done
exit "$failed"
