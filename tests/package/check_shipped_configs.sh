#!/usr/bin/env bash
# The configs the package ships (cmake/Package.cmake makes them from the examples) are valid for the built
# programs: a relay started with relay.toml and access.toml answers a Kaillera PING with PONG, a master started
# with master.toml serves. Only the paths and ports the package fixes are overridden by flags (temporary files,
# loopback, ephemeral ports); every other key is the shipped one.
# Usage: check_shipped_configs.sh BIN_DIR ETC_DIR
set -euo pipefail
bin=$1
etc=$2
. "$(dirname "$0")/lib.sh"
kf_mktemp tmp

for f in relay.toml master.toml access.toml; do
  [ -s "$etc/$f" ] || kf_fail "$etc/$f is missing"
done
grep -q '^state_db = "/var/lib/kaillera-federation/relay.db"' "$etc/relay.toml" ||
  kf_fail "relay.toml: state_db is not in /var/lib/kaillera-federation"
grep -q '^access_file = "/etc/kaillera-federation/access.toml"' "$etc/relay.toml" ||
  kf_fail "relay.toml: access_file is not /etc/kaillera-federation/access.toml"
grep -q '^db = "/var/lib/kaillera-federation/master.db"' "$etc/master.toml" ||
  kf_fail "master.toml: db is not in /var/lib/kaillera-federation"
if grep -q '^\[\[user\]\]' "$etc/access.toml"; then
  kf_fail "access.toml: ships an active [[user]] entry (the examples must be commented out)"
fi

"$bin/kaillera-relay" --config "$etc/relay.toml" --access-file "$etc/access.toml" \
  --state-db "$tmp/relay.db" --audit-log "$tmp/audit.log" \
  --listen 127.0.0.1:0 --game-ports 0 --metrics 127.0.0.1:0 --ready-file "$tmp/relay.ready" \
  > "$tmp/relay.log" 2>&1 &
relay=$!
kf_pids+=("$relay")
kf_wait_until 20 "$relay" "relay ready file" test -s "$tmp/relay.ready"
port=$(kf_json_number "$tmp/relay.ready" handshake_port)
[ -n "$port" ] || kf_fail "no handshake_port in $(cat "$tmp/relay.ready")"
"$bin/kaillera" ping "127.0.0.1:$port" --count 2 --timeout-ms 2000 > "$tmp/ping.txt" ||
  kf_fail "kaillera ping 127.0.0.1:$port: no PONG from the relay: $(cat "$tmp/ping.txt"; cat "$tmp/relay.log")"
grep -q "2/2" "$tmp/ping.txt" || kf_fail "expected 2/2 PONGs: $(cat "$tmp/ping.txt")"
kf_log "ok   relay with the shipped relay.toml answers PING: $(tail -n 1 "$tmp/ping.txt")"
[ -s "$tmp/relay.db" ] || kf_fail "the relay made no state file at the state_db given"
kf_stop "$relay"
[ "$kf_stop_rc" = 0 ] || kf_fail "relay exited $kf_stop_rc on SIGTERM: $(cat "$tmp/relay.log")"

# A stopped relay does not answer: the PING check above can fail.
if "$bin/kaillera" ping "127.0.0.1:$port" --count 1 --timeout-ms 300 > "$tmp/ping2.txt"; then
  kf_fail "kaillera ping reported a PONG from a stopped relay: $(cat "$tmp/ping2.txt")"
fi

"$bin/kaillera-master" --config "$etc/master.toml" --db "$tmp/master.db" --grpc 127.0.0.1:0 \
  --http 127.0.0.1:0 --ready-file "$tmp/master.ready" > "$tmp/master.log" 2>&1 &
master=$!
kf_pids+=("$master")
kf_wait_until 20 "$master" "master ready file" test -s "$tmp/master.ready"
[ -s "$tmp/master.db" ] || kf_fail "the master made no database at the db given"
kf_stop "$master"
[ "$kf_stop_rc" = 0 ] || kf_fail "master exited $kf_stop_rc on SIGTERM: $(cat "$tmp/master.log")"
kf_log "ok   master with the shipped master.toml serves and stops cleanly"
