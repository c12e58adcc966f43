#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a scratch copy of its seed corpus (the committed corpus is
# never written to). Usage: run_fuzzer.sh BINARY CORPUS_DIR [SECONDS]
set -euo pipefail
bin=$1 corpus=$2 seconds=${3:-${KF_FUZZ_SECONDS:-30}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
"$bin" -max_total_time="$seconds" -max_len=2048 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work" 2>&1 | tail -n 25
