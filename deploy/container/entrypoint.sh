#!/bin/sh
# The container's entry point: `master` or `relay` (then any further flags of that program), or any other
# command, run as given. The settings come from /etc/kaillera-federation/*.toml (mount your own there) and
# these variables, which the flags they become override:
#   master: KF_MASTER_GRPC (127.0.0.1:27800), KF_MASTER_HTTP (127.0.0.1:8080),
#           KF_RELAY_NAME: on first start, issue a token for a relay of this name and keep it in
#           /var/lib/kaillera-federation/tokens/relay.token for the relay container (as `make run` does);
#           empty: issue none.
#   relay:  KF_MASTER (127.0.0.1:27800; empty: report to no master), KF_RELAY_TOKEN (else the token file above,
#           waited for up to KF_TOKEN_WAIT_S seconds, 60), KF_RELAY_NAME, KF_RELAY_LISTEN (0.0.0.0:27888),
#           KF_GAME_PORTS (27889), KF_METRICS (127.0.0.1:9100), KF_PUBLIC_ADDRESS.
set -eu
etc=/etc/kaillera-federation
state=/var/lib/kaillera-federation
token_file=$state/tokens/relay.token

case "${1:-relay}" in
  master)
    [ "$#" -gt 0 ] && shift
    kaillera-master migrate --config "$etc/master.toml" >/dev/null
    name=${KF_RELAY_NAME-Container relay}
    if [ -n "$name" ]; then
      # A token is issued once; a lost token file (or a relay removed by hand) gets a new one.
      if [ ! -s "$token_file" ] || ! kaillera-master relay list --config "$etc/master.toml" | grep -qF "$name"; then
        kaillera-master relay remove "$name" --config "$etc/master.toml" >/dev/null 2>&1 || true
        mkdir -p "$state/tokens"
        (umask 077 && kaillera-master relay add "$name" --config "$etc/master.toml" |
           grep -o 'kf_[0-9a-f]*' > "$token_file.new" && mv "$token_file.new" "$token_file")
        echo "kaillera-entrypoint: issued a token for relay \"$name\" ($token_file)"
      fi
    fi
    exec kaillera-master --config "$etc/master.toml" --grpc "${KF_MASTER_GRPC:-127.0.0.1:27800}" \
      --http "${KF_MASTER_HTTP:-127.0.0.1:8080}" "$@"
    ;;
  relay)
    [ "$#" -gt 0 ] && shift
    master=${KF_MASTER-127.0.0.1:27800}
    set -- --listen "${KF_RELAY_LISTEN:-0.0.0.0:27888}" --game-ports "${KF_GAME_PORTS:-27889}" \
      --metrics "${KF_METRICS:-127.0.0.1:9100}" "$@"
    [ -n "${KF_RELAY_NAME:-}" ] && set -- --name "$KF_RELAY_NAME" "$@"
    [ -n "${KF_PUBLIC_ADDRESS:-}" ] && set -- --public-address "$KF_PUBLIC_ADDRESS" "$@"
    if [ -n "$master" ]; then
      token=${KF_RELAY_TOKEN:-}
      if [ -z "$token" ]; then
        waited=0
        while [ ! -s "$token_file" ]; do
          if [ "$waited" -ge "${KF_TOKEN_WAIT_S:-60}" ]; then
            echo "kaillera-entrypoint: no relay token: set KF_RELAY_TOKEN, or let the master container issue" \
              "one into $token_file" >&2
            exit 2
          fi
          sleep 1
          waited=$((waited + 1))
        done
        token=$(cat "$token_file")
      fi
      set -- --master "$master" --token "$token" "$@"
    fi
    exec kaillera-relay --config "$etc/relay.toml" "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
