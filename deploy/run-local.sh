#!/usr/bin/env bash
# `make run`: a master (SQLite file under var/) and one relay registered to it, on the default ports:
# relay udp 27888 (handshake) + 27889 (game), master gRPC 127.0.0.1:27800 and HTTP 127.0.0.1:8080,
# relay metrics 127.0.0.1:9100. Ctrl-C stops both (each by its pid).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
var=var
mkdir -p "$var"
db="$var/master.db"
name="Local relay"

"$bin/kaillera-master" migrate --db "$db" >/dev/null
# A token for the local relay: issued once, kept in var/relay.token (only its hash is in the database).
if [ ! -s "$var/relay.token" ] || ! "$bin/kaillera-master" relay list --db "$db" | grep -qF "$name"; then
  "$bin/kaillera-master" relay remove "$name" --db "$db" >/dev/null 2>&1 || true
  ( umask 077; "$bin/kaillera-master" relay add "$name" --db "$db" | grep -o 'kf_[0-9a-f]*' > "$var/relay.token" )
fi

# The relay's access file: whoever plays from this machine is its owner (docs/OPERATING.md "Levels").
if [ ! -s "$var/access.toml" ]; then
  cat > "$var/access.toml" <<'TOML'
# Made by `make run`: users from this machine are the relay's owner. Edit, then `kill -HUP` the relay or /reload.
[[user]]
level = "owner"
addresses = ["127.0.0.1"]
label = "this machine"
TOML
fi

rm -f "$var/master.ready" "$var/relay.ready"
"$bin/kaillera-master" --db "$db" --grpc 127.0.0.1:27800 --http 127.0.0.1:8080 \
  --ready-file "$var/master.ready" &
master_pid=$!
relay_pid=
stop() {
  trap - INT TERM EXIT
  [ -n "$relay_pid" ] && kill -TERM "$relay_pid" 2>/dev/null || true
  kill -TERM "$master_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

wait_for() {  # file, pid
  for _ in $(seq 1 100); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "run: a server failed to start (see above)" >&2; exit 1; }
    sleep 0.1
  done
  echo "run: $1 did not appear within 10 s" >&2
  exit 1
}
wait_for "$var/master.ready" "$master_pid"

"$bin/kaillera-relay" --listen 0.0.0.0:27888 --game-ports 27889 --name "$name" --location "This machine" \
  --master 127.0.0.1:27800 --token "$(cat "$var/relay.token")" --public-address 127.0.0.1 \
  --metrics 127.0.0.1:9100 --ready-file "$var/relay.ready" \
  --access-file "$var/access.toml" --state-db "$var/relay.db" --audit-log "$var/audit.log" &
relay_pid=$!
wait_for "$var/relay.ready" "$relay_pid"

cat <<MSG

Kaillera Federation is running.
  Kaillera client (Kaillera 0.9, n02, SupraClient, MAME32k, Project64k):
      connect to 127.0.0.1:27888 on this machine, or <this machine's LAN address>:27888 from another one
  Web page (the public list):   http://127.0.0.1:8080/
  Server list for old clients:  http://127.0.0.1:8080/raw_server_list.php
  JSON API:                     http://127.0.0.1:8080/api/v1/relays
  From a shell:                 build/bin/kaillera list
  Scripted players:             build/bin/kaillera play --server 127.0.0.1:27888 --players 2
  Relay metrics:                http://127.0.0.1:9100/metrics
  Moderation:                   you (127.0.0.1) are the relay's owner: /help in its chat; bans in var/relay.db,
                                the audit log in var/audit.log, levels in var/access.toml
  Master database:              $db
Ctrl-C stops both servers.
MSG
wait -n "$master_pid" "$relay_pid" || true
