#!/usr/bin/env bash
# Starts the system locally from build/bin. Until the relay and master exist it prints each binary's version.
set -euo pipefail
cd "$(dirname "$0")/.."
found=0
for b in kaillera-relay kaillera-master kaillera; do
  if [ -x "build/bin/$b" ]; then
    "build/bin/$b" --version
    found=1
  fi
done
[ "$found" = 1 ] || echo "no binaries built yet"
