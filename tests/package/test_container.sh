#!/usr/bin/env bash
# `make test-container` (slow: builds the image, which compiles the programs): deploy/container/Dockerfile
# builds with podman, deploy/container/compose.yaml starts a master and a relay (Docker Compose, Debian's
# docker-compose 1.29, talking to podman's Docker-compatible API: `podman system service`), the relay
# registers with the token the master issued on first start (the master's JSON list shows it online), answers
# a Kaillera PING, runs as a non-root user, and after a restart of both keeps its token (one relay, online).
# Then the package's systemd units run under a real systemd (a bookworm container booting it, the package of
# the image's build stage installed): start, registration, PING, reload, stop, with their hardening applied.
# Everything uses loopback: the containers use the host's network, on test ports that `make run` does not use.
# Containers and the volume are removed at the end, also when the test fails; the images stay
# (localhost/kaillera-federation:test, :test-build, :test-systemd) so that the next run's build is cached.
#
# No registry is reachable here, so the debian:bookworm and debian:bookworm-slim base images are made locally
# when missing: debootstrap --variant=minbase bookworm from the Debian mirror, imported under those names.
# On hosts with hybrid cgroups (v1 controllers plus an empty v2 tree), crun refuses to run; the test then uses
# runc and ulimits within the host's hard limits, through its own containers.conf.
#
# Shortcuts while working on the runtime side (entry point, compose file, units): KF_TEST_IMAGE=NAME uses an
# image built before instead of building one, KF_TEST_DEB=PATH a package instead of the image's build stage's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/package/lib.sh"
command -v podman >/dev/null || kf_fail "podman is not installed (KF_WITH_CONTAINER=1 bash deploy/install-deps.sh)"
command -v docker-compose >/dev/null || kf_fail "docker-compose is not installed (KF_WITH_CONTAINER=1 bash deploy/install-deps.sh)"
command -v jq >/dev/null || kf_fail "jq is not installed (KF_WITH_CONTAINER=1 bash deploy/install-deps.sh)"
kf_mktemp tmp

if [ -d /sys/fs/cgroup/unified ] && command -v runc >/dev/null; then
  cat > "$tmp/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF=$tmp/containers.conf
  kf_log "hybrid cgroups: runc and ulimits 4096 ($CONTAINERS_CONF)"
fi

# ---- Base images --------------------------------------------------------------------------------------
base=docker.io/library/debian
if ! podman image exists "$base:bookworm" || ! podman image exists "$base:bookworm-slim"; then
  command -v debootstrap >/dev/null || kf_fail "no $base:bookworm image and no debootstrap to make one"
  mirror=${KF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  kf_log "making $base:bookworm and :bookworm-slim with debootstrap --variant=minbase bookworm $mirror"
  debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" > "$tmp/debootstrap.log" 2>&1 ||
    kf_fail "debootstrap: $(tail -5 "$tmp/debootstrap.log")"
  tar -C "$tmp/rootfs" -c . | podman import - "$base:bookworm" > /dev/null
  podman tag "$base:bookworm" "$base:bookworm-slim"
  rm -rf "$tmp/rootfs"
fi

# ---- The image ----------------------------------------------------------------------------------------
commit=unknown
if top=$(git -C "$root" rev-parse --show-toplevel 2>/dev/null) && [ "$(realpath "$top")" = "$root" ]; then
  commit=$(git -C "$root" rev-parse --short HEAD)
fi
version=$(sed -n 's/^project(kaillera_federation VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
image=${KF_TEST_IMAGE:-localhost/kaillera-federation:test}
if [ -z "${KF_TEST_IMAGE:-}" ]; then
  kf_log "building $image (compiles the programs: minutes; log in $tmp/build.log while it runs)"
  podman build --pull=never -f "$root/deploy/container/Dockerfile" --build-arg KF_GIT_COMMIT="$commit" \
    --build-arg KF_JOBS="${KF_JOBS:-1}" -t "$image" "$root" > "$tmp/build.log" 2>&1 ||
    kf_fail "podman build: $(tail -30 "$tmp/build.log")"
fi
got=$(podman run --rm --pull=never "$image" kaillera-relay --version)
[ "$got" = "kaillera-relay $version (git $commit)" ] || kf_fail "the image's relay --version: '$got'"
uid=$(podman run --rm --pull=never "$image" id -u)
[ "$uid" != 0 ] || kf_fail "the image runs as root"
for lib in libgrpc++.so libprotobuf.so libsqlite3.so; do
  podman run --rm --pull=never "$image" sh -c "ldconfig -p | grep -q '$lib'" || kf_fail "the runtime image lacks $lib"
done
if podman run --rm --pull=never "$image" sh -c 'ls /usr/include/grpcpp /usr/bin/g++ /usr/bin/cmake' >/dev/null 2>&1; then
  kf_fail "the runtime image holds build tools or headers"
fi
kf_log "ok   image: $got, user id $uid, runtime libraries only ($(podman image inspect "$image" --format '{{.Size}}') bytes)"

# ---- compose: a master and a relay registered to it --------------------------------------------------
project=kftest$$
export KF_IMAGE=$image KF_RELAY_NAME="Compose test relay"
export KF_MASTER_GRPC=127.0.0.1:${KF_TEST_GRPC_PORT:-37800} KF_MASTER_HTTP=127.0.0.1:${KF_TEST_HTTP_PORT:-38080}
export KF_RELAY_LISTEN=127.0.0.1:${KF_TEST_RELAY_PORT:-37888} KF_GAME_PORTS=${KF_TEST_GAME_PORT:-37889}
export KF_METRICS=127.0.0.1:${KF_TEST_METRICS_PORT:-39100} KF_PUBLIC_ADDRESS=127.0.0.1
# podman's Docker API for docker-compose, on a socket of this test's own; stopped by its pid at the end.
# (Not in kf_pids, which stop first: compose down needs the service; the exit handlers run last first.)
podman system service --time=0 "unix://$tmp/podman.sock" > "$tmp/service.log" 2>&1 &
service_pid=$!
stop_service() {
  kill -TERM "$service_pid" 2>/dev/null
  for _ in $(seq 1 200); do kf_running "$service_pid" || break; sleep 0.1; done
  kill -KILL "$service_pid" 2>/dev/null
  wait "$service_pid" 2>/dev/null
}
kf_on_exit+=(stop_service)
kf_wait_until 20 "$service_pid" "podman system service socket" test -S "$tmp/podman.sock"
export DOCKER_HOST=unix://$tmp/podman.sock
compose=(docker-compose -f "$root/deploy/container/compose.yaml" -p "$project")
compose_down() {
  "${compose[@]}" down -v --timeout 20 > "$tmp/down.log" 2>&1 || true
  podman volume rm -f "${project}_state" > /dev/null 2>&1 || true
}
kf_on_exit+=(compose_down)
"${compose[@]}" up -d --no-build > "$tmp/up.log" 2>&1 || kf_fail "compose up: $(cat "$tmp/up.log")"

relays_json() {  # the master's JSON list, over plain HTTP on loopback (bash's /dev/tcp: no curl needed)
  local host=${KF_MASTER_HTTP%:*} port=${KF_MASTER_HTTP##*:}
  exec 3<> "/dev/tcp/$host/$port" || return 1
  printf 'GET /api/v1/relays HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
  timeout 5 cat <&3 > "$tmp/relays.http" || true
  exec 3<&-
  sed '1,/^\r*$/d' "$tmp/relays.http"
}
registered_online() {  # the list holds exactly one relay of our name, online
  relays_json > "$tmp/relays.json" 2>/dev/null || return 1
  jq -e --arg n "$KF_RELAY_NAME" '[.relays[] | select(.name == $n)] | length == 1 and .[0].online == true' \
    "$tmp/relays.json" > /dev/null 2>&1
}
kf_wait_until 90 - "the relay online in the master's /api/v1/relays" registered_online
kf_log "ok   compose: \"$KF_RELAY_NAME\" registered and online at the master ($(jq -c \
  --arg n "$KF_RELAY_NAME" '.relays[] | select(.name == $n) | {host, port, version, online}' "$tmp/relays.json"))"

# PING from a third container on the host's network: the image's own kaillera tool, to the relay's port.
podman run --rm --pull=never --network host "$image" kaillera ping "$KF_RELAY_LISTEN" --count 2 --timeout-ms 2000 \
  > "$tmp/ping.txt" 2>&1 || kf_fail "no PONG from the compose relay: $(cat "$tmp/ping.txt")"
grep -q "2/2" "$tmp/ping.txt" || kf_fail "expected 2/2 PONGs: $(cat "$tmp/ping.txt")"
kf_log "ok   the compose relay answers PING on $KF_RELAY_LISTEN"
for service in master relay; do
  cid=$(podman ps -q --filter "label=com.docker.compose.project=$project" \
        --filter "label=com.docker.compose.service=$service")
  [ -n "$cid" ] || kf_fail "no running $service container"
  [ "$(podman exec "$cid" id -u)" != 0 ] || kf_fail "the $service container runs as root"
done

# ---- Restart both: the volume keeps the database and the token -----------------------------------------
"${compose[@]}" stop > "$tmp/stop.log" 2>&1 || kf_fail "compose stop: $(cat "$tmp/stop.log")"
if relays_json > /dev/null 2>&1; then kf_fail "the master still answers after compose stop"; fi
"${compose[@]}" start > "$tmp/start.log" 2>&1 || kf_fail "compose start: $(cat "$tmp/start.log")"
kf_wait_until 90 - "the relay online again after a restart" registered_online
podman logs "$(podman ps -q --filter "label=com.docker.compose.project=$project" \
  --filter "label=com.docker.compose.service=master")" 2>&1 | grep -c "issued a token" > "$tmp/issued" || true
[ "$(cat "$tmp/issued")" = 1 ] || kf_fail "the master issued $(cat "$tmp/issued") tokens over two starts, expected 1"
kf_log "ok   after a restart: the same token, one relay, online"
compose_down

# ---- The package's systemd units under a real systemd -----------------------------------------------------
# This machine's PID 1 may not be systemd: a bookworm container boots systemd, with the .deb of the image's
# build stage installed. The hardening (seccomp filters, capabilities, address families, no new privileges)
# is then applied to the real programs; the test starts the master, registers the relay, starts the relay,
# reloads it, stops both, and reads systemd's verdicts.
mkdir -p "$tmp/sd"
if [ -n "${KF_TEST_DEB:-}" ]; then
  cp "$KF_TEST_DEB" "$tmp/sd/kaillera-federation.deb"
else
  # The build stage is cached from the image's build above: this takes seconds.
  podman build --pull=never -f "$root/deploy/container/Dockerfile" --target build \
    --build-arg KF_GIT_COMMIT="$commit" --build-arg KF_JOBS="${KF_JOBS:-1}" \
    -t localhost/kaillera-federation:test-build "$root" > "$tmp/build-stage.log" 2>&1 ||
    kf_fail "podman build --target build: $(tail -20 "$tmp/build-stage.log")"
  podman run --rm --pull=never -v "$tmp/sd:/out" localhost/kaillera-federation:test-build \
    cp /kaillera-federation.deb /out/
fi
cat > "$tmp/sd/Containerfile" <<'CONTAINERFILE'
FROM docker.io/library/debian:bookworm
COPY kaillera-federation.deb /tmp/
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv \
      /tmp/kaillera-federation.deb > /dev/null \
 && rm -rf /var/lib/apt/lists/*
# Not a first boot (which would enable every unit by Debian's presets and start the relay with its shipped
# ports on the host's network): the test starts the units itself, after setting loopback test ports.
RUN systemd-machine-id-setup > /dev/null && mkdir -p /etc/systemd/system-preset \
 && printf 'disable kaillera-relay.service\ndisable kaillera-master.service\n' \
      > /etc/systemd/system-preset/00-kaillera-test.preset
CMD ["/sbin/init"]
CONTAINERFILE
podman build --pull=never -t localhost/kaillera-federation:test-systemd "$tmp/sd" > "$tmp/sd-build.log" 2>&1 ||
  kf_fail "building the systemd test image: $(tail -20 "$tmp/sd-build.log")"
sd=$(podman run -d --pull=never --systemd=always --network host --cap-add SYS_ADMIN --name "${project}_systemd" \
     localhost/kaillera-federation:test-systemd)
remove_sd() { podman rm -f -t 10 "$sd" > /dev/null 2>&1 || true; }
in_sd() { podman exec "$sd" "$@"; }
kf_on_exit+=(remove_sd)
booted() {
  local state
  state=$(podman exec "$sd" systemctl is-system-running 2>/dev/null) || true
  [ "$state" = running ] || [ "$state" = degraded ]
}
kf_wait_until 60 - "systemd booted in the container" booted
for unit in kaillera-master kaillera-relay; do
  state=$(in_sd systemctl is-active "$unit" || true)
  [ "$state" = inactive ] || kf_fail "$unit is $state at boot: the package or the image started it"
done

start_unit() {
  in_sd systemctl start "$1" ||
    kf_fail "systemctl start $1: $(in_sd journalctl -u "$1" --no-pager | tail -20)"
}
# Test ports on loopback; the relay reports to the master with a token the master issued.
in_sd sed -i "s/^grpc = .*/grpc = \"$KF_MASTER_GRPC\"/; s/^http = .*/http = \"$KF_MASTER_HTTP\"/" \
  /etc/kaillera-federation/master.toml
start_unit kaillera-master.service
token=$(in_sd runuser -u kaillera -- kaillera-master relay add "Systemd test relay" \
        --config /etc/kaillera-federation/master.toml | grep -o 'kf_[0-9a-f]*')
[ -n "$token" ] || kf_fail "no token from kaillera-master relay add"
in_sd sed -i "s/^name = .*/name = \"Systemd test relay\"/; s/^listen = .*/listen = \"$KF_RELAY_LISTEN\"/; \
  s/^game_ports = .*/game_ports = \"$KF_GAME_PORTS\"/; s/^metrics = .*/metrics = \"$KF_METRICS\"/; \
  s/^master = .*/master = [\"$KF_MASTER_GRPC\"]/; s/^token = .*/token = \"$token\"/; \
  s/^public_address = .*/public_address = \"127.0.0.1\"/" /etc/kaillera-federation/relay.toml
start_unit kaillera-relay.service
export KF_RELAY_NAME="Systemd test relay"
kf_wait_until 60 - "the systemd relay online in the master's list" registered_online
podman run --rm --pull=never --network host "$image" kaillera ping "$KF_RELAY_LISTEN" --count 2 --timeout-ms 2000 \
  > "$tmp/ping.txt" 2>&1 || kf_fail "no PONG from the relay under systemd: $(cat "$tmp/ping.txt")"
for unit in kaillera-master kaillera-relay; do
  [ "$(in_sd systemctl show -P User "$unit")" = kaillera ] || kf_fail "$unit does not run as kaillera"
  pid=$(in_sd systemctl show -P MainPID "$unit")
  [ "$(in_sd stat -c %U "/proc/$pid")" = kaillera ] || kf_fail "$unit's process is not kaillera's"
  in_sd grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" || kf_fail "$unit: NoNewPrivs is not set"
  in_sd grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status" || kf_fail "$unit: no seccomp filter"
done
relay_pid=$(in_sd systemctl show -P MainPID kaillera-relay)
in_sd systemctl reload kaillera-relay.service ||
  kf_fail "systemctl reload kaillera-relay: $(in_sd journalctl -u kaillera-relay --no-pager | tail -20)"
kf_wait_until 20 - "SIGHUP logged by the relay" \
  sh -c "podman exec $sd journalctl -u kaillera-relay --no-pager | grep -q 'SIGHUP: reloading'"
[ "$(in_sd systemctl show -P MainPID kaillera-relay)" = "$relay_pid" ] || kf_fail "reload restarted the relay"
in_sd systemctl stop kaillera-relay.service kaillera-master.service
for unit in kaillera-master kaillera-relay; do
  [ "$(in_sd systemctl show -P Result "$unit")" = success ] ||
    kf_fail "$unit: Result=$(in_sd systemctl show -P Result "$unit") after stop: \
$(in_sd journalctl -u "$unit" --no-pager | tail -20)"
done
if in_sd journalctl --no-pager | grep -E 'kaillera.*(Operation not permitted|Permission denied|SIGSYS)'; then
  kf_fail "the hardened services hit a denied operation (above)"
fi
kf_log "ok   systemd: both units start as kaillera (seccomp, no new privileges), the relay registers," \
  "answers PING, reloads on SIGHUP, and both stop with Result=success"
kf_log "test-container: passed"
